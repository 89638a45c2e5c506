import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Outbox } from '../../src/delivery/outbox.js';
import { openStateDb } from '../../src/state-db.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { makeEvent } from '../delivery/make-events.js';

/** A state file with two dead letters (ids 1 and 2) and an empty outbox. */
function stateWithDeadLetters(t: import('ava').ExecutionContext): string {
  const file = join(tempDir(t), 'state.db');
  const db = openStateDb(file);
  const outbox = new Outbox(db);
  db.transaction(() => outbox.add([makeEvent(1, 'connect'), makeEvent(2, 'connect'), makeEvent(3, 'connect')]))();
  const rows = outbox.read(0, 10);
  outbox.deadLetter({ batchId: 'a', status: 400, body: '{"error":\n"user\u001b[31m unknown"}', rows: rows.slice(0, 2), time: Date.UTC(2026, 2, 14) });
  outbox.deadLetter({ batchId: 'b', status: 422, body: 'x'.repeat(500), rows: rows.slice(2), time: Date.UTC(2026, 2, 15) });
  db.close();
  return file;
}

function backlog(file: string): number {
  const db = openStateDb(file);
  try {
    return new Outbox(db).backlog();
  } finally {
    db.close();
  }
}

test('dlq list: a table with id, time, status, events and a one-line, cleaned body excerpt', async (t) => {
  const file = stateWithDeadLetters(t);
  const r = await runCli(['dlq', 'list', '--state', file]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines.length, 3);
  t.regex(lines[0]!, /^ID\s+TIME\s+STATUS\s+EVENTS\s+BODY$/);
  t.regex(lines[1]!, /^1\s+2026-03-14T00:00:00.000Z\s+400\s+2\s+\{"error": "user \[31m unknown"\}$/);
  t.false(r.stdout.includes('\u001b'));
  t.true(lines[2]!.endsWith('x...'));
  t.true(lines[2]!.length < 120);
});

test('dlq list --json: full records', async (t) => {
  const file = stateWithDeadLetters(t);
  const r = await runCli(['dlq', 'list', '--json', '--state', file]);
  t.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.like(list[1], { id: 2, batchId: 'b', status: 422, events: 1, time: '2026-03-15T00:00:00.000Z' });
  t.is((list[1]!.body as string).length, 500);
});

test('dlq list takes the state file from --config', async (t) => {
  const file = stateWithDeadLetters(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bridge.yaml'), `sessions:\n  state: ${file}\n`);
  const r = await runCli(['dlq', 'list', '--json', '--config', join(dir, 'bridge.yaml')]);
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as unknown[]).length, 2);
});

test('dlq retry moves the chosen dead letters back into the outbox', async (t) => {
  const file = stateWithDeadLetters(t);
  const r = await runCli(['dlq', 'retry', '2', '--state', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Moved 1 dead letter\(s\), 1 event\(s\)/);
  t.is(backlog(file), 1);
  const all = await runCli(['dlq', 'retry', '--state', file]);
  t.regex(all.stdout, /Moved 1 dead letter\(s\), 2 event\(s\)/);
  t.is(backlog(file), 3);
  const none = await runCli(['dlq', 'list', '--state', file]);
  t.regex(none.stdout, /No dead letters/);
});

test('dlq purge without --yes and without a terminal refuses and says what to do', async (t) => {
  const file = stateWithDeadLetters(t);
  const r = await runCli(['dlq', 'purge', '--state', file]);
  t.is(r.code, 2);
  t.regex(r.stderr, /ERR_USAGE.*2 dead letter\(s\), 3 event\(s\).*--yes/);
  const yes = await runCli(['dlq', 'purge', '1', '--yes', '--state', file]);
  t.is(yes.code, 0, yes.stderr);
  t.regex(yes.stdout, /Purged 1 dead letter\(s\), 2 event\(s\)/);
  const list = JSON.parse((await runCli(['dlq', 'list', '--json', '--state', file])).stdout) as Array<{ id: number }>;
  t.deepEqual(list.map((d) => d.id), [2]);
});

test('dlq errors: unknown id, bad id, missing state file', async (t) => {
  const file = stateWithDeadLetters(t);
  const unknown = await runCli(['dlq', 'retry', '7', '--state', file]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /ERR_USAGE: No dead letter with id 7.*dlq list/);
  const bad = await runCli(['dlq', 'purge', 'x1', '--yes', '--state', file]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /positive integers, got "x1"/);
  const missing = await runCli(['dlq', 'list', '--state', join(tempDir(t), 'nope.db')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /ERR_STATE_UNREADABLE: No state file at .*--state/);
});

test('dlq --help has examples', async (t) => {
  for (const sub of ['list', 'retry', 'purge']) {
    const r = await runCli(['dlq', sub, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, /Examples?:\n\s+\$ ptim-bridge dlq/);
  }
});

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input`. */
function runOnTty(args: string[], input: string): { status: number | null; output: string } {
  const command = [process.execPath, '--import', 'tsx', `${repoRoot}src/main.ts`, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { input, cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, output: r.stdout };
}

const hasScript = spawnSync('script', ['--version']).status === 0;

(hasScript ? test : test.skip)('dlq purge on a terminal asks first; only "y" deletes', (t) => {
  const file = stateWithDeadLetters(t);
  const no = runOnTty(['dlq', 'purge', '--state', file], 'n\n');
  t.is(no.status, 0, no.output);
  t.regex(no.output, /Delete 2 dead letter\(s\), 3 event\(s\) from .* for good\? \[y\/N\]/);
  t.regex(no.output, /Nothing purged/);
  const yes = runOnTty(['dlq', 'purge', '2', '--state', file], 'y\n');
  t.is(yes.status, 0, yes.output);
  t.regex(yes.output, /Purged 1 dead letter\(s\), 1 event\(s\)/);
});
