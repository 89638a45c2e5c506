import test, { type ExecutionContext } from 'ava';
import { Writable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { validateConfig, type ConfigInput } from '../../src/config.js';
import { createJimsClient, type HttpJimsClient } from '../../src/delivery/jims-client.js';
import type { BridgeError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { startJimsSim, type JimsSim, type JimsSimOptions } from '../../src/jims-sim/server.js';
import { jimsEvent } from '../helpers/jims-events.js';
import { findEvent, logEntries } from '../helpers/logs.js';
import { createTestCa } from '../helpers/test-ca.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const SECRET = 's3cr3t-Value-That-Must-Not-Leak';
const SECRET_ENV = 'PTIM_TEST_JIMS_CLIENT_SECRET';
process.env[SECRET_ENV] = SECRET;

async function sim(t: ExecutionContext, options: Partial<JimsSimOptions> = {}): Promise<JimsSim> {
  const s = await startJimsSim({ clientId: 'bridge', clientSecret: SECRET, ...options });
  t.teardown(() => s.close());
  return s;
}

/** The sim's self-signed certificate written where `jims.ca` can point. */
function caFileFor(t: ExecutionContext, s: JimsSim, name = 'sim-ca.pem'): string {
  const file = join(tempDir(t), name);
  writeFileSync(file, s.ca);
  return file;
}

interface ClientSetup {
  jims?: NonNullable<ConfigInput['jims']>;
  log?: Logger;
  now?: () => number;
  registry?: Registry;
}

async function client(t: ExecutionContext, s: JimsSim | undefined, setup: ClientSetup = {}): Promise<HttpJimsClient> {
  const jims = validateConfig({
    jims: { url: s?.url, clientId: 'bridge', clientSecret: `env:${SECRET_ENV}`, ca: s ? caFileFor(t, s) : undefined, timeoutMs: 5000, ...setup.jims },
  }).jims;
  const deps = { log: setup.log ?? silentLogger(), registry: setup.registry ?? new Registry(), now: setup.now };
  const c = await createJimsClient(jims, deps);
  t.teardown(() => c.close());
  return c;
}

/** A logger whose every line lands in `lines`, at the most verbose level. */
function capturingLogger(): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: pino({ level: 'trace' }, stream), text: () => chunks.join('') };
}

const batch = [jimsEvent('10.20.0.5'), jimsEvent('10.20.0.6', 'connect', { user: 'bob' })];

test('delivers a batch and reuses the token for later pushes', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  t.deepEqual(await c.push(batch), { kind: 'delivered', accepted: 2, endpoint: 'primary' });
  t.deepEqual(await c.push([jimsEvent('10.20.0.7', 'connect', { user: 'carol' })]), { kind: 'delivered', accepted: 1, endpoint: 'primary' });
  await c.push([jimsEvent('10.20.0.5', 'disconnect')]);
  t.is(s.stats().tokensIssued, 1);
  t.is(s.stats().tokenRequests, 1);
  t.deepEqual(s.identities().map((r) => `${r.ip}=${r.user}`), ['10.20.0.6=bob', '10.20.0.7=carol']);
});

test('concurrent first pushes share one token request', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => c.push([jimsEvent(`10.20.1.${i + 1}`)])));
  t.true(outcomes.every((o) => o.kind === 'delivered'));
  t.is(s.stats().tokensIssued, 1);
});

test('token is replaced shortly before expires_in, not after', async (t) => {
  const s = await sim(t, { tokenLifetimeSeconds: 100 });
  let clock = Date.now();
  const c = await client(t, s, { now: () => clock });
  await c.push(batch);
  clock += 85_000; // before 90 s (100 s less 10%): still cached
  await c.push(batch);
  t.is(s.stats().tokensIssued, 1);
  clock += 6_000; // past 90 s: replaced before use
  await c.push(batch);
  t.is(s.stats().tokensIssued, 2);
  t.is(s.stats().byStatus['401'] ?? 0, 0, 'never sent a stale token');
});

test('token expiring mid-stream: one 401, one refresh, the batch is delivered', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  t.is((await c.push(batch)).kind, 'delivered');
  s.revokeTokens();
  t.deepEqual(await c.push([jimsEvent('10.20.0.9')]), { kind: 'delivered', accepted: 1, endpoint: 'primary' });
  t.is(s.stats().tokensIssued, 2);
  t.is(s.stats().byStatus['401'], 1);
  t.is(s.events().received, 3);
});

test('simulator expiring tokens early (--expire-tokens-after) is survived by refreshing', async (t) => {
  let simClock = Date.now();
  const s = await sim(t, { behaviour: { expireTokensAfterSeconds: 5 }, now: () => simClock });
  const c = await client(t, s);
  await c.push(batch);
  simClock += 6000;
  t.is((await c.push(batch)).kind, 'delivered');
  t.is(s.stats().tokensIssued, 2);
});

test('401 is answered by exactly one refresh, then a retry outcome (no loop, no dead letter)', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  await c.push(batch);
  await s.setBehaviour({ next: { status: 401, count: 5 } });
  const outcome = await c.push(batch);
  t.is(outcome.kind, 'retry');
  t.is(outcome.kind === 'retry' ? outcome.status : undefined, 401);
  t.is(s.stats().eventRequests, 3, 'first push + the two tries of the second');
  t.is(s.stats().tokensIssued, 2);
});

test('429 with Retry-After: retry outcome carrying the delay, and no failover', async (t) => {
  const primary = await sim(t);
  const secondary = await sim(t);
  const c = await client(t, primary, { jims: { secondaryUrl: secondary.url } });
  await primary.setBehaviour({ next: { status: 429, retryAfter: '7' } });
  const outcome = await c.push(batch);
  t.deepEqual(outcome, { kind: 'retry', reason: 'primary: HTTP 429', status: 429, retryAfterMs: 7000 });
  t.is(c.active, 'primary');
  t.is(secondary.stats().eventRequests, 0);
});

test('503 storm: every push is a retry with the status; then JIMS recovers', async (t) => {
  const s = await sim(t, { behaviour: { status: 503, retryAfter: 'Sun, 06 Nov 2095 08:49:37 GMT' } });
  const c = await client(t, s);
  for (let i = 0; i < 3; i++) {
    const outcome = await c.push(batch);
    t.is(outcome.kind, 'retry');
    if (outcome.kind === 'retry') {
      t.is(outcome.status, 503);
      t.true((outcome.retryAfterMs ?? 0) > 1e9, 'HTTP-date Retry-After parsed');
    }
  }
  await s.setBehaviour({ status: undefined });
  t.is((await c.push(batch)).kind, 'delivered');
  t.is(s.events().received, 2);
});

test('slow JIMS: the request times out, is a retry, and the abandoned batch is not recorded', async (t) => {
  const s = await sim(t);
  // Generous against a loaded machine, still far below the injected latency.
  const c = await client(t, s, { jims: { timeoutMs: 1500 } });
  t.is((await c.push(batch)).kind, 'delivered'); // token fetched while fast
  await s.setBehaviour({ latencyMs: 30_000 });
  const outcome = await c.push(batch);
  t.is(outcome.kind, 'retry');
  t.regex(outcome.kind === 'retry' ? outcome.reason : '', /ETIMEDOUT|Timeout/i);
  await s.setBehaviour({ latencyMs: 0 });
  t.is((await c.push(batch)).kind, 'delivered');
  t.is(s.events().received, 4);
  t.is(s.events().duplicates, 2, 'the same batch twice (first and third push), counted by event id');
});

test('dropped connection is a retry, the next push goes through', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  await c.push(batch);
  await s.setBehaviour({ dropNext: 1 });
  const outcome = await c.push(batch);
  t.is(outcome.kind, 'retry');
  t.is((await c.push(batch)).kind, 'delivered');
});

test('400 is a rejection with the status and the body', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  const bad = { ...jimsEvent('10.20.0.5'), ip: 'not-an-address' };
  const outcome = await c.push([bad]);
  t.is(outcome.kind, 'rejected');
  if (outcome.kind === 'rejected') {
    t.is(outcome.status, 400);
    t.regex(outcome.body, /events\.0\.ip/);
  }
  t.is(s.events().received, 0);
});

test('TLS name mismatch: clear ERR_JIMS_TLS, nothing reaches the simulator', async (t) => {
  const ca = createTestCa(tempDir(t));
  const s = await sim(t, { tls: ca.issue(['jims.wrong.example']) });
  const logs = capturingLogger();
  const c = await client(t, s, { jims: { ca: ca.caFile }, log: logs.log });
  const outcome = await c.push(batch);
  t.is(outcome.kind, 'retry');
  t.regex(outcome.kind === 'retry' ? outcome.reason : '', /ERR_JIMS_TLS ERR_TLS_CERT_ALTNAME_INVALID/);
  await c.push(batch);
  const error = await t.throwsAsync<BridgeError>(() => c.check());
  t.is(error?.code, 'ERR_JIMS_TLS');
  t.regex(error?.message ?? '', /--jims-ca/);
  t.is(s.stats().tokenRequests + s.stats().eventRequests, 0);
  t.true(s.stats().tlsErrors >= 1);
  const errors = logs.text().split('\n').filter((l) => l.includes('"ERR_JIMS_TLS"'));
  t.is(errors.length, 1, 'reported once, not per push');
});

test('certificate from the right CA with the right name is accepted', async (t) => {
  const ca = createTestCa(tempDir(t));
  const s = await sim(t, { tls: ca.issue(['127.0.0.1', 'localhost']) });
  const c = await client(t, s, { jims: { ca: ca.caFile } });
  t.is(await c.check(), 'primary');
  t.is((await c.push(batch)).kind, 'delivered');
});

test('untrusted self-signed certificate is refused unless insecureSkipVerify (which warns)', async (t) => {
  const s = await sim(t);
  const strict = await client(t, s, { jims: { ca: undefined } });
  const refused = await strict.push(batch);
  t.regex(refused.kind === 'retry' ? refused.reason : '', /ERR_JIMS_TLS/);
  t.is(s.stats().tokenRequests, 0);

  const logs = capturingLogger();
  const lax = await client(t, s, { jims: { ca: undefined, insecureSkipVerify: true }, log: logs.log });
  t.regex(logs.text(), /"level":40.*insecureSkipVerify/);
  t.is((await lax.push(batch)).kind, 'delivered');
});

test('primary down, secondary up: delivered to the secondary, back to the primary when it answers', async (t) => {
  const ca = createTestCa(tempDir(t));
  const cert = ca.issue(['127.0.0.1']);
  const primary = await sim(t, { tls: cert });
  const secondary = await sim(t, { tls: cert });
  const logs = capturingLogger();
  const registry = new Registry();
  const c = await client(t, primary, { jims: { ca: ca.caFile, secondaryUrl: secondary.url, probeIntervalSeconds: 1 }, log: logs.log, registry });
  t.is((await c.push(batch)).kind, 'delivered');

  await primary.setBehaviour({ down: true });
  t.deepEqual(await c.push([jimsEvent('10.20.0.8')]), { kind: 'delivered', accepted: 1, endpoint: 'secondary' });
  t.is(c.active, 'secondary');
  t.deepEqual(await c.push([jimsEvent('10.20.0.9')]), { kind: 'delivered', accepted: 1, endpoint: 'secondary' });
  t.is(secondary.events().received, 2);
  t.like(findEvent(logEntries(logs.text()), 'jims-switched', { from: 'primary', to: 'secondary' }), { level: 40 });

  await primary.setBehaviour({ down: false });
  await waitUntil(() => c.active === 'primary', 15_000, 'the probe to find the primary again');
  t.truthy(findEvent(logEntries(logs.text()), 'jims-switched', { from: 'secondary', to: 'primary' }));
  t.deepEqual(await c.push([jimsEvent('10.20.0.10')]), { kind: 'delivered', accepted: 1, endpoint: 'primary' });
  t.is(primary.events().received, 3);
  const switches = await registry.getSingleMetricAsString('ptim_bridge_jims_endpoint_switches_total');
  t.regex(switches, /to="secondary"} 1/);
  t.regex(switches, /to="primary"} 1/);
});

test('both endpoints down: a retry outcome, and each push tries both once', async (t) => {
  const ca = createTestCa(tempDir(t));
  const cert = ca.issue(['127.0.0.1']);
  const primary = await sim(t, { tls: cert, behaviour: { status: 503 } });
  const secondary = await sim(t, { tls: cert, behaviour: { status: 502 } });
  const c = await client(t, primary, { jims: { ca: ca.caFile, secondaryUrl: secondary.url } });
  const outcome = await c.push(batch);
  t.is(outcome.kind, 'retry');
  t.is(outcome.kind === 'retry' ? outcome.status : undefined, 502);
  t.is(primary.stats().tokenRequests + secondary.stats().tokenRequests, 2);
});

test('the secret and tokens never reach the logs or outcomes', async (t) => {
  const ca = createTestCa(tempDir(t));
  const cert = ca.issue(['127.0.0.1']);
  const primary = await sim(t, { tls: cert });
  const secondary = await sim(t, { tls: cert });
  const logs = capturingLogger();
  const c = await client(t, primary, { jims: { ca: ca.caFile, secondaryUrl: secondary.url, insecureSkipVerify: true, timeoutMs: 1500 }, log: logs.log });
  const outcomes: unknown[] = [];
  outcomes.push(await c.push(batch));
  primary.revokeTokens();
  outcomes.push(await c.push(batch));
  await primary.setBehaviour({ next: { status: 401, count: 2 } });
  outcomes.push(await c.push(batch));
  await primary.setBehaviour({ next: { status: 401, route: 'token' } });
  primary.revokeTokens();
  outcomes.push(await c.push(batch));
  await primary.setBehaviour({ latencyMs: 30_000 });
  outcomes.push(await c.push(batch));
  await primary.setBehaviour({ down: true });
  outcomes.push(await c.push(batch));
  const text = logs.text() + JSON.stringify(outcomes);
  if (process.env.SHOW_LOGS) t.log(text);
  t.true(text.length > 0);
  t.false(text.includes(SECRET), 'secret in logs');
  t.false(/bearer /i.test(text), 'authorization header in logs');
  t.false(/access_token|client_secret/.test(text), 'token fields in logs');
  // Issued tokens are 32 base64url characters; event ids are 32 hex characters, so look for
  // anything of that length that is not plain hex.
  const tokenLike = (text.match(/[A-Za-z0-9_-]{32}/g) ?? []).filter((s) => !/^[0-9a-f]{32}$/.test(s));
  t.deepEqual(tokenLike, []);
});

test('missing or unresolvable settings fail at creation with a code', async (t) => {
  const deps = { log: silentLogger(), registry: new Registry() };
  const base = validateConfig({ jims: { url: 'https://127.0.0.1:1', clientId: 'bridge', clientSecret: 'env:PTIM_TEST_UNSET_SECRET_VAR' } }).jims;
  const unset = await t.throwsAsync<BridgeError>(() => createJimsClient(base, deps));
  t.is(unset?.code, 'ERR_SECRET_UNAVAILABLE');
  t.false(unset?.message.includes(SECRET));
  const noUrl = await t.throwsAsync<BridgeError>(() => createJimsClient({ ...base, url: undefined }, deps));
  t.is(noUrl?.code, 'ERR_CONFIG_INVALID');
  const noCa = await t.throwsAsync<BridgeError>(() => createJimsClient({ ...base, clientSecret: `env:${SECRET_ENV}`, ca: '/nonexistent/ca.pem' }, deps));
  t.is(noCa?.code, 'ERR_CONFIG_INVALID');
  t.is(noCa?.key, 'jims.ca');
  const withCreds = await t.throwsAsync<BridgeError>(() => createJimsClient({ ...base, clientSecret: `env:${SECRET_ENV}`, secondaryUrl: 'https://u:hunter2@127.0.0.1:2' }, deps));
  t.is(withCreds?.key, 'jims.secondaryUrl');
  t.false(withCreds?.message.includes('hunter2'));
});

test('connection refused with no secondary: a retry naming the cause; check() says unavailable', async (t) => {
  const s = await sim(t);
  const c = await client(t, s);
  await s.setBehaviour({ down: true });
  const outcome = await c.push(batch);
  t.regex(outcome.kind === 'retry' ? outcome.reason : '', /ECONNREFUSED/);
  const error = await t.throwsAsync<BridgeError>(() => c.check());
  t.is(error?.code, 'ERR_JIMS_UNAVAILABLE');
});
