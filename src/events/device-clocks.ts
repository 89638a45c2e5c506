/**
 * The capture clock of each device (replay): the latest line time seen from it; it never goes
 * back. A compaction writes them all to `session_clocks` (one row per device).
 */
export class DeviceClocks {
  readonly #clocks = new Map<string, number>();

  get(device: string): number | undefined {
    return this.#clocks.get(device);
  }

  /** Sets the device's clock to `at` (the caller has checked that it moves forward, or reads it back). */
  move(device: string, at: number): void {
    this.#clocks.set(device, at);
  }

  /** Moves the device's clock to `at` if that is later (a journal entry read back). */
  raise(device: string, at: number): void {
    if (!(at <= (this.#clocks.get(device) ?? -Infinity))) this.move(device, at);
  }

  clear(): void {
    this.#clocks.clear();
  }

  /** Every device's clock (a live view, not a copy). */
  get all(): ReadonlyMap<string, number> {
    return this.#clocks;
  }
}
