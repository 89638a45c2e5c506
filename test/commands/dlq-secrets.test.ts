import anyTest from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import got from 'got';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { createJimsClient } from '../../src/delivery/jims-client.js';
import { silentLogger } from '../../src/log.js';
import { openStateDb } from '../../src/state-db.js';
import { startSim } from '../delivery/sim-setup.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { jimsEvent } from '../helpers/jims-events.js';

// Each test starts CLI processes (tsx compiles on start): one at a time.
const test = anyTest.serial;

/** JIMS answers every push 400 and writes the Authorization header and bearer token it got into the body. */
const ECHO_400 = { next: { status: 400, count: 1000, route: 'events' as const }, echoAuthorization: true };

test('jims-sim: with echoAuthorization an injected 400 carries the bearer token (the attack the bridge must survive)', async (t) => {
  const { sim } = await startSim(t, {}, ECHO_400);
  const http = got.extend({ prefixUrl: sim.url, https: { certificateAuthority: sim.ca }, throwHttpErrors: false, retry: { limit: 0 } });
  const { access_token: token } = await http.post('oauth_token/oauth', { form: { grant_type: 'client_credentials', client_id: 'bridge', client_secret: 's3cret' } }).json<{ access_token: string }>();
  const res = await http.post('api/v1/ptim/events', { json: { events: [] }, headers: { authorization: `Bearer ${token}` } });
  t.is(res.statusCode, 400);
  t.true(res.body.includes(`Bearer ${token}`));
  t.true(res.body.includes(`token ${token} refused`));
});

test('jims client: a rejected push keeps JIMS\' answer without the token it echoed', async (t) => {
  const { sim, jims } = await startSim(t, {}, ECHO_400);
  const client = await createJimsClient(jims, { log: silentLogger(), registry: new Registry() });
  t.teardown(() => client.close());
  const outcome = await client.push([jimsEvent('10.20.0.5')]);
  const tokens = sim.issuedTokens();
  t.is(tokens.length, 1);
  t.is(outcome.kind, 'rejected');
  const body = outcome.kind === 'rejected' ? outcome.body : '';
  t.false(body.includes(tokens[0]!), body);
  t.regex(body, /"error":"injected"/);
  t.regex(body, /\[redacted\]/);
});

test('replay against a JIMS that echoes the bearer token in its 400: no token in the dead-letter store, dlq list or the output', async (t) => {
  const { sim, dir, jimsInput } = await startSim(t, {}, ECHO_400);
  const config = join(dir, 'ptim-bridge.yaml');
  const state = join(dir, 'state.db');
  writeFileSync(config, stringify({ jims: jimsInput, log: { level: 'debug' } }));
  const replay = await runCli(['replay', '--config', config, '--state', state, join(repoRoot, 'fixtures', 'replay-kmd.log')]);
  t.is(replay.code, 1, replay.stderr);
  t.regex(replay.stderr, /ERR_JIMS_REJECTED/);

  const tokens = sim.issuedTokens();
  t.true(tokens.length > 0, 'the bridge fetched a token');
  t.true(sim.stats().byStatus['400']! > 0, 'JIMS answered 400 with the echo');
  const secrets = [...tokens, 's3cret'];
  const absent = (where: string, text: string) => {
    for (const s of secrets) t.false(text.includes(s), `${where} holds a secret: ${text.slice(0, 500)}`);
  };
  absent('replay stdout', replay.stdout);
  absent('replay stderr', replay.stderr);

  const db = openStateDb(state);
  const rows = db.prepare('SELECT body FROM dead_letters').all() as Array<{ body: string }>;
  db.close();
  t.true(rows.length > 0);
  for (const row of rows) {
    absent('dead_letters.body', row.body);
    t.regex(row.body, /\[redacted\]/);
  }
  // The bytes of the state file and its WAL, not only what SQL returns.
  for (const file of readdirSync(dir).filter((f) => f.startsWith('state.db'))) absent(file, readFileSync(join(dir, file)).toString('latin1'));

  const json = await runCli(['dlq', 'list', '--state', state, '--json']);
  t.is(json.code, 0, json.stderr);
  absent('dlq list --json', json.stdout + json.stderr);
  const letters = JSON.parse(json.stdout) as Array<{ status: number; body: string }>;
  t.true(letters.length > 0 && letters.every((l) => l.status === 400 && l.body.includes('[redacted]')));

  const table = await runCli(['dlq', 'list', '--state', state]);
  t.is(table.code, 0, table.stderr);
  absent('dlq list', table.stdout + table.stderr);
});

test('dlq list redacts letters stored before redaction existed', async (t) => {
  const { dir } = await startSim(t);
  const state = join(dir, 'old.db');
  const db = openStateDb(state);
  // The table as the outbox creates it; one row as an older bridge would have written it.
  const { DeadLetters } = await import('../../src/delivery/dead-letters.js');
  new DeadLetters(db);
  db.prepare('INSERT INTO dead_letters (batch_id, status, body, time, event_count, events) VALUES (?, ?, ?, ?, ?, ?)')
    .run('old-1', 400, '{"error":"bad","authorization":"Bearer leakedTok3n"}', Date.now(), 0, '[]');
  db.close();
  const json = await runCli(['dlq', 'list', '--state', state, '--json']);
  t.is(json.code, 0, json.stderr);
  t.false(json.stdout.includes('leakedTok3n'));
  t.regex(json.stdout, /\[redacted\]/);
});
