import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BridgeError } from './errors.js';

export type StateDb = Database.Database;

/**
 * Opens (creating if needed) the bridge's SQLite state file, shared by the session table and the
 * outbox so that one transaction covers "session changed" and "event queued". WAL with
 * synchronous=NORMAL: a committed transaction survives a process crash (kill -9); only a power
 * loss can take the last few, which is the usual trade for not paying an fsync per commit.
 * Each module creates its own tables (CREATE TABLE IF NOT EXISTS) from the handle it is given.
 * @throws BridgeError ERR_STATE_UNREADABLE when the file cannot be opened or is not a database.
 */
export function openStateDb(path: string): StateDb {
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    // Fails fast on a file that is not a SQLite database.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (cause) {
    throw new BridgeError('ERR_STATE_UNREADABLE', `Cannot open state file ${path}: ${(cause as Error).message}. Check the --state path and its permissions, or move a damaged file aside.`, { file: path, cause });
  }
}
