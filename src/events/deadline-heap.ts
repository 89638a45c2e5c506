/**
 * A min-heap of (deadline, key) for the rekey watch. Entries are never removed in place: a session
 * whose deadline moved pushes a new entry and the old one is skipped when it surfaces (the caller
 * checks it against the session), which keeps every operation O(log n) without an index per key.
 */
export class DeadlineHeap {
  readonly #deadlines: number[] = [];
  readonly #keys: string[] = [];

  get size(): number {
    return this.#deadlines.length;
  }

  push(deadline: number, key: string): void {
    const d = this.#deadlines;
    const k = this.#keys;
    let i = d.length;
    d.push(deadline);
    k.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(deadline, key, d[parent]!, k[parent]!)) break;
      d[i] = d[parent]!;
      k[i] = k[parent]!;
      i = parent;
    }
    d[i] = deadline;
    k[i] = key;
  }

  /** The earliest deadline, or Infinity when empty. */
  peek(): number {
    return this.#deadlines.length === 0 ? Infinity : this.#deadlines[0]!;
  }

  /** Removes and returns the earliest entry (ties by key, so the order is deterministic). */
  pop(): { deadline: number; key: string } | undefined {
    const d = this.#deadlines;
    const k = this.#keys;
    if (d.length === 0) return undefined;
    const top = { deadline: d[0]!, key: k[0]! };
    const lastD = d.pop()!;
    const lastK = k.pop()!;
    const n = d.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(d[r]!, k[r]!, d[l]!, k[l]!) ? r : l;
        if (!less(d[c]!, k[c]!, lastD, lastK)) break;
        d[i] = d[c]!;
        k[i] = k[c]!;
        i = c;
      }
      d[i] = lastD;
      k[i] = lastK;
    }
    return top;
  }
}

function less(d1: number, k1: string, d2: number, k2: string): boolean {
  return d1 < d2 || (d1 === d2 && k1 < k2);
}
