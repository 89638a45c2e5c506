import test from 'ava';
import { runDemo } from '../../src/commands/demo.js';
import type { IdentityRow } from '../../src/jims-sim/identity-table.js';
import { runCli } from '../helpers/cli.js';

const expected = ['10.20.0.5 alice@corp.example', '10.20.0.6 dave@corp.example', '10.20.0.7 carol@CORP', '10.30.0.9 henry@branch.example'];
const show = (rows: IdentityRow[]) => rows.map((r) => `${r.ip} ${r.user}@${r.domain}`);

test('demo --help shows examples', async (t) => {
  const r = await runCli(['demo', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Examples:\n {2}\$ ptim-bridge demo/);
});

test('demo on a fresh machine: embedded simulator, delivery, identity table on stdout', async (t) => {
  const r = await runCli(['demo']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /JIMS simulator on https:\/\/127\.0\.0\.1:\d+ \(certificate SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\)/);
  t.regex(r.stdout, /Identity table at JIMS \(4 addresses\)/);
  for (const row of expected) {
    const [ip, who] = row.split(' ');
    t.regex(r.stdout, new RegExp(`${ip!.replaceAll('.', '\\.')}\\s+${who!.split('@')[0]}\\s+${who!.split('@')[1]}`));
  }
  t.regex(r.stdout, /JIMS received 9 events \(9 unique, 0 duplicates\)/);
});

test('demo --json prints the table as JSON', async (t) => {
  const r = await runCli(['demo', '--json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(show(JSON.parse(r.stdout) as IdentityRow[]), expected);
});

test('demo runs the real bridge: the capture goes through patterns, sessions, outbox and verified TLS', async (t) => {
  let shown: IdentityRow[] = [];
  const said: string[] = [];
  const result = await runDemo({ timeoutMs: 30_000, say: (line) => said.push(line), show: (rows) => (shown = rows) });
  t.deepEqual(show(shown), expected);
  t.deepEqual(show(result.rows), expected);
  t.true(said.some((line) => line.includes('patterns -> sessions -> outbox -> JIMS')));
});

test('demo --capture replays a capture of your own', async (t) => {
  const r = await runCli(['demo', '--json', '--capture', 'fixtures/replay-kmd.log']);
  t.is(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as IdentityRow[];
  t.true(rows.length > 0);
  t.true(rows.every((row) => row.ip !== '' && row.user !== ''));
});

test('demo --capture of a missing file is a clear error, not a stack trace', async (t) => {
  const r = await runCli(['demo', '--capture', 'no-such-file.log']);
  t.is(r.code, 1);
  t.regex(r.stderr, /ERR_INPUT_UNREADABLE/);
  t.notRegex(r.stderr, /\n\s+at /);
});
