import { OldestFirst } from './oldest-first.js';

/**
 * The checks the session table makes on a line before its rules see it (issue 8): is its time
 * plausible, and was the same line applied a moment ago. Pure data in, data out, or a small bounded
 * memory; the table (sessions.ts) counts and logs what they decide.
 */

export type LineTimeCheck = { kind: 'in-window' } | { kind: 'out-of-window'; skewMs: number };

/**
 * Whether a line's own time (`lineAt`, ms) is within `windowMs` of its receipt time, either side (the
 * bounds are in). An unreadable time (NaN) is out of window. Only meaningful live: in a replay the
 * receipt time is when the file was read.
 */
export function checkLineTime(lineAt: number, receivedAt: number, windowMs: number): LineTimeCheck {
  const skewMs = lineAt - receivedAt;
  return Math.abs(skewMs) <= windowMs ? { kind: 'in-window' } : { kind: 'out-of-window', skewMs };
}

/** Digests remembered at most, over all buckets: about 100 bytes each. */
export const MAX_RECENT_LINES = 200_000;
/** Lines a bucket holds before it is first pruned. */
const MIN_PRUNE = 64;

interface Bucket {
  lines: Map<string, number>;
  /** Forgets `lines` oldest first, past the cap. */
  oldest: OldestFirst<string, number>;
  /** Prune when the bucket holds this many. */
  pruneAt: number;
}

/**
 * The lines seen lately, as digests with the time each was seen on the table's clock, so that the
 * same line arriving again (two relays, UDP and TCP) is applied once. Buckets keep clocks apart: one
 * for the wall clock, one per device on capture clocks, since each device's lines are timed by its own
 * clock. Memory is bounded: entries older than `maxWindowMs` before the newest of their bucket are
 * dropped as lines arrive (whenever the bucket doubled), and past `maxEntries` the oldest arrivals are
 * forgotten first.
 */
export class RecentLines {
  /** The longest window asked of `seen` (entries older than it are pruned); settable (a config reload). */
  maxWindowMs: number;
  readonly #maxEntries: number;
  readonly #buckets = new Map<string, Bucket>();
  #size = 0;

  constructor(maxWindowMs: number, maxEntries = MAX_RECENT_LINES) {
    this.maxWindowMs = maxWindowMs;
    this.#maxEntries = maxEntries;
  }

  /**
   * True when `digest` was recorded in `bucket` within `windowMs` (<= the constructor's window) of
   * `at`, either side: a duplicate, which is not recorded again (the window counts from the copy that
   * was applied). Otherwise records it at `at` and returns false.
   */
  seen(bucket: string, digest: string, at: number, windowMs: number): boolean {
    let b = this.#buckets.get(bucket);
    if (b === undefined) {
      const lines = new Map<string, number>();
      b = { lines, oldest: new OldestFirst(lines), pruneAt: MIN_PRUNE };
      this.#buckets.set(bucket, b);
    }
    const lines = b.lines;
    const before = lines.get(digest);
    if (before !== undefined) {
      if (Math.abs(at - before) <= windowMs) return true;
      lines.delete(digest);
      this.#size--;
    }
    // Pruned when the bucket doubled since the last time: O(1) per line. Arrival order is about time
    // order in a bucket, so the old entries are at the front.
    if (lines.size >= b.pruneAt) {
      for (const [oldest, seenAt] of lines) {
        if (seenAt >= at - this.maxWindowMs) break;
        lines.delete(oldest);
        this.#size--;
      }
      b.pruneAt = Math.max(MIN_PRUNE, 2 * lines.size);
      b.oldest.reset();
    }
    lines.set(digest, at);
    this.#size++;
    while (this.#size > this.#maxEntries) this.#forgetOldest();
    return false;
  }

  /** Lines remembered now. */
  get size(): number {
    return this.#size;
  }

  /** Forgets everything (the table reloaded its state after a rollback: the lines may come again). */
  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }

  #forgetOldest(): void {
    for (const [bucket, { lines, oldest }] of this.#buckets) {
      if (oldest.shift() !== undefined) this.#size--;
      if (lines.size === 0) this.#buckets.delete(bucket);
      return;
    }
  }
}
