import type { Statement } from 'better-sqlite3';
import type { StateDb } from '../state-db.js';
import type { DeviceClocks } from './device-clocks.js';
import { fromValues, keyOf, OP_CLOCK, OP_PATCH, OP_PUT, applyPatch, toValues, tombstoneValues, type JournalEntry, type SessionValues, type TombstoneValues } from './session-codec.js';
import type { Session } from './session-rules.js';
import type { Tombstones } from './tombstones.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session_snapshot (
  part INTEGER PRIMARY KEY,
  sessions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_clocks (
  device TEXT PRIMARY KEY,
  clock INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entries TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_tombstones (
  part INTEGER PRIMARY KEY,
  tombstones TEXT NOT NULL
);
`;

/** Journal entries below which the journal is never folded into the snapshot (see `wantsCompaction`). */
const MIN_COMPACT_ENTRIES = 65_536;

/**
 * Sessions (or tombstones) per snapshot row, and so per compaction step: a step costs ~8 ms on the
 * reference machine (values, JSON, the row), which a transaction can carry without breaking the
 * 50 ms commit promise; the whole table in one go took 415 ms at 100,000 sessions.
 */
export const SNAPSHOT_PART = 2_000;

/**
 * A snapshot lives in one of two generations, told apart by their part numbers: generation g holds
 * parts [g x GENERATION_PARTS, (g + 1) x GENERATION_PARTS). Which one is the snapshot, a marker row
 * says: part -1 - g of `session_snapshot`, an empty list. No marker reads as generation 0: a file
 * older than sliced compaction, or one such a version compacted since (it deletes every snapshot
 * row, the marker too, and writes its parts from 0), so an upgrade after a downgrade reads what the
 * older version wrote. That version reads the marker as an empty part, and a snapshot half-written
 * in the other generation as more parts: the whole journal replayed over them gives the same table.
 */
const GENERATION_PARTS = 1_000_000_000;

/** A snapshot or tombstone part in the file. */
interface StoredPart {
  table: 'snapshot' | 'tombstones';
  part: number;
}

/** The in-memory table the store loads into and snapshots from. */
export interface StoredTable {
  readonly sessions: Map<string, Session>;
  readonly tombstones: Tombstones;
  readonly clocks: DeviceClocks;
}

/**
 * A compaction under way: the table as it was when the compaction began (sessions are never
 * changed in place, so their references are that state), written one part per step into the other
 * generation, then switched to in one step, then the old generation deleted one part per step.
 */
interface Compaction {
  readonly generation: number;
  /** The journal's last row when the table was frozen: rows up to it are folded. */
  readonly foldedSeq: number | undefined;
  readonly foldedEntries: number;
  readonly sessions: readonly Session[];
  readonly tombstones: ReadonlyArray<[string, number]>;
  readonly clocks: ReadonlyArray<[string, number]>;
  /**
   * Parts to delete, one per step: before the switch, those of the target generation an abandoned
   * compaction left; after it, those of the old generation.
   */
  doomed: StoredPart[];
  /** Sessions, then tombstones, written so far (the next part's number follows from it). */
  written: number;
  switched: boolean;
}

/**
 * The session table's SQLite storage, in the shared state file: an append-only journal (one row per
 * transaction, a JSON list of changes from session-codec.ts) folded into a snapshot
 * (`session_snapshot` and `session_tombstones`, JSON parts, and `session_clocks`) once it holds
 * twice as many changes as the table has entries. Why not a row per session: updating rows in
 * place cost a random B-tree page per change (~30k transitions/s with 100k sessions), and a
 * statement costs ~5 us on the reference machine, so the hot path writes one row per batch.
 *
 * Compaction is sliced (issue 9): it freezes the table (an array of session references, a copy of
 * the tombstones and clocks), then each later `flush` writes one part of that state into the other
 * snapshot generation, inside the transaction the flush belongs to (a flush of more entries than a
 * part holds takes as many steps, so the compaction keeps pace with the journal). The last step
 * moves the generation marker, writes the clocks and deletes the folded journal rows, all in one
 * transaction; a crash before it leaves the old snapshot and the whole journal, as if the
 * compaction had not begun. The old generation's parts are then deleted one per step.
 *
 * It knows nothing of the session rules: the table records its changes here (`record`), writes
 * them with `flush` inside its own transaction, and calls `load` to (re)build itself from the file.
 */
export class SessionStore {
  readonly #stmt: ReturnType<typeof prepare>;
  readonly #table: StoredTable;
  /** Entries not yet written: the changes of the transaction under way. */
  #pending: JournalEntry[] = [];
  /** Journal entries in the file, folded ones (of a compaction under way) included. */
  #journalEntries = 0;
  /** The journal's last sequence number as this store wrote or read it; undefined when empty. */
  #lastSeq: number | undefined;
  /** The snapshot generation the file reads from (0 or 1). */
  #generation = 0;
  #compaction: Compaction | undefined;
  readonly #partSize: number;
  /** `#read` in one read transaction: the snapshot and the journal as of one moment. */
  readonly #readConsistently: () => void;

  /** Creates the tables if needed; `load()` reads them. `partSize` (tests): entries per snapshot part and step. */
  constructor(db: StateDb, table: StoredTable, options: { partSize?: number } = {}) {
    db.exec(SCHEMA);
    this.#stmt = prepare(db);
    this.#table = table;
    this.#partSize = options.partSize ?? SNAPSHOT_PART;
    this.#readConsistently = db.transaction(() => this.#read());
  }

  /** Changes recorded since the last `flush` (or `discard`). */
  get pendingCount(): number {
    return this.#pending.length;
  }

  record(entry: JournalEntry): void {
    this.#pending.push(entry);
  }

  /** Forgets the recorded changes (their transaction rolled back). */
  discard(): void {
    this.#pending = [];
  }

  /**
   * Writes the recorded changes as one journal row, then takes the steps of a compaction under way
   * (one per part's worth of entries written, at least one); call it inside the transaction they
   * belong to.
   */
  flush(): void {
    const entries = this.#pending.length;
    if (entries > 0) {
      const info = this.#stmt.journal.run(JSON.stringify(this.#pending));
      this.#lastSeq = Number(info.lastInsertRowid);
      this.#journalEntries += entries;
      this.#pending = [];
    }
    // The journal cannot outgrow the compaction.
    for (let steps = Math.max(1, Math.ceil(entries / this.#partSize)); steps > 0 && this.#compaction !== undefined; steps--) this.#step(this.#compaction);
  }

  /**
   * Whether the journal holds max(65,536, 2 x table entries) changes not folded yet and no
   * compaction is under way: time to `beginCompaction`.
   */
  get wantsCompaction(): boolean {
    return this.#compaction === undefined && this.#journalEntries >= Math.max(MIN_COMPACT_ENTRIES, 2 * (this.#table.sessions.size + this.#table.tombstones.size));
  }

  /** A compaction is under way (each `flush` takes a step of it). */
  get compacting(): boolean {
    return this.#compaction !== undefined;
  }

  /**
   * The journal's last sequence number in the file. Not `lastWritten` when something else changed
   * it (a transaction of this table's that rolled back after `flush`, or another writer).
   */
  journalTop(): number | undefined {
    return (this.#stmt.lastSeq.get() as number | undefined) ?? undefined;
  }

  get lastWritten(): number | undefined {
    return this.#lastSeq;
  }

  /**
   * Freezes the table as it is now (flushed: call it after `flush`, in a transaction) and begins a
   * sliced compaction of it; the following flushes write it. O(table) in memory copies only.
   */
  beginCompaction(): void {
    const { sessions, tombstones, clocks } = this.#table;
    const target = 1 - this.#generation;
    this.#compaction = {
      generation: target,
      foldedSeq: this.journalTop(),
      foldedEntries: this.#journalEntries,
      sessions: [...sessions.values()],
      // In the map's order, so that a reload forgets the same oldest ones first.
      tombstones: [...tombstones.entries()],
      clocks: [...clocks.all],
      doomed: this.#partsOf(target),
      written: 0,
      switched: false,
    };
  }

  /**
   * Writes the whole table as a snapshot and empties the journal, in one go (tests, a tidy
   * shutdown): a compaction under way is given up and begun again from the table as it is now.
   * Recorded changes not yet flushed are not written: flush first. Call it in a transaction.
   */
  compact(): void {
    this.beginCompaction();
    while (this.#compaction !== undefined) this.#step(this.#compaction);
  }

  /** One slice of the compaction: a part deleted, a part written, or the switch. */
  #step(c: Compaction): void {
    const doomed = c.doomed.pop();
    if (doomed !== undefined) {
      (doomed.table === 'snapshot' ? this.#stmt.deleteSnapshotPart : this.#stmt.deleteTombstonePart).run(doomed.part);
    } else if (c.written < c.sessions.length) {
      c.written = this.#writePart(this.#stmt.snapshot, c, c.sessions, c.written, toValues);
    } else if (c.written < c.sessions.length + c.tombstones.length) {
      const from = c.written - c.sessions.length;
      c.written = c.sessions.length + this.#writePart(this.#stmt.tombstones, c, c.tombstones, from, (t) => tombstoneValues(...t));
    } else if (!c.switched) {
      this.#switch(c);
    }
    if (c.switched && c.doomed.length === 0) this.#compaction = undefined;
  }

  /**
   * Writes items [from, from + part size) as the target generation's part from / part size (sessions
   * and tombstones are numbered apart, each table from the generation's first part); returns the end.
   */
  #writePart<T>(insert: Statement, c: Compaction, items: readonly T[], from: number, encode: (item: T) => unknown): number {
    const end = Math.min(items.length, from + this.#partSize);
    const values: unknown[] = [];
    for (let i = from; i < end; i++) values.push(encode(items[i]!));
    insert.run(c.generation * GENERATION_PARTS + from / this.#partSize, JSON.stringify(values));
    return end;
  }

  /** The new generation becomes the snapshot: clocks as frozen, folded journal rows gone. */
  #switch(c: Compaction): void {
    const old = this.#generation;
    for (const [device, clock] of c.clocks) this.#stmt.setClock.run(device, clock);
    this.#stmt.clearMarkers.run();
    this.#stmt.snapshot.run(-1 - c.generation, '[]');
    if (c.foldedSeq !== undefined) this.#stmt.deleteJournalUpTo.run(c.foldedSeq);
    this.#generation = c.generation;
    this.#journalEntries -= c.foldedEntries;
    if (this.#lastSeq === c.foldedSeq) this.#lastSeq = undefined;
    c.switched = true;
    c.doomed = this.#partsOf(old);
  }

  /** Every snapshot and tombstone part of a generation in the file. */
  #partsOf(generation: number): StoredPart[] {
    const parts: StoredPart[] = [];
    for (const part of this.#stmt.snapshotParts.all(...range(generation)) as number[]) parts.push({ table: 'snapshot', part });
    for (const part of this.#stmt.tombstoneParts.all(...range(generation)) as number[]) parts.push({ table: 'tombstones', part });
    return parts;
  }

  /**
   * Empties the table and fills it from the file: the snapshot generation in use, the tombstones
   * and the clocks, then the journal's changes in order. Recorded changes not yet written are
   * forgotten, and so is a compaction under way (the next one begins afresh). Read in one
   * transaction: another connection's switch cannot fall between the snapshot and the journal.
   * @throws Error (SyntaxError, ...) when the stored table cannot be read; the table is then partial.
   */
  load(): void {
    this.#readConsistently();
  }

  #read(): void {
    const { sessions, tombstones, clocks } = this.#table;
    sessions.clear();
    clocks.clear();
    tombstones.clear();
    this.#pending = [];
    this.#compaction = undefined;
    const marker = this.#stmt.marker.get() as number | undefined;
    this.#generation = marker === undefined ? 0 : -1 - marker;
    for (const text of this.#stmt.loadSnapshot.iterate(...range(this.#generation)) as Iterable<string>) {
      for (const v of JSON.parse(text) as SessionValues[]) sessions.set(keyOf(v[0], v[1]), fromValues(v));
    }
    for (const text of this.#stmt.loadTombstones.iterate(...range(this.#generation)) as Iterable<string>) {
      for (const [device, ip, at] of JSON.parse(text) as TombstoneValues[]) tombstones.set(keyOf(device, ip), at);
    }
    for (const { device, clock } of this.#stmt.clocks.all() as Array<{ device: string; clock: number }>) clocks.move(device, clock);
    this.#journalEntries = 0;
    this.#lastSeq = undefined;
    for (const row of this.#stmt.loadJournal.iterate() as Iterable<{ seq: number; entries: string }>) {
      this.#lastSeq = row.seq;
      for (const e of JSON.parse(row.entries) as JournalEntry[]) {
        this.#journalEntries++;
        const [op, clock, device] = e;
        if (clock !== null) clocks.raise(device, clock);
        if (op === OP_CLOCK) continue;
        const key = keyOf(device, e[3]);
        if (op === OP_PUT) {
          tombstones.delete(key);
          sessions.set(key, fromValues(e.slice(2) as SessionValues));
        } else if (op === OP_PATCH) {
          const base = sessions.get(key);
          // Cannot happen with a journal this store wrote; a hand-edited file loses that change only.
          if (base === undefined) continue;
          sessions.set(key, applyPatch(base, e));
        } else {
          sessions.delete(key);
          if (typeof e[4] === 'number') tombstones.set(key, e[4]);
        }
      }
    }
  }
}

/** The part numbers of a generation, as [from, to) for the range statements. */
function range(generation: number): [number, number] {
  return [generation * GENERATION_PARTS, (generation + 1) * GENERATION_PARTS];
}

function prepare(db: StateDb) {
  return {
    snapshot: db.prepare('INSERT INTO session_snapshot (part, sessions) VALUES (?, ?)'),
    snapshotParts: db.prepare('SELECT part FROM session_snapshot WHERE part >= ? AND part < ?').pluck(),
    deleteSnapshotPart: db.prepare('DELETE FROM session_snapshot WHERE part = ?'),
    loadSnapshot: db.prepare('SELECT sessions FROM session_snapshot WHERE part >= ? AND part < ? ORDER BY part').pluck(),
    loadJournal: db.prepare('SELECT seq, entries FROM session_journal ORDER BY seq'),
    journal: db.prepare('INSERT INTO session_journal (entries) VALUES (?)'),
    lastSeq: db.prepare('SELECT seq FROM session_journal ORDER BY seq DESC LIMIT 1').pluck(),
    deleteJournalUpTo: db.prepare('DELETE FROM session_journal WHERE seq <= ?'),
    tombstones: db.prepare('INSERT INTO session_tombstones (part, tombstones) VALUES (?, ?)'),
    tombstoneParts: db.prepare('SELECT part FROM session_tombstones WHERE part >= ? AND part < ?').pluck(),
    deleteTombstonePart: db.prepare('DELETE FROM session_tombstones WHERE part = ?'),
    loadTombstones: db.prepare('SELECT tombstones FROM session_tombstones WHERE part >= ? AND part < ? ORDER BY part').pluck(),
    clocks: db.prepare('SELECT device, clock FROM session_clocks'),
    marker: db.prepare('SELECT part FROM session_snapshot WHERE part < 0 ORDER BY part DESC LIMIT 1').pluck(),
    clearMarkers: db.prepare('DELETE FROM session_snapshot WHERE part < 0'),
    setClock: db.prepare('INSERT INTO session_clocks (device, clock) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET clock = excluded.clock'),
  };
}
