import type { Registry } from 'prom-client';
import type { PtimEvent } from './events/ptim-event.js';
import type { SessionTable } from './events/sessions.js';
import { RateLimitedLog, type Logger } from './log.js';
import { counter, hotCounter } from './ops/metrics.js';
import type { LinePipeline } from './pipeline.js';
import type { ReceivedMessage } from './pipeline-records.js';

/** Where a tick's events go: queued inside its transaction, released after the commit. */
export interface EventSink {
  queue(events: readonly PtimEvent[], receivedAt: number): void;
  committed(): void;
  /** The transaction rolled back: forget what it queued (a sink that queues in the database need not act). */
  discard?(): void;
}

/**
 * The live bridge's middle: received messages -> pipeline -> session table -> sink. Messages that
 * arrive in one event-loop turn are handled together in one transaction, so a burst of a thousand
 * lines costs one commit, and a session change and the event it queued commit together (or not
 * at all). The pending list holds at most one turn's reads, so memory stays bounded.
 */
export class Intake {
  readonly #pipeline: LinePipeline;
  readonly #sessions: SessionTable;
  readonly #sink: EventSink;
  readonly #log: Logger;
  readonly #rateLog: RateLimitedLog;
  readonly #outcomes;
  readonly #failures;
  readonly #rejected;
  #pending: ReceivedMessage[] = [];
  #scheduled = false;

  constructor(options: { pipeline: LinePipeline; sessions: SessionTable; sink: EventSink; log: Logger; registry: Registry }) {
    this.#pipeline = options.pipeline;
    this.#sessions = options.sessions;
    this.#sink = options.sink;
    this.#log = options.log.child({ module: 'intake' });
    this.#rateLog = new RateLimitedLog(this.#log);
    const lines = hotCounter(counter(options.registry, 'ptim_bridge_lines_total', 'Received messages by pipeline outcome', ['outcome']), 'outcome');
    this.#outcomes = {
      candidate: () => lines('candidate'),
      skipped: () => lines('skipped'),
      rejected: () => lines('rejected'),
      nearMiss: () => lines('near-miss'),
      noise: () => lines('noise'),
    };
    this.#rejected = counter(options.registry, 'ptim_bridge_lines_rejected_total', 'Lines a rule matched but that were refused (could forge or move a mapping), by reason', ['reason']);
    this.#failures = counter(options.registry, 'ptim_bridge_intake_failed_total', 'Messages whose tick could not be committed to the state file (logged)');
  }

  /** For startListeners' onMessage. Synchronous; never throws. */
  readonly onMessage = (msg: ReceivedMessage): void => {
    this.#pending.push(msg);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  };

  /** Handles everything received so far in one transaction. Never throws (failures are logged and counted). */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    try {
      this.#sessions.transaction(() => {
        for (const msg of batch) this.#handle(msg);
      });
    } catch (error) {
      // The state file failed (disk full, I/O error): the tick rolled back as a whole.
      this.#sink.discard?.();
      this.#failures.inc(batch.length);
      this.#log.error({ err: { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code }, messages: batch.length }, 'could not commit received messages to the state file; they are lost: check the disk');
      return;
    }
    this.#sink.committed();
  }

  #handle(msg: ReceivedMessage): void {
    const outcome = this.#pipeline.process(msg);
    switch (outcome.kind) {
      case 'candidate': {
        this.#outcomes.candidate();
        const events = this.#sessions.apply(outcome.candidate, msg.receivedAt);
        if (events.length > 0) this.#sink.queue(events, msg.receivedAt);
        break;
      }
      case 'skipped':
        this.#outcomes.skipped();
        break;
      case 'rejected':
        this.#outcomes.rejected();
        this.#rejected.inc({ reason: outcome.reason });
        // A refused line is what an attack looks like: logged (rate-limited) with who sent it.
        this.#rateLog.warn(`rejected-${outcome.reason}`, { sender: msg.sender, transport: msg.transport, reason: outcome.reason, rule: outcome.ruleId, input: outcome.text.slice(0, 300) }, 'a VPN alarm was refused: it could forge or move an identity mapping (see reason)');
        break;
      case 'near-miss':
        this.#outcomes.nearMiss();
        // Untrusted text under `input`, cut short: a log line must not carry a flood.
        this.#rateLog.warn('near-miss', { sender: msg.sender, input: outcome.text.slice(0, 300) }, 'a line looks like a VPN up/down event but no pattern matched it (tune with `ptim-bridge patterns test`)');
        break;
      case 'noise':
        this.#outcomes.noise();
        break;
      default:
        outcome satisfies never;
    }
  }
}
