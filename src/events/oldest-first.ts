/**
 * Takes a Map's entries out oldest first (insertion order) in amortized O(1). Iterating a Map from
 * its start walks the slots of every entry deleted before (V8 keeps them until it rehashes), so a
 * Map used as a queue with `for (const k of map.keys()) { map.delete(k); break; }` cost O(n) per
 * call once full: 200,000 lines past the duplicate memory's cap took 7 s. One iterator kept across
 * calls passes each slot once. Map iterators stay valid while the map changes: entries deleted
 * ahead are skipped, entries set later (a key deleted and set again moves to the end) come last.
 */
export class OldestFirst<K, V> {
  readonly #map: Map<K, V>;
  #keys: IterableIterator<K> | undefined;

  constructor(map: Map<K, V>) {
    this.#map = map;
  }

  /** Deletes the oldest entry and returns its key; undefined when the map is empty. */
  shift(): K | undefined {
    let next = this.#keys?.next();
    // A finished iterator stays finished, even when entries are added later: start another.
    if (next === undefined || next.done === true) {
      this.#keys = this.#map.keys();
      next = this.#keys.next();
      if (next.done === true) return undefined;
    }
    this.#map.delete(next.value);
    return next.value;
  }

  /**
   * Forgets the kept iterator (the next `shift` starts a fresh one): an iterator keeps the table the
   * Map had when it last moved, with its keys, alive across a resize. Call it after deleting many
   * entries some other way (a sweep, a prune, `clear`): those are O(n) already.
   */
  reset(): void {
    this.#keys = undefined;
  }
}
