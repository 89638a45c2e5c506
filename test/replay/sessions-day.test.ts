import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { validateConfig } from '../../src/config.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { SessionTable } from '../../src/events/sessions.js';
import { loadPatterns } from '../../src/patterns/load.js';
import { LinePipeline } from '../../src/flow/pipeline.js';
import { replayCaptures } from '../../src/replay/replay-captures.js';
import { NdjsonSink } from '../../src/flow/ndjson-sink.js';
import { openStateDb } from '../../src/state-db.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The crafted day (fixtures/sessions-day/make-day.py says what happens in it) through the real
 * replay: logins, hourly rekeys, a lost DOWN (reconnect), an IP reused by another user (superseded,
 * then that user's late DOWN ignored), a DOWN for an unknown session, rekeys that stop (expired),
 * a late rekey, and a line older than its device's clock.
 * Regenerate the golden file after a deliberate change: UPDATE_GOLDEN=1 npx ava test/replay/sessions-day.test.ts
 */
const DAY = join(repoRoot, 'fixtures/sessions-day/day.log');
const GOLDEN = join(repoRoot, 'fixtures/sessions-day/expected.ndjson');
const NOW = '2026-03-15T00:00:00Z';

test('replay --dry-run of the crafted day gives the golden events', async (t) => {
  const r = await runCli(['replay', '--dry-run', '--now', NOW, DAY]);
  t.is(r.code, 0, r.stderr);
  if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, r.stdout);
  t.is(r.stdout, readFileSync(GOLDEN, 'utf8'));
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as PtimEvent);
  const flagged = (flag: string) => events.filter((e) => e.flags.includes(flag as never)).map((e) => `${e.state} ${e.user}`);
  t.deepEqual(flagged('superseded'), ['disconnect carol']);
  t.deepEqual(flagged('reconnected'), ['connect bob']);
  t.deepEqual(flagged('orphan-disconnect'), ['disconnect erin']);
  t.deepEqual(flagged('expired'), ['disconnect frank']);
  t.deepEqual(flagged('rekey-late'), ['rekey gina']);
  t.is(events.filter((e) => e.user === 'carol').length, 3, "carol's late DOWN gives no event");
});

test('restart: two replays sharing --state over a split capture give the golden events', async (t) => {
  const dir = tempDir(t);
  const lines = readFileSync(DAY, 'utf8').split(/(?<=\n)/);
  // Cut after frank's last rekey and before his expiry: the deadline must survive the restart.
  const cut = lines.findIndex((l) => l.includes('T11:00:00'));
  writeFileSync(join(dir, 'a.log'), lines.slice(0, cut).join(''));
  writeFileSync(join(dir, 'b.log'), lines.slice(cut).join(''));
  const state = join(dir, 'state.db');
  const a = await runCli(['replay', '--dry-run', '--now', NOW, '--state', state, join(dir, 'a.log')]);
  t.is(a.code, 0, a.stderr);
  const listed = await runCli(['sessions', '--state', state, '--json']);
  t.true(listed.stdout.includes('"user":"frank"'), 'frank is live in the state between the runs');
  const b = await runCli(['replay', '--dry-run', '--now', NOW, '--state', state, join(dir, 'b.log')]);
  t.is(b.code, 0, b.stderr);
  t.is(a.stdout + b.stdout, readFileSync(GOLDEN, 'utf8'));
});

test('restart at every line of the day gives the same events', async (t) => {
  const dir = tempDir(t);
  const text = readFileSync(DAY, 'utf8');
  const lines = text.split(/(?<=\n)/);
  const golden = readFileSync(GOLDEN, 'utf8');
  const config = validateConfig({});
  const pipeline = new LinePipeline({ patterns: loadPatterns(), vpns: config.vpns });
  const run = async (file: string, state: string): Promise<string> => {
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (b: Buffer) => parts.push(b));
    const db = openStateDb(state);
    try {
      const table = new SessionTable({ db, config, clock: 'capture' });
      await replayCaptures({ files: [file], pipeline, sink: new NdjsonSink(sink), table, now: Date.parse(NOW) });
    } finally {
      db.close();
    }
    return Buffer.concat(parts).toString('utf8');
  };
  for (let cut = 1; cut < lines.length; cut++) {
    const a = join(dir, `a${cut}.log`);
    const b = join(dir, `b${cut}.log`);
    writeFileSync(a, lines.slice(0, cut).join(''));
    writeFileSync(b, lines.slice(cut).join(''));
    const state = join(dir, `s${cut}.db`);
    const out = (await run(a, state)) + (await run(b, state));
    if (out !== golden) return t.is(out, golden, `cut after line ${cut}`);
  }
  t.pass();
  return undefined;
});
