import type { Registry } from 'prom-client';
import type { PtimEvent } from '../events/ptim-event.js';
import { StatsRecorder } from '../ops/event-stats.js';
import { tapEvent, type EventTap, type TapRecord } from '../ops/tap.js';
import type { StateDb } from '../state-db.js';
import { EventHistory } from './event-history.js';
import type { OutboxRow } from './outbox.js';
import { skippedCounter, type SkipReason } from './push-policy.js';

/** What the outbox tells its ledger; see DeliveryLedger. */
export interface OutboxLedger {
  /** Inside the outbox's transaction that removed `rows` (only those it removed): acknowledged (2xx) or dead-lettered (4xx). */
  settled(outcome: 'acked' | 'dead-lettered', rows: readonly OutboxRow[], detail: { batchId: string; status?: number }): void;
  /** After that transaction committed. */
  afterCommit(): void;
  /** That transaction rolled back. */
  discard(): void;
}

/** What one delivering process did since it started (in memory; committed changes only). */
export interface DeliveryCounts {
  queued: number;
  delivered: number;
  deadLettered: number;
  retried: number;
  skipped: number;
}

/**
 * The delivery's bookkeeping beside the outbox, in the same transactions: statistics
 * (ops/event-stats.ts), per-session history (event-history.ts) and the live tap (ops/tap.ts).
 * Queueing side (the bridge's tick, the rekey watch, a replay chunk): `queued()` / `skipped()`
 * inside the transaction, `flush()` as its last step, `afterCommit()` or `discard()` after it. The
 * settling side (the forwarder, through the outbox) writes at once inside the outbox's own
 * transaction. Tap records are published only after their commit, so a viewer never sees an
 * event that a rollback took back.
 */
export class DeliveryLedger implements OutboxLedger {
  readonly #db: StateDb;
  readonly #stats: StatsRecorder;
  readonly #history: EventHistory;
  readonly #tap: EventTap | undefined;
  readonly #skippedMetric;
  #records: TapRecord[] = [];
  #pending: DeliveryCounts = zeroCounts();
  readonly #counts: DeliveryCounts = zeroCounts();

  /** Creates the tables if needed; `startedBy` (`run`, `replay`) starts the "since start" statistics. */
  constructor(db: StateDb, options: { startedBy: string; tap?: EventTap; registry?: Registry }) {
    this.#db = db;
    this.#stats = new StatsRecorder(db, { startedBy: options.startedBy });
    this.#history = new EventHistory(db);
    this.#tap = options.tap;
    this.#skippedMetric = options.registry ? skippedCounter(options.registry) : undefined;
  }

  /** Events queued under their outbox seqs (same order); inside the queueing transaction. */
  queued(events: readonly PtimEvent[], seqs: readonly number[], at: number): void {
    this.#stats.add('queued', events);
    for (let i = 0; i < events.length; i++) this.#history.queued(seqs[i]!, events[i]!, at);
    this.#pending.queued += events.length;
    if (this.#tap?.active) {
      const when = new Date(at).toISOString();
      for (let i = 0; i < events.length; i++) this.#records.push({ at: when, what: 'queued', seq: seqs[i]!, event: tapEvent(events[i]!) });
    }
  }

  /** Events held back (a push opt-out); inside the queueing transaction. */
  skipped(items: ReadonlyArray<{ event: PtimEvent; reason: SkipReason }>, at: number): void {
    this.#stats.add('skipped', items.map((i) => i.event));
    this.#pending.skipped += items.length;
    if (this.#tap?.active) {
      const when = new Date(at).toISOString();
      for (const { event, reason } of items) this.#records.push({ at: when, what: 'skipped', reason, event: tapEvent(event) });
    }
  }

  /** Writes the counts and history of the open transaction; its last step before the commit. */
  flush(now = Date.now()): void {
    this.#stats.flush();
    this.#history.flush(now);
  }

  settled(outcome: 'acked' | 'dead-lettered', rows: readonly OutboxRow[], detail: { batchId: string; status?: number }): void {
    const at = Date.now();
    this.#stats.add(outcome, rows.map((r) => r.event));
    this.#stats.flush();
    this.#history.settled(outcome === 'acked' ? 'delivered' : 'dead-letter', rows.map((r) => r.seq), at, detail.status);
    if (outcome === 'acked') this.#pending.delivered += rows.length;
    else this.#pending.deadLettered += rows.length;
    if (this.#tap?.active) {
      const when = new Date(at).toISOString();
      for (const r of rows) {
        const record: TapRecord = { at: when, what: outcome, seq: r.seq, batch: detail.batchId, event: tapEvent(r.event) };
        if (detail.status !== undefined) record.status = detail.status;
        this.#records.push(record);
      }
    }
  }

  /**
   * A push of `rows` failed and will be retried: counted in its own small transaction (no outbox
   * row changes). Never throws: a count that cannot be written is not worth stopping delivery for.
   */
  retried(rows: readonly OutboxRow[], detail: { batchId: string; status?: number; reason: string; attempt: number }): void {
    try {
      this.#db.transaction(() => {
        this.#stats.add('retried', rows.map((r) => r.event));
        this.#stats.flush();
        this.#history.retried(rows.map((r) => r.seq));
      })();
    } catch {
      this.#stats.discard();
      return;
    }
    this.#counts.retried += rows.length;
    if (this.#tap?.active) {
      const at = new Date().toISOString();
      this.#tap.publish(rows.map((r) => {
        const record: TapRecord = { at, what: 'retry', seq: r.seq, batch: detail.batchId, reason: detail.reason.slice(0, 200), attempt: detail.attempt, event: tapEvent(r.event) };
        if (detail.status !== undefined) record.status = detail.status;
        return record;
      }));
    }
  }

  afterCommit(): void {
    const p = this.#pending;
    this.#counts.queued += p.queued;
    this.#counts.delivered += p.delivered;
    this.#counts.deadLettered += p.deadLettered;
    this.#counts.skipped += p.skipped;
    if (p.skipped > 0) this.#skippedMetric?.inc({ reason: 'push-disabled' }, p.skipped);
    this.#pending = zeroCounts();
    if (this.#records.length > 0) {
      const records = this.#records;
      this.#records = [];
      this.#tap?.publish(records);
    }
  }

  discard(): void {
    this.#stats.discard();
    this.#history.discard();
    this.#pending = zeroCounts();
    this.#records = [];
  }

  /** Since this ledger was made (committed changes only). */
  counts(): Readonly<DeliveryCounts> {
    return { ...this.#counts };
  }
}

function zeroCounts(): DeliveryCounts {
  return { queued: 0, delivered: 0, deadLettered: 0, retried: 0, skipped: 0 };
}
