import test from 'ava';
import { get, type IncomingMessage } from 'node:http';
import { Registry } from 'prom-client';
import { formatTapRecord } from '../../src/commands/tap.js';
import { isLoopbackListen, startMetricsServer } from '../../src/ops/metrics-server.js';
import { EventTap, tapEvent, type TapRecord } from '../../src/ops/tap.js';
import { makeEvent } from '../delivery/make-events.js';
import { waitUntil } from '../helpers/wait.js';

function record(i: number, user = `user${i}`): TapRecord {
  return { at: new Date(0).toISOString(), what: 'queued', seq: i, event: tapEvent({ ...makeEvent(i, 'connect'), user, gateway: 'ra-gw' }) };
}

function open(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, resolve).on('error', reject));
}

test('a viewer that does not read loses records (counted, then told how many), and publishing never waits for it', async (t) => {
  const registry = new Registry();
  const tap = new EventTap({ registry, bufferLines: 10 });
  const server = await startMetricsServer('127.0.0.1:0', registry, () => ({}), { tap, tapAllowed: true });
  t.teardown(() => server.close());
  const res = await open(server.url.replace('/metrics', '/tap'));
  t.is(res.statusCode, 200);
  t.is(res.headers['content-type'], 'application/x-ndjson');
  res.pause();
  await waitUntil(() => tap.active, 5000, 'the viewer attached');
  // ~2 KB per record: 20 MB, far more than the socket buffers hold while nobody reads.
  const big = 'x'.repeat(2000);
  const started = Date.now();
  for (let i = 0; i < 10_000; i++) tap.publish([record(i, big)]);
  t.true(Date.now() - started < 5000, 'publishing did not wait for the viewer');
  const dropped = await registry.getSingleMetricAsString('ptim_bridge_tap_dropped_total');
  const n = Number(/ptim_bridge_tap_dropped_total (\d+)/.exec(dropped)?.[1]);
  t.true(n > 0, dropped);
  // Reading again: the held lines, then the notice of what was dropped.
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (text += c));
  res.resume();
  await waitUntil(() => text.includes('"notice":"dropped"'), 20_000, 'the dropped notice');
  const notice = JSON.parse(text.split('\n').find((l) => l.includes('"notice":"dropped"'))!) as { count: number };
  t.is(notice.count, n);
  res.destroy();
});

test('/tap is refused (403) where not allowed; /stats answers JSON with the filter; both absent without delivery', async (t) => {
  const registry = new Registry();
  const seen: unknown[] = [];
  const server = await startMetricsServer('127.0.0.1:0', registry, () => ({}), { tap: new EventTap(), tapAllowed: false, stats: (filter) => (seen.push(filter), { rows: [] }) });
  t.teardown(() => server.close());
  const base = server.url.replace('/metrics', '');
  t.is((await fetch(`${base}/tap`)).status, 403);
  const stats = await fetch(`${base}/stats?device=srx-hq`);
  t.is(stats.status, 200);
  t.deepEqual(await stats.json(), { rows: [] });
  t.deepEqual(seen, [{ device: 'srx-hq' }]);
  const plain = await startMetricsServer('127.0.0.1:0', registry);
  t.teardown(() => plain.close());
  t.is((await fetch(plain.url.replace('/metrics', '/tap'))).status, 404);
  t.is((await fetch(plain.url.replace('/metrics', '/stats'))).status, 404);
});

test('loopback listeners', (t) => {
  for (const [listen, loopback] of [['127.0.0.1:9464', true], ['localhost:9464', true], ['[::1]:9464', true], ['127.1.2.3:1', true], ['0.0.0.0:9464', false], ['[::]:9464', false], ['192.0.2.1:9464', false]] as const) {
    t.is(isLoopbackListen(listen), loopback, listen);
  }
});

test('a readable line per record', (t) => {
  t.is(formatTapRecord(record(5)), '1970-01-01T00:00:00.000Z  queued          connect     user5@corp.example  10.0.0.5  srx-hq/ra-gw  seq 5\n');
  t.is(formatTapRecord({ ...record(5), what: 'retry', attempt: 2, status: 503 }).split('  ')[1], 'retry #2 (HTTP 503)');
  t.regex(formatTapRecord({ ...record(5), what: 'dead-lettered', status: 400 }), /dead-lettered \(HTTP 400\)/);
  t.regex(formatTapRecord({ ...record(5), what: 'skipped', reason: 'push-disabled', event: { ...record(5).event, flags: ['rekey-inferred'] } }), /skipped \(push-disabled\).*\[rekey-inferred\]/);
});
