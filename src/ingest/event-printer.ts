import type { Registry } from 'prom-client';
import type { PtimState } from '../events/ptim-event.js';
import { toEvent } from '../events/ptim-event.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { counter } from '../ops/metrics.js';
import type { LinePipeline } from '../pipeline.js';
import type { ReceivedMessage } from '../pipeline-records.js';
import type { Writable } from 'node:stream';
import { NdjsonWriter } from '../replay/ndjson-writer.js';

/** Outcome counts since start (also exported as `ptim_bridge_lines_total{outcome}`). */
export interface PrinterCounts {
  messages: number;
  events: number;
  /** Events not printed because the reader of stdout fell too far behind. */
  outputDropped: number;
  skipped: number;
  nearMisses: number;
}

/**
 * The sink of `run --dry-run`: each received message goes through the pipeline and each candidate
 * is printed as one PTIM event (up -> connect, down -> disconnect; without a session table there
 * is no rekey). Output is written once per event-loop turn, so a burst costs one write.
 *
 * When a write has to wait for 'drain' the printer calls `onCongestion(true)` (run pauses the TCP/TLS
 * connections, so senders are slowed by TCP itself) and `onCongestion(false)` once all is written.
 * UDP cannot be paused: as a last resort at most `maxBacklog` events are held while the output is
 * blocked, and further ones are dropped, counted and logged, so memory stays bounded.
 */
export class EventPrinter {
  readonly #pipeline: LinePipeline;
  readonly #out: NdjsonWriter;
  readonly #stream: Writable;
  readonly #onCongestion: ((congested: boolean) => void) | undefined;
  #congested = false;
  readonly #rateLog: RateLimitedLog;
  readonly #outcomes;
  readonly #maxBacklog: number;
  #scheduled = false;
  #dirty = false;
  #backlog = 0;
  #writing: Promise<void> | undefined;
  readonly counts: PrinterCounts = { messages: 0, events: 0, outputDropped: 0, skipped: 0, nearMisses: 0 };

  constructor(options: {
    pipeline: LinePipeline;
    /** Where the NDJSON goes (process.stdout). */
    out: Writable;
    log: Logger;
    registry: Registry;
    onCongestion?: (congested: boolean) => void;
    maxBacklog?: number;
  }) {
    this.#pipeline = options.pipeline;
    this.#stream = options.out;
    this.#out = new NdjsonWriter(options.out);
    this.#onCongestion = options.onCongestion;
    this.#maxBacklog = options.maxBacklog ?? 200_000;
    this.#rateLog = new RateLimitedLog(options.log);
    const lines = counter(options.registry, 'ptim_bridge_lines_total', 'Received messages by pipeline outcome', ['outcome']);
    this.#outcomes = {
      candidate: lines.labels({ outcome: 'candidate' }),
      skipped: lines.labels({ outcome: 'skipped' }),
      nearMiss: lines.labels({ outcome: 'near-miss' }),
      noise: lines.labels({ outcome: 'noise' }),
      outputDropped: lines.labels({ outcome: 'output-dropped' }),
    };
  }

  /** For startListeners' onMessage. Synchronous; never throws. */
  readonly onMessage = (msg: ReceivedMessage): void => {
    this.counts.messages++;
    const outcome = this.#pipeline.process(msg);
    switch (outcome.kind) {
      case 'candidate': {
        this.#outcomes.candidate.inc();
        if (this.#backlog >= this.#maxBacklog) {
          this.counts.outputDropped++;
          this.#outcomes.outputDropped.inc();
          this.#rateLog.warn('output-backlog', { backlog: this.#backlog }, 'stdout is not being read fast enough: event dropped');
          break;
        }
        const state: PtimState = outcome.candidate.line === 'up' ? 'connect' : 'disconnect';
        this.#out.write(toEvent(outcome.candidate, state));
        this.#backlog++;
        this.counts.events++;
        this.#schedule();
        break;
      }
      case 'skipped':
        this.counts.skipped++;
        this.#outcomes.skipped.inc();
        break;
      case 'near-miss':
        this.counts.nearMisses++;
        this.#outcomes.nearMiss.inc();
        // Untrusted text goes under `input`, cut short: a log line must not carry a flood.
        this.#rateLog.warn('near-miss', { sender: msg.sender, input: outcome.text.slice(0, 300) }, 'a line looks like a VPN up/down event but no pattern matched it');
        break;
      case 'noise':
        this.#outcomes.noise.inc();
        break;
      default:
        outcome satisfies never;
    }
  };

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
