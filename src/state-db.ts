import type Database from 'better-sqlite3';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BridgeError } from './errors.js';
import { betterSqlite3 } from './lazy-deps.js';

export type StateDb = Database.Database;

/** better-sqlite3, loaded on first use (lazy-deps.ts). @throws BridgeError ERR_STATE_UNREADABLE when it is missing or its addon does not load (a broken install). */
function loadSqlite(): typeof Database {
  try {
    return betterSqlite3();
  } catch (cause) {
    throw new BridgeError('ERR_STATE_UNREADABLE', `Cannot open state files: better-sqlite3, the SQLite module, does not load (${(cause as Error).message.split('\n')[0]}). Reinstall ptim-bridge with its dependencies (npm ci in a checkout, npm install for the package).`, { cause });
  }
}

/**
 * Opens (creating if needed) the bridge's SQLite state file, shared by the session table and the
 * outbox so that one transaction covers "session changed" and "event queued". WAL with
 * synchronous=NORMAL: a committed transaction survives a process crash (kill -9); only a power
 * loss can take the last few, which is the usual trade for not paying an fsync per commit.
 * Each module creates its own tables (CREATE TABLE IF NOT EXISTS) from the handle it is given.
 * @throws BridgeError ERR_STATE_UNREADABLE when the file cannot be opened, is not a database, is
 * damaged (integrity check) or is empty while it exists (a truncated copy, a full disk): starting
 * empty then would forget live sessions and undelivered events without a word.
 */
export function openStateDb(path: string): StateDb {
  if (path !== ':memory:' && existsSync(path) && statSync(path).isFile() && statSync(path).size === 0 && !existsSync(`${path}-wal`)) {
    throw new BridgeError('ERR_STATE_UNREADABLE', `State file ${path} is empty (0 bytes): it was truncated or never written (a full disk, an interrupted copy). ${wayOut(path)}`, { file: path });
  }
  // Outside the try: a missing better-sqlite3 is a broken install, not a damaged state file.
  const Sqlite = loadSqlite();
  let db: StateDb | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Sqlite(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Checkpoint at 1 MB of WAL, not SQLite's 4 MB: a checkpoint needs free space for the pages it
    // moves into the file while the WAL still holds them, so on a nearly full disk a large WAL can
    // no longer be checkpointed at all and every commit fails (test/bridge/disk-full.test.ts).
    db.pragma('wal_autocheckpoint = 250');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    // Fails fast on a file that is not a SQLite database.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (cause) {
    db?.close();
    const damaged = isCorruption(cause);
    throw new BridgeError('ERR_STATE_UNREADABLE', damaged ? `State file ${path} is damaged (${(cause as Error).message}). ${wayOut(path)}` : `Cannot open state file ${path}: ${(cause as Error).message}. Check the --state path and its permissions, or move a damaged file aside.`, { file: path, cause });
  }
  // A damaged page otherwise surfaces later, as an uncoded "database disk image is malformed" from
  // whichever query meets it first. quick_check reads every page once (milliseconds for a state
  // file of sessions and an outbox).
  let problem: string | undefined;
  try {
    const result = db.pragma('quick_check(1)', { simple: true });
    if (result !== 'ok') problem = String(result);
  } catch (cause) {
    if (!isCorruption(cause)) {
      db.close();
      throw new BridgeError('ERR_STATE_UNREADABLE', `Cannot read state file ${path}: ${(cause as Error).message}. Check the --state path and its permissions.`, { file: path, cause });
    }
    problem = (cause as Error).message;
  }
  if (problem !== undefined) {
    db.close();
    throw new BridgeError('ERR_STATE_UNREADABLE', `State file ${path} is damaged (integrity check: ${problem}). ${wayOut(path)}`, { file: path });
  }
  return db;
}

/** What to do about a damaged or empty state file, and what doing it costs. */
function wayOut(path: string): string {
  return `Stop the bridge, move the file aside (mv ${path} ${path}.damaged, with its -wal and -shm files) and start again: the bridge starts with an empty state. What is lost: the live sessions it held (each comes back at its next UP or rekey; until then JIMS keeps the mapping it had) and the events still in its outbox or dead letters (not delivered; sqlite3 ${path}.damaged ".recover" may get some back).`;
}

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Opens a state file for reading only (`stats`, `sessions --detail`): never creates, changes or
 * locks it, so it works while the bridge runs (WAL readers see the last commit and do not block
 * the writer).
 * @throws BridgeError ERR_STATE_UNREADABLE when the file is missing or is not a readable database.
 */
export function openStateDbReadOnly(path: string): StateDb {
  if (!existsSync(path)) {
    throw new BridgeError('ERR_STATE_UNREADABLE', `No state file at ${path}. Pass --state with the file the bridge or replay writes (sessions.state in the config).`, { file: path });
  }
  const Sqlite = loadSqlite();
  let db: StateDb | undefined;
  try {
    db = new Sqlite(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (cause) {
    db?.close();
    throw new BridgeError('ERR_STATE_UNREADABLE', `Cannot read state file ${path}: ${(cause as Error).message}. Check the --state path and its permissions.`, { file: path, cause });
  }
}
