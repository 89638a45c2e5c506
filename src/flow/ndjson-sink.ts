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
  // The arrays the table returned, not copies: a queued event costs no allocation of its own.
  #queued: Array<readonly PtimEvent[]> = [];

  constructor(out: Writable, options: { chunkChars?: number } = {}) {
    this.#out = new NdjsonWriter(out, options);
  }

  queue(events: readonly PtimEvent[]): void {
    this.#queued.push(events);
  }

  committed(): void {
    for (const events of this.#queued) for (const event of events) this.#out.write(event);
    this.#queued = [];
  }

  discard(): void {
    this.#queued = [];
  }

  flush(force = false): Promise<void> {
    return this.#out.flush(force);
  }

  get closed(): boolean {
    return this.#out.closed;
  }
}
