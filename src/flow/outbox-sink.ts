import type { Delivery } from '../delivery/delivery.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { StateDb } from '../state-db.js';
import type { EventSink } from './event-sink.js';

/**
 * The sink of a delivering replay: its session table is kept in memory, apart from the live one,
 * so the outbox (in the state file `db`) cannot share the tick's transaction. What a tick queued is added to the
 * outbox in one transaction of `db` once the tick committed, then the forwarder is woken. (Live,
 * the table and the outbox share one file and the delivery itself is the sink.)
 */
export class OutboxSink implements EventSink {
  readonly #delivery: Delivery;
  readonly #commit: (events: readonly PtimEvent[]) => void;
  #queued: PtimEvent[] = [];

  constructor(db: StateDb, delivery: Delivery) {
    this.#delivery = delivery;
    this.#commit = db.transaction((events: readonly PtimEvent[]) => {
      delivery.queue(events, Date.now());
      delivery.beforeCommit();
    });
  }

  queue(events: readonly PtimEvent[]): void {
    for (const event of events) this.#queued.push(event);
  }

  /**
   * @throws the outbox's error (a full disk): what this tick queued is then lost to the outbox,
   *   and `Tick.run` rethrows it (replay stops with it).
   */
  committed(): void {
    const events = this.#queued;
    if (events.length === 0) return;
    this.#queued = [];
    try {
      this.#commit(events);
    } catch (error) {
      this.#delivery.discard();
      throw error;
    }
    this.#delivery.committed();
  }

  discard(): void {
    this.#queued = [];
  }
}

