import { holdBack, type Poison, type RefusedPart } from './bisect.js';
import type { OutboxRow } from './outbox.js';

/**
 * What keeps the events of one client IP in order on their way to JIMS (DESIGN.md §5: a disconnect
 * is never delivered before the connect it ends), as pure state; the forwarder reads the outbox,
 * pushes and keeps time, and tells this window what happened:
 * - An IP with a row in an unfinished batch (in flight or waiting for its retry) is busy: no later
 *   row of it goes into another batch, and once one of its rows is skipped, all its later rows in
 *   that window are skipped too. Other IPs go on.
 * - Rows of busy IPs the forwarder let go (to read past a window full of them) are remembered by
 *   their IP's first let-go seq: when that IP frees up, reading must start again there.
 * - An IP whose event JIMS refused (found by bisect.ts, which marks it in `poisoned`) has its later
 *   events held back, to be dead-lettered with that refusal, until its next connect.
 * No I/O, timers or clock.
 */
export class OrderingWindow {
  /** ip -> rows of that IP in unfinished batches. */
  readonly #busy = new Map<string, number>();
  /** seqs in unfinished batches: skipped when a rescan reads them again. */
  readonly #claimed = new Set<number>();
  /**
   * Busy IPs whose rows were let go to read past them -> their first such seq. Only busy IPs get
   * here and each leaves when its batch finishes, so this holds at most as many IPs as the
   * unfinished batches do.
   */
  readonly #letGo = new Map<string, number>();
  /** Where to read again from (after this seq): set when an IP with let-go rows frees up. */
  #resumeAfter: number | undefined;
  readonly #poisoned = new Map<string, Poison>();

  /**
   * The next batch from `pending` (seq order): at most `max` rows, in seq order, skipping every row
   * of an IP that is busy, and every later row of an IP once one of its rows was skipped.
   */
  pick(pending: readonly OutboxRow[], max: number): OutboxRow[] {
    const rows: OutboxRow[] = [];
    const blocked = new Set<string>();
    for (const row of pending) {
      if (rows.length >= max) break;
      if (blocked.has(row.ip)) continue;
      if (this.#busy.has(row.ip)) {
        // Everything later of this IP must wait too, or it would overtake this row.
        blocked.add(row.ip);
        continue;
      }
      rows.push(row);
    }
    return rows;
  }

  /** `rows` form an unfinished batch now: their IPs are busy until `release` of the same rows. */
  claim(rows: readonly OutboxRow[]): void {
    for (const row of rows) {
      this.#claimed.add(row.seq);
      this.#busy.set(row.ip, (this.#busy.get(row.ip) ?? 0) + 1);
    }
  }

  /** True while the row with `seq` is in an unfinished batch (a read that finds it again skips it). */
  isClaimed(seq: number): boolean {
    return this.#claimed.has(seq);
  }

  /**
   * A batch finished (delivered, dead-lettered, or given up at a stop): its IPs are free again once
   * no other unfinished batch holds one of their rows. An IP that frees up with let-go rows sets the
   * resume point (see `takeResumePoint`).
   */
  release(claims: readonly OutboxRow[]): void {
    for (const row of claims) {
      this.#claimed.delete(row.seq);
      const n = (this.#busy.get(row.ip) ?? 1) - 1;
      if (n > 0) {
        this.#busy.set(row.ip, n);
        continue;
      }
      this.#busy.delete(row.ip);
      const first = this.#letGo.get(row.ip);
      if (first !== undefined) {
        this.#letGo.delete(row.ip);
        this.#resumeAfter = Math.min(this.#resumeAfter ?? first - 1, first - 1);
      }
    }
  }

  /** Rows of busy IPs put aside unsent (they stay in the outbox): remembers each IP's first one. */
  letGo(rows: readonly OutboxRow[]): void {
    for (const row of rows) {
      const first = this.#letGo.get(row.ip);
      if (first === undefined || row.seq < first) this.#letGo.set(row.ip, row.seq);
    }
  }

  /**
   * The seq to read again after, when an IP with let-go rows freed up since the last call (its
   * rows must be read before any later row of it); undefined otherwise. Clears it.
   */
  takeResumePoint(): number | undefined {
    const seq = this.#resumeAfter;
    this.#resumeAfter = undefined;
    return seq;
  }

  /** Everything read is forgotten (the outbox is read again from its start): no let-go rows, no resume point. Claims stay. */
  forgetReads(): void {
    this.#letGo.clear();
    this.#resumeAfter = undefined;
  }

  /** No batch is unfinished any more (a stop): every IP is free. Refusals are still remembered. */
  releaseAll(): void {
    this.#busy.clear();
    this.#claimed.clear();
  }

  /**
   * Before a batch's first push: splits off the rows of IPs with a refused earlier event (`held`,
   * to be dead-lettered behind it); an IP's connect clears its mark and goes with `push`.
   */
  holdBack(rows: readonly OutboxRow[]): { push: OutboxRow[]; held: RefusedPart[] } {
    return holdBack(rows, this.#poisoned);
  }

  /** True when some IP's later events are held back (a refusal is remembered). */
  get holding(): boolean {
    return this.#poisoned.size > 0;
  }

  /** IPs with a refused event and the refusal their later events follow: bisectRefused marks them here. */
  get poisoned(): Map<string, Poison> {
    return this.#poisoned;
  }
}
