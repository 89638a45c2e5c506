import { OldestFirst } from './oldest-first.js';

/**
 * Tombstones kept at most (~100 bytes each). Past it the oldest are forgotten first; only a flood of
 * made-up client IPs gets there (the retention bounds the rest).
 */
export const MAX_TOMBSTONES = 500_000;

/**
 * Per key without a live session: the last applied line time (issue 8), so that an old line cannot
 * undo the end. One counts while it is within `retentionMs` of the table's clock for its key
 * (`nowOf`); past it, it is only memory, dropped by the next sweep. The map's insertion order is
 * the order of the ends, oldest first: the cap and a reload forget the same ones.
 */
export class Tombstones {
  readonly #at = new Map<string, number>();
  readonly #oldest = new OldestFirst(this.#at);
  readonly #nowOf: (key: string) => number;
  #sweepAt = 1024;
  retentionMs = 0;

  /** `nowOf(key)`: the table's clock for the key (the wall clock, or its device's capture clock). */
  constructor(nowOf: (key: string) => number) {
    this.#nowOf = nowOf;
  }

  get size(): number {
    return this.#at.size;
  }

  /** The key's tombstone, if it is within the retention of `now` (the table's clock for the line). */
  get(key: string, now: number): number | undefined {
    const at = this.#at.get(key);
    return at !== undefined && at >= now - this.retentionMs ? at : undefined;
  }

  /** Records the key's last line time (the newest end goes last); the oldest goes past MAX_TOMBSTONES. */
  set(key: string, at: number): void {
    // Delete first: the map's order stays the order of the last ends, oldest first.
    this.#at.delete(key);
    this.#at.set(key, at);
    if (this.#at.size > MAX_TOMBSTONES) this.#oldest.shift();
  }

  /** A session ended: `set`, then a sweep when the map doubled since the last one (O(1) per end). */
  end(key: string, at: number): void {
    this.set(key, at);
    if (this.#at.size >= this.#sweepAt) this.sweep();
  }

  /** The key has a live session again, which carries its last line time now. */
  delete(key: string): void {
    this.#at.delete(key);
  }

  /** Drops the tombstones past their retention: memory only, since `get` ignores them anyway. */
  sweep(): void {
    for (const [key, at] of this.#at) {
      if (at < this.#nowOf(key) - this.retentionMs) this.#at.delete(key);
    }
    this.#oldest.reset();
    this.rearmSweep();
  }

  /** The next sweep comes when the map has doubled from now (after a sweep or a reload). */
  rearmSweep(): void {
    this.#sweepAt = Math.max(1024, 2 * this.#at.size);
  }

  clear(): void {
    this.#at.clear();
    this.#oldest.reset();
  }

  /** (key, last line time), oldest end first. */
  entries(): IterableIterator<[string, number]> {
    return this.#at.entries();
  }
}
