import type { Registry } from 'prom-client';
import { RateLimitedLog, type Logger } from '../log.js';
import { counter, hotCounter } from '../ops/metrics.js';
import type { LinePipeline } from './pipeline.js';
import type { ReceivedMessage } from './pipeline-records.js';
import type { Tick } from './tick.js';

/**
 * Messages committed in one transaction at most: about 25 ms of work on a VPN-only stream here
 * (~50 us a line), so a line waits at most that long behind a burst.
 */
export const MAX_TICK_MESSAGES = 512;

/**
 * While the state file cannot be written, messages wait in memory to be committed once it can:
 * TCP/TLS ones all (the listeners are paused, so few arrive: what was in hand when the failure
 * came), UDP ones up to this many; later UDP datagrams are counted as lost.
 */
export const MAX_HELD_UDP_MESSAGES = 50_000;

/** Devices whose last line readiness reports, at most. */
const MAX_DEVICES_TRACKED = 4096;

/** Retries of a failing state file: after 1 s, doubling up to 10 s. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 10_000;

/** What the intake tells its owner about the state file (bridge.ts pauses listeners, health reads it). */
export interface StateTrouble {
  /** The file failed a commit (`since`, the error) or works again (undefined). */
  onChange(trouble: { since: number; error: string; code?: string } | undefined): void;
  /** Frees what the file can free before a retry (a WAL checkpoint). May throw. */
  relieve?(): void;
}

/**
 * The live bridge's middle: received messages -> pipeline -> `tick` (session table -> sink).
 * Messages that arrive in one event-loop turn are handled together in one tick (one transaction), so a burst of a thousand
 * lines costs one commit, and a session change and the event it queued commit together (or not
 * at all). The pending list holds at most one turn's reads, so memory stays bounded.
 */
export class Intake {
  #pipeline: LinePipeline;
  readonly #tick: Tick;
  readonly #log: Logger;
  readonly #rateLog: RateLimitedLog;
  readonly #outcomes;
  readonly #failures;
  readonly #rejected;
  readonly #lost;
  readonly #trouble: StateTrouble | undefined;
  #pending: ReceivedMessage[] = [];
  #scheduled = false;
  /** The last VPN line per device (receipt time), for readiness; bounded (hosts are sender-chosen). */
  readonly #lastLineAt = new Map<string, number>();
  /** Set while the state file fails: the messages waiting for it, in arrival order. */
  #held: { messages: ReceivedMessage[]; udp: number; since: number; retryMs: number; timer: NodeJS.Timeout | undefined } | undefined;

  constructor(options: { pipeline: LinePipeline; tick: Tick; log: Logger; registry: Registry; trouble?: StateTrouble }) {
    this.#trouble = options.trouble;
    this.#pipeline = options.pipeline;
    this.#tick = options.tick;
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
    this.#lost = counter(options.registry, 'ptim_bridge_intake_lost_total', 'Messages lost because the state file could not be written (UDP beyond what is held), by transport', ['transport']);
  }

  /**
   * Judges later messages with another pipeline (a reload: patterns, devices, VPN domains). Messages
   * already pending are judged by the new one too; none is lost or judged twice.
   */
  usePipeline(pipeline: LinePipeline): void {
    this.#pipeline = pipeline;
  }

  /** The last VPN line (a candidate) per device, receipt time. */
  get lastLineAt(): ReadonlyMap<string, number> {
    return this.#lastLineAt;
  }

  /** True while the state file fails and messages wait in memory for it. */
  get stateFailing(): boolean {
    return this.#held !== undefined;
  }

  /**
   * For startListeners' onMessage. Synchronous; never throws. A turn's messages commit together
   * after the turn, or in slices of MAX_TICK_MESSAGES as they come: a catch-up burst (a relay
   * emptying its queue after a restart) is read in one turn, and committing it whole would hold
   * every line of it uncommitted, and exposed to a crash, until the last was parsed.
   */
  readonly onMessage = (msg: ReceivedMessage): void => {
    this.#pending.push(msg);
    if (this.#pending.length >= MAX_TICK_MESSAGES) {
      this.flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  };

  /**
   * Handles everything received so far in one transaction. Never throws. When the state file
   * cannot be written (disk full, I/O error), nothing is dropped: the messages are held, the owner
   * is told (it pauses TCP/TLS reading and reports unhealthy), and the commit is retried until it
   * succeeds; see MAX_HELD_UDP_MESSAGES for the one bound.
   */
  flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    if (this.#held !== undefined) {
      this.#hold(batch);
      return;
    }
    const error = this.#commit(batch);
    if (error === undefined) return;
    if (!isStateError(error)) {
      // Not the file: a bug. Holding would retry it forever, so the tick is dropped, loudly.
      this.#failures.inc(batch.length);
      this.#log.error({ err: { message: (error as Error).message }, messages: batch.length }, 'could not handle received messages (a bug, please report it); they are lost');
      return;
    }
    const code = (error as NodeJS.ErrnoException).code;
    this.#held = { messages: [], udp: 0, since: Date.now(), retryMs: RETRY_FIRST_MS, timer: undefined };
    this.#hold(batch);
    this.#log.error(
      { event: 'state-unwritable', err: { message: (error as Error).message, code }, held: batch.length },
      'the state file cannot be written (disk full or I/O error): TCP/TLS senders are paused and received messages are held until it can; free space on its disk (see `sessions.state`) and the bridge resumes by itself',
    );
    this.#trouble?.onChange({ since: this.#held.since, error: (error as Error).message, ...(code === undefined ? {} : { code }) });
    this.#scheduleRetry();
  }

  /** Commits one batch as one tick; the error when its transaction rolled back. */
  #commit(batch: readonly ReceivedMessage[]): unknown {
    try {
      this.#tick.run(() => {
        for (const msg of batch) this.#handle(msg);
      });
    } catch (error) {
      return error;
    }
    return undefined;
  }

  #hold(batch: readonly ReceivedMessage[]): void {
    const held = this.#held!;
    for (const msg of batch) {
      if (msg.transport === 'udp') {
        if (held.udp >= MAX_HELD_UDP_MESSAGES) {
          this.#lost.inc({ transport: 'udp' });
          this.#rateLog.warn('state-unwritable-udp-lost', { sender: msg.sender }, 'a UDP datagram was lost: the state file cannot be written and the held messages reached their bound');
          continue;
        }
        held.udp++;
      }
      held.messages.push(msg);
    }
  }

  #scheduleRetry(): void {
    const held = this.#held!;
    held.timer = setTimeout(() => this.#retry(), held.retryMs);
    held.timer.unref?.();
    held.retryMs = Math.min(RETRY_MAX_MS, held.retryMs * 2);
  }

  #retry(): void {
    const held = this.#held;
    if (held === undefined) return;
    held.timer = undefined;
    try {
      this.#trouble?.relieve?.();
    } catch {
      // Still failing: the commit below says so.
    }
    // In slices, in arrival order: each slice that commits is no longer held.
    while (held.messages.length > 0) {
      const slice = held.messages.slice(0, MAX_TICK_MESSAGES);
      if (this.#commit(slice) !== undefined) {
        this.#scheduleRetry();
        return;
      }
      held.messages.splice(0, slice.length);
      held.udp = held.messages.reduce((n, m) => n + (m.transport === 'udp' ? 1 : 0), 0);
    }
    this.#held = undefined;
    this.#log.info({ event: 'state-writable', seconds: Math.round((Date.now() - held.since) / 1000) }, 'the state file can be written again: held messages committed, TCP/TLS senders resumed');
    this.#trouble?.onChange(undefined);
    this.flush();
  }

  /** Stops retrying (shutdown). Messages still held are counted as failed and logged. */
  stop(): void {
    const held = this.#held;
    if (held === undefined) return;
    if (held.timer !== undefined) clearTimeout(held.timer);
    // One last try: space may have come back just now.
    this.#retry();
    if (this.#held === undefined) return;
    clearTimeout(this.#held.timer);
    this.#failures.inc(this.#held.messages.length);
    this.#log.error({ messages: this.#held.messages.length }, 'stopping while the state file cannot be written: the held messages are lost');
    this.#held = undefined;
  }

  #handle(msg: ReceivedMessage): void {
    const outcome = this.#pipeline.process(msg);
    switch (outcome.kind) {
      case 'candidate': {
        this.#outcomes.candidate();
        const device = outcome.candidate.device;
        if (!this.#lastLineAt.has(device) && this.#lastLineAt.size >= MAX_DEVICES_TRACKED) this.#lastLineAt.delete(this.#lastLineAt.keys().next().value!);
        this.#lastLineAt.set(device, msg.receivedAt);
        this.#tick.apply(outcome.candidate, msg.receivedAt);
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

/** An error of the state file itself (SQLite: full, I/O, read-only, locked...), not of the code. */
function isStateError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}
