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

/** Sessions (or tombstones) per snapshot row: keeps each JSON text a few MB at most. */
const SNAPSHOT_PART = 10_000;

/** The in-memory table the store loads into and snapshots from. */
export interface StoredTable {
  readonly sessions: Map<string, Session>;
  readonly tombstones: Tombstones;
  readonly clocks: DeviceClocks;
}

/**
 * The session table's SQLite storage, in the shared state file: an append-only journal (one row per
 * transaction, a JSON list of changes from session-codec.ts) folded into a snapshot
 * (`session_snapshot` and `session_tombstones`, JSON parts, and `session_clocks`) once it holds
 * twice as many changes as the table has entries. Why not a row per session: updating rows in
 * place cost a random B-tree page per change (~30k transitions/s with 100k sessions), and a
 * statement costs ~5 us on the reference machine, so the hot path writes one row per batch.
 *
 * It knows nothing of the session rules: the table records its changes here (`record`), writes
 * them with `flush` inside its own transaction, and calls `load` to (re)build itself from the file.
 */
export class SessionStore {
  readonly #stmt: ReturnType<typeof prepare>;
  readonly #table: StoredTable;
  /** Entries not yet written: the changes of the transaction under way. */
  #pending: JournalEntry[] = [];
  #journalEntries = 0;
  /** The journal's last sequence number as this store wrote or read it; undefined when empty. */
  #lastSeq: number | undefined;

  /** Creates the tables if needed; `load()` reads them. */
  constructor(db: StateDb, table: StoredTable) {
    db.exec(SCHEMA);
    this.#stmt = prepare(db);
    this.#table = table;
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

  /** Writes the recorded changes as one journal row; call it inside the transaction they belong to. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const info = this.#stmt.journal.run(JSON.stringify(this.#pending));
    this.#lastSeq = Number(info.lastInsertRowid);
    this.#journalEntries += this.#pending.length;
    this.#pending = [];
  }

  /** Whether the journal holds max(65,536, 2 x table entries) changes: time to `compact`. */
  get wantsCompaction(): boolean {
    return this.#journalEntries >= Math.max(MIN_COMPACT_ENTRIES, 2 * (this.#table.sessions.size + this.#table.tombstones.size));
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
   * Writes the whole table as a snapshot and empties the journal; the moved device clocks go to
   * `session_clocks`. A full rewrite costs O(table) once per 2 x table journal entries, so O(1) per
   * change. Recorded changes not yet flushed are not written: flush first. Call it in a transaction.
   */
  compact(): void {
    const { sessions, tombstones, clocks } = this.#table;
    this.#stmt.clearSnapshot.run();
    let part = 0;
    let chunk: SessionValues[] = [];
    for (const s of sessions.values()) {
      chunk.push(toValues(s));
      if (chunk.length === SNAPSHOT_PART) {
        this.#stmt.snapshot.run(part++, JSON.stringify(chunk));
        chunk = [];
      }
    }
    if (chunk.length > 0) this.#stmt.snapshot.run(part, JSON.stringify(chunk));
    this.#stmt.clearTombstones.run();
    part = 0;
    let tombs: TombstoneValues[] = [];
    // In the map's order, so that a reload forgets the same oldest ones first.
    for (const [key, at] of tombstones.entries()) {
      tombs.push(tombstoneValues(key, at));
      if (tombs.length === SNAPSHOT_PART) {
        this.#stmt.tombstones.run(part++, JSON.stringify(tombs));
        tombs = [];
      }
    }
    if (tombs.length > 0) this.#stmt.tombstones.run(part, JSON.stringify(tombs));
    for (const [device, clock] of clocks.moved()) this.#stmt.setClock.run(device, clock);
    this.#stmt.clearJournal.run();
    clocks.saved();
    this.#journalEntries = 0;
    this.#lastSeq = undefined;
  }

  /**
   * Empties the table and fills it from the file: the snapshot, the tombstones and the clocks, then
   * the journal's changes in order. Recorded changes not yet written are forgotten.
   * @throws Error (SyntaxError, ...) when the stored table cannot be read; the table is then partial.
   */
  load(): void {
    const { sessions, tombstones, clocks } = this.#table;
    sessions.clear();
    clocks.clear();
    tombstones.clear();
    this.#pending = [];
    for (const text of this.#stmt.loadSnapshot.iterate() as Iterable<string>) {
      for (const v of JSON.parse(text) as SessionValues[]) sessions.set(keyOf(v[0], v[1]), fromValues(v));
    }
    for (const text of this.#stmt.loadTombstones.iterate() as Iterable<string>) {
      for (const [device, ip, at] of JSON.parse(text) as TombstoneValues[]) tombstones.set(keyOf(device, ip), at);
    }
    for (const { device, clock } of this.#stmt.clocks.all() as Array<{ device: string; clock: number }>) clocks.restore(device, clock);
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

function prepare(db: StateDb) {
  return {
    snapshot: db.prepare('INSERT INTO session_snapshot (part, sessions) VALUES (?, ?)'),
    clearSnapshot: db.prepare('DELETE FROM session_snapshot'),
    loadSnapshot: db.prepare('SELECT sessions FROM session_snapshot ORDER BY part').pluck(),
    loadJournal: db.prepare('SELECT seq, entries FROM session_journal ORDER BY seq'),
    journal: db.prepare('INSERT INTO session_journal (entries) VALUES (?)'),
    lastSeq: db.prepare('SELECT seq FROM session_journal ORDER BY seq DESC LIMIT 1').pluck(),
    clearJournal: db.prepare('DELETE FROM session_journal'),
    tombstones: db.prepare('INSERT INTO session_tombstones (part, tombstones) VALUES (?, ?)'),
    clearTombstones: db.prepare('DELETE FROM session_tombstones'),
    loadTombstones: db.prepare('SELECT tombstones FROM session_tombstones ORDER BY part').pluck(),
    clocks: db.prepare('SELECT device, clock FROM session_clocks'),
    setClock: db.prepare('INSERT INTO session_clocks (device, clock) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET clock = excluded.clock'),
  };
}
