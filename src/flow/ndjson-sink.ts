import type { Writable } from 'node:stream';
import type { PtimEvent } from '../events/ptim-event.js';
import type { EventSink } from './event-sink.js';
import { NdjsonWriter } from './ndjson-writer.js';

/**
 * The sink of `replay --dry-run`: committed events as NDJSON, in chunks of about 64 KiB. Replay
 * paces itself on `flush` (it awaits it between reads), so nothing is held beyond a read's events
 * and nothing is dropped; `closed` says the reader went away (`| head`).
 */
export class NdjsonSink implements EventSink {
  readonly #out: NdjsonWriter;
  /**
   * Where the writer's text stood before this tick's first event, while the tick is open. Events
   * are encoded as they are queued, not kept for the commit: kept, a read chunk's worth of them
   * would outlive the young generation and cost the collector more than encoding them did.
   */
  #tickStart: number | undefined;

  constructor(out: Writable, options: { chunkBytes?: number } = {}) {
    this.#out = new NdjsonWriter(out, options);
  }

  queue(events: readonly PtimEvent[]): void {
    this.#tickStart ??= this.#out.mark();
    for (const event of events) this.#out.write(event);
  }

  committed(): void {
    this.#tickStart = undefined;
  }

  discard(): void {
    if (this.#tickStart !== undefined) this.#out.rewind(this.#tickStart);
    this.#tickStart = undefined;
  }

  /** Hands committed events on; while a tick is open nothing is (its events may yet be discarded). */
  flush(force = false): Promise<void> {
    if (this.#tickStart !== undefined) return Promise.resolve();
    return this.#out.flush(force);
  }

  get closed(): boolean {
    return this.#out.closed;
  }
}
