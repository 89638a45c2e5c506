/**
 * What the simulator received: every accepted event in arrival order (up to a limit, so a
 * million-event drain does not exhaust memory) and how many times each event id arrived, which is
 * how tests prove "duplicates allowed, none lost".
 */

export interface ReceivedEvent {
  /** The event as posted (a JSON object with at least an `id`). */
  event: { id: string } & Record<string, unknown>;
  /** Wall-clock receipt, ms since the epoch. */
  receivedAt: number;
}

export interface EventLogSummary {
  /** Events received, duplicates included. */
  received: number;
  /** Distinct event ids. */
  unique: number;
  /** received - unique. */
  duplicates: number;
  /** Event ids that arrived more than once, with their count. */
  duplicateIds: Record<string, number>;
  /** Events not kept in `events` because the limit was reached (they are still counted). */
  notKept: number;
  events: ReceivedEvent[];
}

export class EventLog {
  readonly #maxKept: number;
  readonly #events: ReceivedEvent[] = [];
  readonly #counts = new Map<string, number>();
  #received = 0;
  #notKept = 0;

  constructor(maxKept = 100_000) {
    this.#maxKept = maxKept;
  }

  add(event: { id: string } & Record<string, unknown>, receivedAt: number): void {
    this.#received++;
    this.#counts.set(event.id, (this.#counts.get(event.id) ?? 0) + 1);
    if (this.#events.length < this.#maxKept) this.#events.push({ event, receivedAt });
    else this.#notKept++;
  }

  summary(): EventLogSummary {
    const duplicateIds: Record<string, number> = {};
    for (const [id, n] of this.#counts) if (n > 1) duplicateIds[id] = n;
    return {
      received: this.#received,
      unique: this.#counts.size,
      duplicates: this.#received - this.#counts.size,
      duplicateIds,
      notKept: this.#notKept,
      events: [...this.#events],
    };
  }
}
