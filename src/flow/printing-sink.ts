import type { Writable } from 'node:stream';
import type { Registry } from 'prom-client';
import type { PtimEvent } from '../events/ptim-event.js';
import type { EventSink } from './event-sink.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { counter } from '../ops/metrics.js';
import { NdjsonWriter } from './ndjson-writer.js';

/**
 * The sink of `run --dry-run`: committed events as NDJSON, written once per event-loop turn, so a
 * burst costs one write.
 *
 * When a write has to wait for 'drain' the sink calls `onCongestion(true)` (run pauses the TCP/TLS
 * connections, so senders are slowed by TCP itself) and `onCongestion(false)` once all is written.
 * UDP cannot be paused: as a last resort at most `maxBacklog` events are held while the output is
 * blocked, and further ones are dropped, counted and logged, so memory stays bounded. (Only a dry
 * run prints; the delivering bridge queues on disk and drops nothing.)
 */
export class PrintingSink implements EventSink {
  readonly #out: NdjsonWriter;
  readonly #stream: Writable;
  readonly #onCongestion: ((congested: boolean) => void) | undefined;
  readonly #rateLog: RateLimitedLog;
  readonly #dropped;
  readonly #maxBacklog: number;
  #queued: PtimEvent[] = [];
  #congested = false;
  #scheduled = false;
  #dirty = false;
  #backlog = 0;
  #writing: Promise<void> | undefined;
  /** Events printed, and events dropped because the reader of stdout fell too far behind. */
  readonly counts = { events: 0, outputDropped: 0 };

  constructor(options: {
    /** Where the NDJSON goes (process.stdout). */
    out: Writable;
    log: Logger;
    registry: Registry;
    onCongestion?: (congested: boolean) => void;
    maxBacklog?: number;
  }) {
    this.#stream = options.out;
    this.#out = new NdjsonWriter(options.out);
    this.#onCongestion = options.onCongestion;
    this.#maxBacklog = options.maxBacklog ?? 200_000;
    this.#rateLog = new RateLimitedLog(options.log);
    this.#dropped = counter(options.registry, 'ptim_bridge_output_dropped_total', 'Dry-run events not printed because stdout was not read fast enough');
  }

  queue(events: readonly PtimEvent[]): void {
    this.#queued.push(...events);
  }

  discard(): void {
    this.#queued = [];
  }

  committed(): void {
    for (const event of this.#queued) {
      if (this.#backlog >= this.#maxBacklog) {
        this.counts.outputDropped++;
        this.#dropped.inc();
        this.#rateLog.warn('output-backlog', { backlog: this.#backlog }, 'stdout is not being read fast enough: event dropped');
        continue;
      }
      this.#out.write(event);
      this.#backlog++;
      this.counts.events++;
    }
    this.#queued = [];
    this.#schedule();
  }

  /** Resolves when every event printed so far has been handed to the output stream. */
  async flushed(): Promise<void> {
    while (this.#writing) await this.#writing;
    this.#backlog = 0;
    await this.#out.flush(true);
  }

  #schedule(): void {
    if (this.#writing) {
      // A write is waiting for 'drain'; the loop in #drain picks these events up after it.
      this.#dirty = true;
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    try {
      do {
        this.#dirty = false;
        this.#backlog = 0;
        const written = this.#out.flush(true);
        if (this.#stream.writableNeedDrain) this.#setCongested(true);
        await written;
      } while (this.#dirty);
    } finally {
      this.#writing = undefined;
      this.#setCongested(false);
    }
  }

  #setCongested(congested: boolean): void {
    if (this.#congested === congested) return;
    this.#congested = congested;
    this.#onCongestion?.(congested);
  }
}
