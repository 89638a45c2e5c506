import test, { type ExecutionContext } from 'ava';
import { X509Certificate } from 'node:crypto';
import got, { type Got } from 'got';
import { startJimsSim, type JimsSim, type JimsSimOptions } from '../../src/jims-sim/server.js';
import { jimsEvent } from '../helpers/jims-events.js';

async function sim(t: ExecutionContext, options: Partial<JimsSimOptions> = {}): Promise<{ s: JimsSim; http: Got }> {
  const s = await startJimsSim({ clientId: 'bridge', clientSecret: 'pw', ...options });
  t.teardown(() => s.close());
  const http = got.extend({
    prefixUrl: s.url,
    https: { certificateAuthority: s.ca },
    throwHttpErrors: false,
    retry: { limit: 0 },
    timeout: { request: 5000 },
  });
  return { s, http };
}

async function token(http: Got): Promise<string> {
  const res = await http.post('oauth_token/oauth', { form: { grant_type: 'client_credentials', client_id: 'bridge', client_secret: 'pw' } }).json<{ access_token: string }>();
  return res.access_token;
}

test('self-signed certificate covers loopback, fingerprint is its SHA-256', async (t) => {
  const { s } = await sim(t);
  t.regex(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const cert = new X509Certificate(s.ca);
  t.is(s.fingerprint, cert.fingerprint256);
  t.true(cert.checkIP('127.0.0.1') !== undefined);
  t.true(cert.checkHost('localhost') !== undefined);
});

test('token endpoint: client credentials in the form body or HTTP Basic', async (t) => {
  const { http } = await sim(t, { tokenLifetimeSeconds: 120 });
  const ok = await http.post('oauth_token/oauth', { form: { grant_type: 'client_credentials', client_id: 'bridge', client_secret: 'pw' } });
  t.is(ok.statusCode, 200);
  const body = JSON.parse(ok.body) as { access_token: string; token_type: string; expires_in: number };
  t.is(body.token_type, 'Bearer');
  t.is(body.expires_in, 120);
  t.true(body.access_token.length >= 32);
  const basic = await http.post('oauth_token/oauth', { form: { grant_type: 'client_credentials' }, headers: { authorization: `Basic ${Buffer.from('bridge:pw').toString('base64')}` } });
  t.is(basic.statusCode, 200);
  const wrong = await http.post('oauth_token/oauth', { form: { grant_type: 'client_credentials', client_id: 'bridge', client_secret: 'nope' } });
  t.is(wrong.statusCode, 401);
  t.regex(wrong.body, /invalid_client/);
  const grant = await http.post('oauth_token/oauth', { form: { grant_type: 'password', client_id: 'bridge', client_secret: 'pw' } });
  t.is(grant.statusCode, 400);
});

test('events endpoint: Bearer required, body validated, accepted count answered', async (t) => {
  const { s, http } = await sim(t);
  const events = [jimsEvent('10.20.0.5'), jimsEvent('10.20.0.6', 'connect', { user: 'bob' })];
  t.is((await http.post('api/v1/ptim/events', { json: { events } })).statusCode, 401);
  t.is((await http.post('api/v1/ptim/events', { json: { events }, headers: { authorization: 'Bearer made-up' } })).statusCode, 401);
  const auth = { authorization: `Bearer ${await token(http)}` };
  const notJson = await http.post('api/v1/ptim/events', { body: '{', headers: { ...auth, 'content-type': 'application/json' } });
  t.is(notJson.statusCode, 400);
  const badState = await http.post('api/v1/ptim/events', { json: { events: [{ ...events[0], state: 'login' }] }, headers: auth });
  t.is(badState.statusCode, 400);
  t.regex(badState.body, /events\.0\.state/);
  t.is((await http.post('api/v1/ptim/events', { json: { events: [] }, headers: auth })).statusCode, 400);
  const ok = await http.post('api/v1/ptim/events', { json: { events }, headers: auth });
  t.is(ok.statusCode, 200);
  t.deepEqual(JSON.parse(ok.body), { accepted: 2 });
  t.is(s.events().received, 2);
});

test('identity table and received events are served as JSON', async (t) => {
  const { http } = await sim(t);
  const auth = { authorization: `Bearer ${await token(http)}` };
  const up = jimsEvent('10.20.0.5');
  await http.post('api/v1/ptim/events', { json: { events: [up, jimsEvent('10.20.0.6', 'connect', { user: 'bob' })] }, headers: auth });
  await http.post('api/v1/ptim/events', { json: { events: [up, jimsEvent('10.20.0.6', 'disconnect', { user: 'bob', time: '2026-03-14T10:00:00.000Z' })] }, headers: auth });
  const sessions = await http.get('api/v1/ptim/sessions').json<unknown[]>();
  t.deepEqual(sessions, [{ ip: '10.20.0.5', user: 'alice', domain: 'corp.example', device: 'srx-hq', since: '2026-03-14T09:02:11.000Z' }]);
  const received = await http.get('api/v1/ptim/events').json<{ received: number; unique: number; duplicates: number; duplicateIds: Record<string, number>; events: Array<{ event: { id: string } }> }>();
  t.is(received.received, 4);
  t.is(received.unique, 3);
  t.is(received.duplicates, 1);
  t.deepEqual(received.duplicateIds, { [up.id]: 2 });
  t.deepEqual(received.events.map((e) => e.event.id)[0], up.id);
});

test('unknown path 404, wrong method 405', async (t) => {
  const { http } = await sim(t);
  t.is((await http.get('nope')).statusCode, 404);
  t.is((await http.get('oauth_token/oauth')).statusCode, 405);
});

test('misbehaviour: injected status with Retry-After, fail rate, down and up again', async (t) => {
  const { s, http } = await sim(t, { behaviour: { status: 503, retryAfter: '9' } });
  const res = await http.post('oauth_token/oauth', { form: { grant_type: 'client_credentials', client_id: 'bridge', client_secret: 'pw' } });
  t.is(res.statusCode, 503);
  t.is(res.headers['retry-after'], '9');
  await s.setBehaviour({ status: undefined, failRate: 1 });
  t.is((await http.post('oauth_token/oauth', { form: {} })).statusCode, 503);
  await s.setBehaviour({ failRate: 0, down: true });
  const refused = await t.throwsAsync(() => http.get('api/v1/ptim/sessions'));
  // A kept-alive socket cut by "down" may surface as a reset instead of a refusal.
  t.true(['ECONNREFUSED', 'ECONNRESET'].includes((refused as { code?: string }).code ?? ''));
  await s.setBehaviour({ down: false });
  t.is((await http.get('api/v1/ptim/sessions')).statusCode, 200);
  t.is((await token(http)).length > 0, true);
});

test('oversized body gets 413', async (t) => {
  const { http } = await sim(t, { maxBodyBytes: 1024 });
  const auth = { authorization: `Bearer ${await token(http)}` };
  const res = await http.post('api/v1/ptim/events', { body: `{"events":[${'"x",'.repeat(1000)}"x"]}`, headers: { ...auth, 'content-type': 'application/json' } });
  t.is(res.statusCode, 413);
});
