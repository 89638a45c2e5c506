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
CREATE TABLE IF NOT EXISTS session_meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
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
 * parts [g x GENERATION_PARTS, (g + 1) x GENERATION_PARTS). Files older than sliced compaction hold
 * generation 0 only and no `session_meta` row, which reads as generation 0.
 */
const GENERATION_PARTS = 1_000_000_000;

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
  /** Parts of the target generation left by an abandoned compaction, deleted first. */
  stale: number[];
  /** Sessions, then tombstones, written so far. */
  written: number;
  part: number;
  /** After the switch: the old generation's parts still to delete. */
  old: number[] | undefined;
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
 * snapshot generation, inside the transaction the flush belongs to. The last step switches the
 * generation pointer (`session_meta`), writes the clocks and deletes the folded journal rows, all in
 * one transaction; a crash before it leaves the old snapshot and the whole journal, as if the
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

  /** Creates the tables if needed; `load()` reads them. `partSize` (tests): entries per snapshot part and step. */
  constructor(db: StateDb, table: StoredTable, options: { partSize?: number } = {}) {
    db.exec(SCHEMA);
    this.#stmt = prepare(db);
    this.#table = table;
    this.#partSize = options.partSize ?? SNAPSHOT_PART;
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
   * Writes the recorded changes as one journal row, then takes one step of a compaction under way;
   * call it inside the transaction they belong to.
   */
  flush(): void {
    if (this.#pending.length > 0) {
      const info = this.#stmt.journal.run(JSON.stringify(this.#pending));
      this.#lastSeq = Number(info.lastInsertRowid);
      this.#journalEntries += this.#pending.length;
      this.#pending = [];
    }
    if (this.#compaction !== undefined) this.#step(this.#compaction);
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
      stale: [...(this.#stmt.snapshotParts.all(...range(target)) as number[]), ...(this.#stmt.tombstoneParts.all(...range(target)) as number[]).map((p) => -1 - p)],
      written: 0,
      part: target * GENERATION_PARTS,
      old: undefined,
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

  /** One slice of the compaction: a stale part deleted, a part written, the switch, or an old part deleted. */
  #step(c: Compaction): void {
    const stale = c.stale.pop();
    if (stale !== undefined) {
      if (stale >= 0) this.#stmt.deleteSnapshotPart.run(stale);
      else this.#stmt.deleteTombstonePart.run(-1 - stale);
      return;
    }
    if (c.old !== undefined) {
      const part = c.old.pop();
      if (part === undefined) this.#compaction = undefined;
      else if (part >= 0) this.#stmt.deleteSnapshotPart.run(part);
      else this.#stmt.deleteTombstonePart.run(-1 - part);
      return;
    }
    const total = c.sessions.length + c.tombstones.length;
    if (c.written < total) {
      if (c.written < c.sessions.length) {
        const end = Math.min(c.sessions.length, c.written + this.#partSize);
        const values: SessionValues[] = [];
        for (let i = c.written; i < end; i++) values.push(toValues(c.sessions[i]!));
        this.#stmt.snapshot.run(c.part++, JSON.stringify(values));
        c.written = end;
        if (end === c.sessions.length) c.part = c.generation * GENERATION_PARTS;
      } else {
        const from = c.written - c.sessions.length;
        const end = Math.min(c.tombstones.length, from + this.#partSize);
        const values: TombstoneValues[] = [];
        for (let i = from; i < end; i++) values.push(tombstoneValues(...c.tombstones[i]!));
        this.#stmt.tombstones.run(c.part++, JSON.stringify(values));
        c.written = c.sessions.length + end;
      }
      return;
    }
    this.#switch(c);
  }

  /** The new generation becomes the snapshot: clocks as frozen, folded journal rows gone. */
  #switch(c: Compaction): void {
    const old = this.#generation;
    for (const [device, clock] of c.clocks) this.#stmt.setClock.run(device, clock);
    this.#stmt.setGeneration.run(c.generation);
    if (c.foldedSeq !== undefined) this.#stmt.deleteJournalUpTo.run(c.foldedSeq);
    this.#generation = c.generation;
    this.#journalEntries -= c.foldedEntries;
    if (this.#lastSeq === c.foldedSeq) this.#lastSeq = undefined;
    c.old = [...(this.#stmt.snapshotParts.all(...range(old)) as number[]), ...(this.#stmt.tombstoneParts.all(...range(old)) as number[]).map((p) => -1 - p)];
    if (c.old.length === 0) this.#compaction = undefined;
  }

  /**
   * Empties the table and fills it from the file: the snapshot generation in use, the tombstones
   * and the clocks, then the journal's changes in order. Recorded changes not yet written are
   * forgotten, and so is a compaction under way (the next one begins afresh).
   * @throws Error (SyntaxError, ...) when the stored table cannot be read; the table is then partial.
   */
  load(): void {
    const { sessions, tombstones, clocks } = this.#table;
    sessions.clear();
    clocks.clear();
    tombstones.clear();
    this.#pending = [];
    this.#compaction = undefined;
    this.#generation = (this.#stmt.generation.get() as number | undefined) ?? 0;
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
    generation: db.prepare("SELECT value FROM session_meta WHERE key = 'snapshot_generation'").pluck(),
    setGeneration: db.prepare("INSERT INTO session_meta (key, value) VALUES ('snapshot_generation', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    setClock: db.prepare('INSERT INTO session_clocks (device, clock) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET clock = excluded.clock'),
  };
}
