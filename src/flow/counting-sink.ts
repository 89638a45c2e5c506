import type { PtimEvent } from '../events/ptim-event.js';
import type { EventSink } from './event-sink.js';

/**
 * A sink that only counts what was committed (pattern coverage: the rules' figures matter, the
 * events themselves are never encoded).
 */
export class CountingSink implements EventSink {
  #queued = 0;
  /** Events committed. */
  readonly counts = { events: 0 };

  queue(events: readonly PtimEvent[]): void {
    this.#queued += events.length;
  }

  committed(): void {
    this.counts.events += this.#queued;
    this.#queued = 0;
  }

  discard(): void {
    this.#queued = 0;
  }
}
