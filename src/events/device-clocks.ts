/**
 * The capture clock of each device (replay): the latest line time seen from it; it never goes
 * back. Remembers which devices moved since the clocks were last saved, so a compaction writes only
 * those rows of `session_clocks`.
 */
export class DeviceClocks {
  readonly #clocks = new Map<string, number>();
  readonly #moved = new Set<string>();

  get(device: string): number | undefined {
    return this.#clocks.get(device);
  }

  /** Sets the device's clock to `at` (the caller has checked that it moves forward). */
  move(device: string, at: number): void {
    this.#clocks.set(device, at);
    this.#moved.add(device);
  }

  /** Moves the device's clock to `at` if that is later (a journal entry read back). */
  raise(device: string, at: number): void {
    if (!(at <= (this.#clocks.get(device) ?? -Infinity))) this.move(device, at);
  }

  /** A clock as saved (read from `session_clocks`): not counted as moved. */
  restore(device: string, at: number): void {
    this.#clocks.set(device, at);
  }

  /** The devices whose clock moved since `saved()`, with their clock. */
  *moved(): Generator<[device: string, clock: number]> {
    for (const device of this.#moved) yield [device, this.#clocks.get(device)!];
  }

  saved(): void {
    this.#moved.clear();
  }

  clear(): void {
    this.#clocks.clear();
    this.#moved.clear();
  }

  /** Every device's clock (a live view, not a copy). */
  get all(): ReadonlyMap<string, number> {
    return this.#clocks;
  }
}
