import test from 'ava';
import Database from 'better-sqlite3';
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { startBridgeProcess, startSim } from './bridge-process.js';

/** A real state file: a session table and an outbox written by the bridge's own code. */
async function stateWithData(file: string): Promise<void> {
  const { openStateDb } = await import('../../src/state-db.js');
  const db = openStateDb(file);
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)');
  const insert = db.prepare('INSERT INTO filler (text) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run(`row ${i} `.repeat(20));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Overwrites the middle of the file (pages of the filler table's b-tree) with garbage. */
function damage(file: string): void {
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(size / 2 / 4096) * 4096);
  closeSync(fd);
}

test('a damaged state file is refused at start with ERR_STATE_UNREADABLE, the way out and what it costs; no stack trace', async (t) => {
  const dir = tempDir(t, 'ptim-damaged-');
  const state = join(dir, 'state.db');
  await stateWithData(state);
  damage(state);
  // Without the check, SQLite opens it fine: the damage shows only when a query meets the page.
  const raw = new Database(state);
  t.notThrows(() => raw.prepare('SELECT count(*) FROM sqlite_master').get());
  raw.close();

  const sessions = await runCli(['sessions', '--state', state]);
  t.is(sessions.code, 1, sessions.stderr);
  t.regex(sessions.stderr, /ERR_STATE_UNREADABLE: State file .*state\.db is damaged/);
  t.regex(sessions.stderr, /move the file aside/);
  t.regex(sessions.stderr, /What is lost: the live sessions/);
  t.notRegex(sessions.stderr, /^\s+at /m, 'no stack trace');

  const { sim, caFile } = await startSim(t, dir);
  const run = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, waitReady: false });
  const { code } = await run.exit;
  t.is(code, 1, run.stderr());
  t.regex(run.stderr(), /ERR_STATE_UNREADABLE: State file .*is damaged/);
  t.notRegex(run.stderr(), /^\s+at /m);
});

test('an empty (0-byte) state file is refused, not silently started empty', async (t) => {
  const dir = tempDir(t, 'ptim-empty-');
  const state = join(dir, 'state.db');
  writeFileSync(state, '');
  const r = await runCli(['sessions', '--state', state]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /ERR_STATE_UNREADABLE: State file .*state\.db is empty \(0 bytes\)/);
  t.regex(r.stderr, /move the file aside/);
  t.is(readFileSync(state).length, 0, 'the file is left as it was');
});
