import type { Registry } from 'prom-client';
import type { PtimState } from '../events/ptim-event.js';
import { toEvent } from '../events/ptim-event.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { counter } from '../ops/metrics.js';
import type { LinePipeline } from '../pipeline.js';
import type { ReceivedMessage } from '../pipeline-records.js';
import type { NdjsonWriter } from '../replay/ndjson-writer.js';

/** Outcome counts since start (also exported as `ptim_bridge_lines_total{outcome}`). */
export interface PrinterCounts {
  messages: number;
  events: number;
  skipped: number;
  nearMisses: number;
}

/**
 * The sink of `run --dry-run`: each received message goes through the pipeline and each candidate
 * is printed as one PTIM event (up -> connect, down -> disconnect; without a session table there
 * is no rekey). Output is written once per event-loop turn, so a burst costs one write.
 */
export class EventPrinter {
  readonly #pipeline: LinePipeline;
  readonly #out: NdjsonWriter;
  readonly #rateLog: RateLimitedLog;
  readonly #outcomes;
  #scheduled = false;
  #writing: Promise<void> = Promise.resolve();
  readonly counts: PrinterCounts = { messages: 0, events: 0, skipped: 0, nearMisses: 0 };

  constructor(options: { pipeline: LinePipeline; out: NdjsonWriter; log: Logger; registry: Registry }) {
    this.#pipeline = options.pipeline;
    this.#out = options.out;
    this.#rateLog = new RateLimitedLog(options.log);
    const lines = counter(options.registry, 'ptim_bridge_lines_total', 'Received messages by pipeline outcome', ['outcome']);
    this.#outcomes = {
      candidate: lines.labels({ outcome: 'candidate' }),
      skipped: lines.labels({ outcome: 'skipped' }),
      nearMiss: lines.labels({ outcome: 'near-miss' }),
      noise: lines.labels({ outcome: 'noise' }),
    };
  }

  /** For startListeners' onMessage. Synchronous; never throws. */
  readonly onMessage = (msg: ReceivedMessage): void => {
    this.counts.messages++;
    const outcome = this.#pipeline.process(msg);
    switch (outcome.kind) {
      case 'candidate': {
        const state: PtimState = outcome.candidate.line === 'up' ? 'connect' : 'disconnect';
        this.#out.write(toEvent(outcome.candidate, state));
        this.counts.events++;
        this.#outcomes.candidate.inc();
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
    await this.#writing;
    this.#writing = this.#out.flush(true);
    await this.#writing;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#writing = this.#writing.then(() => this.#out.flush(true));
    });
  }
}
