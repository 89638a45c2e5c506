import test from 'ava';
import { EndpointSelector } from '../../src/delivery/jims-failover.js';
import { classifyError, classifyResponse, type Verdict } from '../../src/delivery/jims-response.js';
import { refreshAt, TokenSource } from '../../src/delivery/oauth-token.js';

const now = Date.parse('2026-11-29T06:00:00Z');
const responses: Array<[number, Record<string, string>, Verdict['kind']]> = [
  [200, {}, 'ok'], [204, {}, 'ok'], [401, {}, 'unauthorized'], [408, {}, 'busy'], [429, { 'retry-after': '2' }, 'busy'],
  [400, {}, 'rejected'], [403, {}, 'rejected'], [404, {}, 'rejected'], [413, {}, 'rejected'], [422, {}, 'rejected'],
  [500, {}, 'down'], [502, {}, 'down'], [503, { 'retry-after': '5' }, 'down'], [504, {}, 'down'], [302, {}, 'down'],
];
for (const [status, headers, kind] of responses) {
  test(`classifyResponse ${status} -> ${kind}`, (t) => {
    const v = classifyResponse(status, headers, 'body', now);
    t.is(v.kind, kind);
    if (headers['retry-after']) t.like(v, { retryAfterMs: Number(headers['retry-after']) * 1000 });
  });
}

test('classifyResponse keeps at most 4 KiB of a rejection body', (t) => {
  const v = classifyResponse(400, {}, 'x'.repeat(10_000), now);
  t.true(v.kind === 'rejected' && v.body.length <= 4100);
});

const errors: Array<[string | undefined, string, Verdict['kind']]> = [
  ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1', 'down'],
  ['ETIMEDOUT', "Timeout awaiting 'request' for 300ms", 'down'],
  ['ECONNRESET', 'socket hang up', 'down'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", 'tls'],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', 'tls'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate', 'tls'],
  ['CERT_HAS_EXPIRED', 'certificate has expired', 'tls'],
  [undefined, 'something odd', 'down'],
];
for (const [code, message, kind] of errors) {
  test(`classifyError ${code ?? '(no code)'} -> ${kind}`, (t) => {
    t.is(classifyError(code, message).kind, kind);
  });
}

test('refreshAt: 10% early, at most 30 s early, a short default when expires_in is missing', (t) => {
  t.is(refreshAt(0, 100), 90_000);
  t.is(refreshAt(0, 3600), 3_570_000);
  t.is(refreshAt(0, undefined), 270_000);
  t.is(refreshAt(0, -5), 270_000);
});

test('TokenSource: caches, shares a fetch, invalidates only the token it was told about', async (t) => {
  let clock = 0;
  let n = 0;
  const source = new TokenSource(async () => ({ accessToken: `t${++n}`, expiresInSeconds: 100 }), () => clock);
  const [a, b] = await Promise.all([source.get(), source.get()]);
  t.is(a, 't1');
  t.is(b, 't1');
  source.invalidate('t0');
  t.is(await source.get(), 't1');
  source.invalidate('t1');
  t.is(await source.get(), 't2');
  clock = 91_000;
  t.is(await source.get(), 't3');
  t.is(await source.forceRefresh(), 't4');
  t.is(source.fetches, 4);
});

test('TokenSource: a failed fetch rejects every waiter and the next get tries again', async (t) => {
  let fail = true;
  const source = new TokenSource(async () => {
    if (fail) throw new Error('down');
    return { accessToken: 'ok', expiresInSeconds: 60 };
  });
  await t.throwsAsync(Promise.all([source.get(), source.get()]), { message: 'down' });
  fail = false;
  t.is(await source.get(), 'ok');
});

test('EndpointSelector: fails over, ignores stale failures, returns when the primary answers', (t) => {
  const s = new EndpointSelector(true);
  t.is(s.active, 'primary');
  t.deepEqual(s.failed('primary'), { from: 'primary', to: 'secondary' });
  t.true(s.probing);
  t.is(s.failed('primary'), undefined, 'a late failure of the old endpoint does not flip back');
  t.deepEqual(s.primaryAnswered(), { from: 'secondary', to: 'primary' });
  t.is(s.primaryAnswered(), undefined);
  s.failed('primary');
  t.deepEqual(s.failed('secondary'), { from: 'secondary', to: 'primary' });
});

test('EndpointSelector without a secondary never switches', (t) => {
  const s = new EndpointSelector(false);
  t.is(s.failed('primary'), undefined);
  t.is(s.active, 'primary');
  t.false(s.probing);
});
