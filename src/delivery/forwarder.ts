import PQueue from 'p-queue';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { counter, histogram } from '../ops/metrics.js';
import { redactSecrets } from '../redact.js';
import type { JimsClient, PushOutcome } from './jims-client.js';
import { bisectRefused, poison, type BisectResult, type PartOutcome } from './bisect.js';
import { OrderingWindow } from './ordering-window.js';
import type { Outbox, OutboxRow } from './outbox.js';
import { retryDelay } from './retry.js';

export interface ForwarderOptions {
  outbox: Outbox;
  client: JimsClient;
  jims: Config['jims'];
  log: Logger;
  registry: Registry;
  /** Rows read ahead of the batches; default max(1000, batchSize x 2 x concurrency). Tests make it small. */
  readAhead?: number;
  /** A push of these rows failed and will be retried (statistics, tap). Must not throw. */
  onRetry?: (rows: readonly OutboxRow[], detail: { batchId: string; status?: number; reason: string; attempt: number }) => void;
}

interface Batch {
  id: string;
  /** The rows to push (fewer than claimed once held-back rows were settled without a push). */
  rows: OutboxRow[];
  /** Every row the batch claimed, released by #finish. */
  readonly claims: readonly OutboxRow[];
  /** Failed pushes so far. */
  attempt: number;
  timer?: NodeJS.Timeout;
}

/** How often the forwarder looks for rows another process put back (e.g. `dlq retry`). */
const POLL_MS = 1000;
/** Read-ahead windows one pump may read past when all their rows belong to busy IPs. */
const MAX_WINDOWS_PER_PUMP = 4;

/**
 * Moves events from the outbox to JIMS. Promises:
 * - Nothing is removed from the outbox before JIMS answered 2xx (or, for a 4xx other than
 *   408/429, before the batch is in the dead-letter table). `retry` outcomes are retried forever
 *   with `retryDelay` backoff; the rows stay on disk meanwhile, so a crash loses nothing.
 * - Order per client IP: an IP with an event in an unfinished batch (in flight or waiting for its
 *   retry) contributes no later event to another batch. Within a batch events keep seq order.
 *   Different IPs go in parallel, up to `jims.concurrency` pushes at once.
 * - Memory is bounded whatever the backlog: at most `window` rows are read ahead, plus the rows of
 *   at most 2 x concurrency unfinished batches.
 * - A window full of rows of busy IPs (one IP with many events, its batch waiting for a retry)
 *   does not hold back other IPs: those rows are let go (they stay on disk), reading goes on past
 *   them, and when such an IP's batch finishes, reading starts again at its first let-go row,
 *   before any later row of it can be taken.
 */
export class Forwarder {
  readonly #outbox: Outbox;
  readonly #client: JimsClient;
  readonly #jims: Config['jims'];
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  readonly #queue: PQueue;
  readonly #window: number;
  readonly #maxOutstanding: number;
  readonly #metrics;
  readonly #onRetry: ForwarderOptions['onRetry'];

  /** Read ahead, not yet in a batch, seq order. */
  #pending: OutboxRow[] = [];
  /** Highest seq read so far; the next read continues after it. */
  #cursor = 0;
  /** True when the last read reached the end of the table. */
  #atEnd = false;
  readonly #outstanding = new Set<Batch>();
  /** Per-IP order: busy IPs, let-go rows, IPs whose later events are held back. */
  readonly #order = new OrderingWindow();
  #running = false;
  #pumping = false;
  #pumpAgain = false;
  #rescan = false;
  #jimsHealth: { failingSince?: number; lastError?: string; lastDeliveredAt?: number } = {};
  #lingerTimer: NodeJS.Timeout | undefined;
  #lingerDue = 0;
  #pollTimer: NodeJS.Timeout | undefined;
  #batchCount = 0;
  #deadLettered = 0;
  #delivered = 0;
  #waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(options: ForwarderOptions) {
    this.#outbox = options.outbox;
    this.#client = options.client;
    this.#jims = options.jims;
    this.#log = options.log.child({ module: 'delivery/forwarder' });
    this.#limited = new RateLimitedLog(this.#log);
    this.#onRetry = options.onRetry;
    this.#queue = new PQueue({ concurrency: options.jims.concurrency });
    this.#maxOutstanding = options.jims.concurrency * 2;
    this.#window = Math.max(1, options.readAhead ?? Math.max(1000, options.jims.batchSize * this.#maxOutstanding));
    const r = options.registry;
    this.#metrics = {
      delivered: counter(r, 'ptim_bridge_forwarder_delivered_total', 'Events JIMS accepted (2xx)'),
      batches: counter(r, 'ptim_bridge_forwarder_batches_total', 'Pushes by outcome', ['outcome']),
      retried: counter(r, 'ptim_bridge_forwarder_retried_total', 'Batches retried, by reason (HTTP status or "network")', ['reason']),
      deadLettered: counter(r, 'ptim_bridge_forwarder_dead_lettered_total', 'Events moved to the dead-letter table (JIMS 4xx)'),
      errors: counter(r, 'ptim_bridge_forwarder_errors_total', 'Forwarder failures that were recovered from', ['reason']),
      latency: histogram(r, 'ptim_bridge_delivery_latency_seconds', 'Receipt of the line to JIMS 2xx', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]),
    };
  }

  /** Starts delivering what is in the outbox. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Also a safety net for a caller that forgets notify(): look at the table's end again.
    this.#pollTimer = setInterval(() => this.notify(), POLL_MS);
    this.#pollTimer.unref();
    this.#pump();
  }

  /**
   * How JIMS answers lately, for readiness: since when pushes fail (undefined when the last one was
   * taken or refused: JIMS answered), why, and when JIMS last took a batch.
   */
  get jimsHealth(): { failingSince?: number; lastError?: string; lastDeliveredAt?: number } {
    return { ...this.#jimsHealth };
  }

  /** Events this forwarder moved to the dead-letter table since it was made (JIMS refused them). */
  get deadLettered(): number {
    return this.#deadLettered;
  }

  /** Events JIMS accepted from this forwarder since it was made. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Wake up: new rows were committed. Cheap; call once per committed tick. */
  notify(): void {
    this.#atEnd = false;
    this.#pump();
  }

  /**
   * Resolves when the outbox is empty and no batch is unfinished. Never resolves while JIMS keeps
   * failing; rejects with ERR_JIMS_UNAVAILABLE if `stop()` comes first.
   */
  drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#checkDrained();
    });
  }

  /**
   * Stops taking new batches, cancels waiting retries and waits for pushes in flight to finish
   * (their outcome is still recorded). Unsent rows stay in the outbox for the next start.
   */
  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    for (const b of this.#outstanding) clearTimeout(b.timer);
    this.#queue.clear();
    await this.#queue.onIdle();
    this.#outstanding.clear();
    this.#order.releaseAll();
    // A later start() reads from the start: nothing read now may count as seen (#atEnd included).
    this.#rescan = false;
    this.#readAllAgain();
    const waiters = this.#waiters;
    this.#waiters = [];
    if (waiters.length > 0) {
      const left = this.#outbox.backlog();
      const error = new BridgeError('ERR_JIMS_UNAVAILABLE', `Forwarder stopped with ${left} event(s) still in the outbox; they are sent on the next start.`);
      for (const w of waiters) w.reject(error);
    }
  }

  /** Forms and dispatches batches while there is room. Synchronous; re-entrant calls fold into one. */
  #pump(): void {
    if (!this.#running) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain && this.#running);
    } catch (error) {
      // A database error (disk full, locked past busy_timeout): nothing was removed; try again later.
      this.#metrics.errors.inc({ reason: 'outbox' });
      this.#limited.warn('outbox', { err: error }, 'Outbox read failed; retrying');
      this.#rescan = true;
    } finally {
      this.#pumping = false;
    }
    this.#checkDrained();
  }

  #pumpOnce(): void {
    if (this.#outbox.changedElsewhere()) {
      // Another process changed the table (e.g. `dlq retry` put rows back at their old seqs).
      this.#outbox.recount();
      this.#rescan = true;
    }
    if (this.#rescan) {
      this.#rescan = false;
      this.#readAllAgain();
    } else {
      // An IP with let-go rows is free again: its rows must be read before any later row of it.
      const resumeAfter = this.#order.takeResumePoint();
      if (resumeAfter !== undefined) this.#rewind(resumeAfter);
    }
    while (this.#outstanding.size < this.#maxOutstanding) {
      this.#refill();
      let rows = this.#form();
      // Bounded per pump (the next notify or poll goes on), so a long run of one IP's rows cannot
      // keep the event loop, which also serves the listeners, busy for long.
      for (let windows = 0; rows.length === 0 && this.#pending.length >= this.#window && windows < MAX_WINDOWS_PER_PUMP; windows++) {
        // Every row in the window belongs to a busy IP: let them go and read on.
        this.#order.letGo(this.#pending);
        this.#pending = [];
        this.#refill();
        rows = this.#form();
      }
      if (rows.length === 0) return;
      if (rows.length < this.#jims.batchSize && this.#jims.lingerMs > 0) {
        // Not full: wait for more rows, but never longer than lingerMs after the oldest arrived.
        const due = rows[0]!.receivedAt + this.#jims.lingerMs;
        if (due > Date.now()) {
          this.#scheduleLinger(due);
          return;
        }
      }
      this.#dispatch(rows);
    }
  }

  /** Forgets everything read (claims stay) and reads the table again from its start. */
  #readAllAgain(): void {
    this.#order.forgetReads();
    this.#pending = [];
    this.#cursor = 0;
    this.#atEnd = false;
  }

  /**
   * Reads again from after `seq`, keeping what the forwarder knows: every outbox row up to the
   * cursor is pending, claimed, or let go (and so found again when its IP frees up). Pending rows
   * at or before `seq` are kept, and the cursor never moves forward: a resume point can lie past
   * pending rows, or past the cursor after an earlier rewind, and dropping those rows or skipping
   * over unread ones would lose them until a rescan, while later rows of their IPs went first.
   */
  #rewind(seq: number): void {
    if (seq >= this.#cursor) return;
    this.#pending = this.#pending.filter((r) => r.seq <= seq);
    this.#cursor = seq;
    this.#atEnd = false;
  }

  #refill(): void {
    while (this.#pending.length < this.#window && !this.#atEnd) {
      const want = this.#window - this.#pending.length;
      const rows = this.#outbox.read(this.#cursor, want);
      if (rows.length < want) this.#atEnd = true;
      for (const row of rows) {
        this.#cursor = row.seq;
        if (!this.#order.isClaimed(row.seq)) this.#pending.push(row);
      }
      if (rows.length === 0) return;
    }
  }

  /** Picks the next batch from the read-ahead rows: in seq order, skipping every IP that is busy or was skipped. */
  #form(): OutboxRow[] {
    return this.#order.pick(this.#pending, this.#jims.batchSize);
  }

  #scheduleLinger(due: number): void {
    if (this.#lingerTimer && this.#lingerDue <= due) return;
    clearTimeout(this.#lingerTimer);
    this.#lingerDue = due;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#pump();
    }, Math.max(0, due - Date.now()));
  }

  #dispatch(rows: OutboxRow[]): void {
    const taken = new Set<number>();
    for (const row of rows) taken.add(row.seq);
    this.#order.claim(rows);
    this.#pending = this.#pending.filter((r) => !taken.has(r.seq));
    const batch: Batch = { id: `${process.pid.toString(36)}-${Date.now().toString(36)}-${(this.#batchCount++).toString(36)}`, rows, claims: rows, attempt: 0 };
    this.#outstanding.add(batch);
    this.#enqueue(batch);
  }

  #enqueue(batch: Batch): void {
    this.#queue.add(() => this.#send(batch)).catch((error: unknown) => {
      // #send handles its own failures; this is a last line so a bug cannot become an unhandled rejection.
      this.#metrics.errors.inc({ reason: 'internal' });
      this.#log.error({ err: error, batch: batch.id }, 'Forwarder internal error');
    });
  }

  async #send(batch: Batch): Promise<void> {
    if (batch.attempt === 0 && this.#order.holding) {
      const { push, held } = this.#order.holdBack(batch.rows);
      if (held.length > 0) {
        // Settled without a push: dead-lettered behind their IP's refused event, the rest pushed.
        this.#log.error({ batch: batch.id, held: held.map((p) => ({ seqs: p.rows.map((r) => r.seq) })) }, 'events held back: an earlier event of their IP was refused by JIMS; moved to the dead-letter table with it');
        this.#recordParts(batch, { delivered: [], refused: held, pushes: 0 }, 0, 0, push.length > 0);
        if (push.length === 0) return;
        batch.rows = push;
      }
    }
    let outcome: PushOutcome;
    try {
      outcome = await this.#client.push(batch.rows.map((r) => r.event));
    } catch (error) {
      outcome = { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
    }
    this.#metrics.batches.inc({ outcome: outcome.kind });
    this.#noteOutcome(outcome);
    switch (outcome.kind) {
      case 'rejected':
        if (batch.rows.length > 1) {
          await this.#bisect(batch, outcome);
          return;
        }
        // One event refused on its own: its IP's later events follow it to the dead letters, as a
        // bisected batch's would (a disconnect delivered without its connect misleads JIMS).
        poison(this.#order.poisoned, batch.rows[0]!.ip, { status: outcome.status, body: outcome.body, seq: batch.rows[0]!.seq });
        this.#record(batch, outcome);
        return;
      case 'delivered':
        this.#record(batch, outcome);
        return;
      case 'retry': {
        batch.attempt++;
        this.#metrics.retried.inc({ reason: outcome.status === undefined ? 'network' : String(outcome.status) });
        if (!this.#running) {
          this.#finish(batch);
          return;
        }
        // Counted here, after the stop check: a push cut by a stop is no retry (its rows wait for the next start).
        this.#onRetry?.(batch.rows, { batchId: batch.id, reason: redactSecrets(outcome.reason), attempt: batch.attempt, ...(outcome.status === undefined ? {} : { status: outcome.status }) });
        // retryDelay counts from 0 (the first retry).
        const delayMs = retryDelay(batch.attempt - 1, { minMs: this.#jims.retryMinDelayMs, maxMs: this.#jims.retryMaxDelayMs, retryAfterMs: outcome.retryAfterMs });
        this.#limited.warn('jims-retry', { batch: batch.id, events: batch.rows.length, attempt: batch.attempt, delayMs, status: outcome.status, why: redactSecrets(outcome.reason) }, 'JIMS did not take the batch; retrying');
        batch.timer = setTimeout(() => {
          batch.timer = undefined;
          if (this.#running) this.#enqueue(batch);
        }, delayMs);
        return;
      }
      default:
        outcome satisfies never;
    }
  }

  #noteOutcome(outcome: PushOutcome): void {
    if (outcome.kind === 'retry') {
      this.#jimsHealth.failingSince ??= Date.now();
      this.#jimsHealth.lastError = redactSecrets(outcome.status === undefined ? outcome.reason : `${outcome.status}: ${outcome.reason}`).slice(0, 300);
      return;
    }
    delete this.#jimsHealth.failingSince;
    if (outcome.kind === 'delivered') this.#jimsHealth.lastDeliveredAt = Date.now();
  }

  /**
   * A refused batch of several events: finds the refused ones by halving (bisect.ts), each part
   * retried like a batch while JIMS is unavailable, then records the delivered rows and one dead
   * letter per refused part. The batch stays unfinished (its IPs blocked) until all is recorded.
   */
  async #bisect(batch: Batch, first: Extract<PushOutcome, { kind: 'rejected' }>): Promise<void> {
    const pushPart = async (rows: OutboxRow[]): Promise<PartOutcome> => {
      for (let attempt = 0; ; attempt++) {
        if (!this.#running) return { kind: 'stopped' };
        let outcome: PushOutcome;
        try {
          outcome = await this.#client.push(rows.map((r) => r.event));
        } catch (error) {
          outcome = { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
        }
        this.#metrics.batches.inc({ outcome: outcome.kind });
        this.#noteOutcome(outcome);
        if (outcome.kind !== 'retry') return outcome.kind === 'delivered' ? { kind: 'delivered' } : { kind: 'rejected', status: outcome.status, body: outcome.body };
        this.#metrics.retried.inc({ reason: outcome.status === undefined ? 'network' : String(outcome.status) });
        const delayMs = retryDelay(attempt, { minMs: this.#jims.retryMinDelayMs, maxMs: this.#jims.retryMaxDelayMs, retryAfterMs: outcome.retryAfterMs });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    };
    const result = await bisectRefused(batch.rows, first, pushPart, this.#order.poisoned);
    if (result === undefined) {
      // Stopping: nothing recorded, the rows go again at the next start.
      this.#finish(batch);
      return;
    }
    const refusedEvents = result.refused.reduce((n, p) => n + p.rows.length, 0);
    this.#log.error(
      { event: 'batch-bisected', batch: batch.id, status: first.status, events: batch.rows.length, delivered: result.delivered.length, deadLettered: refusedEvents, pushes: result.pushes, refused: result.refused.map((p) => ({ seqs: p.rows.map((r) => r.seq), reason: p.reason, status: p.status })) },
      'JIMS refused a batch; halved it to find the events it refuses: the others are delivered, the refused ones (and later events of their IPs) moved to the dead-letter table (see `ptim-bridge dlq list`)',
    );
    this.#recordParts(batch, result, 0, 0);
  }

  /**
   * Records a bisected batch step by step (`done` steps already written), retrying a failed write
   * like #record; then finishes the batch, unless `more` (its other rows are still to be pushed).
   */
  #recordParts(batch: Batch, result: BisectResult, done: number, failures: number, more = false): void {
    const steps: Array<() => void> = [];
    if (result.delivered.length > 0) {
      steps.push(() => {
        this.#outbox.acknowledge(result.delivered, batch.id);
        this.#metrics.delivered.inc(result.delivered.length);
        this.#delivered += result.delivered.length;
        const now = Date.now();
        for (const r of result.delivered) this.#metrics.latency.observe(Math.max(0, now - r.receivedAt) / 1000);
      });
    }
    result.refused.forEach((part, i) => {
      steps.push(() => {
        this.#outbox.deadLetter({ batchId: `${batch.id}.${i + 1}`, status: part.status, body: part.body, rows: part.rows });
        this.#metrics.deadLettered.inc(part.rows.length);
        this.#deadLettered += part.rows.length;
      });
    });
    let step = done;
    try {
      for (; step < steps.length; step++) steps[step]!();
      if (!more) this.#finish(batch);
    } catch (error) {
      this.#metrics.errors.inc({ reason: 'outbox' });
      this.#limited.warn('outbox', { err: error, batch: batch.id }, 'Could not record a push outcome in the outbox; trying again');
      if (!this.#running) return;
      batch.timer = setTimeout(() => {
        batch.timer = undefined;
        if (this.#running) this.#recordParts(batch, result, step, failures + 1, more);
      }, retryDelay(failures, { minMs: this.#jims.retryMinDelayMs, maxMs: this.#jims.retryMaxDelayMs }));
    }
  }

  /**
   * Writes a final outcome to the database. If that fails (disk full, locked), the batch stays
   * unfinished, so its IPs stay blocked, and the write is tried again later: releasing the IPs
   * first would let a later event of the same IP out before this batch is settled.
   */
  #record(batch: Batch, outcome: Extract<PushOutcome, { kind: 'delivered' | 'rejected' }>, failures = 0): void {
    try {
      if (outcome.kind === 'delivered') {
        this.#outbox.acknowledge(batch.rows, batch.id);
        this.#metrics.delivered.inc(batch.rows.length);
        this.#delivered += batch.rows.length;
        const now = Date.now();
        for (const r of batch.rows) this.#metrics.latency.observe(Math.max(0, now - r.receivedAt) / 1000);
      } else {
        const id = this.#outbox.deadLetter({ batchId: batch.id, status: outcome.status, body: outcome.body, rows: batch.rows });
        this.#metrics.deadLettered.inc(batch.rows.length);
        this.#deadLettered += batch.rows.length;
        this.#log.error({ batch: batch.id, deadLetter: id, status: outcome.status, events: batch.rows.length }, 'JIMS rejected a batch; moved to the dead-letter table (see `ptim-bridge dlq list`)');
      }
      this.#finish(batch);
    } catch (error) {
      this.#metrics.errors.inc({ reason: 'outbox' });
      this.#limited.warn('outbox', { err: error, batch: batch.id }, 'Could not record a push outcome in the outbox; trying again');
      if (!this.#running) return; // The rows stay in the outbox and go again at the next start.
      batch.timer = setTimeout(() => {
        batch.timer = undefined;
        if (this.#running) this.#record(batch, outcome, failures + 1);
      }, retryDelay(failures, { minMs: this.#jims.retryMinDelayMs, maxMs: this.#jims.retryMaxDelayMs }));
    }
  }

  #finish(batch: Batch): void {
    if (!this.#outstanding.delete(batch)) return;
    this.#order.release(batch.claims);
    this.#pump();
  }

  #checkDrained(): void {
    if (this.#waiters.length === 0) return;
    if (this.#outstanding.size > 0 || this.#pending.length > 0) return;
    if (this.#outbox.backlog() > 0 && this.#atEnd && this.#running) {
      // Everything read is done but the count says otherwise: a caller's transaction rolled back
      // after add(), or rows came back from elsewhere. Trust the table.
      if (this.#outbox.recount() > 0) {
        // Rows nobody is working on: read the whole table again now, not at the next poll (up to a
        // second later). Counted: after a rollback the recount is 0, and outside commits are
        // normally seen by changedElsewhere() first, so this mostly means lost track of rows.
        this.#metrics.errors.inc({ reason: 'resync' });
        this.#rescan = true;
        setImmediate(() => this.#pump());
        return;
      }
    }
    if (this.#outbox.backlog() > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
  }
}
