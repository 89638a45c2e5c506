import test from 'ava';
import { PassThrough, Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { EventPrinter } from '../../src/ingest/event-printer.js';
import { silentLogger } from '../../src/log.js';
import { LinePipeline } from '../../src/pipeline.js';
import { tinyPatterns } from '../helpers/tiny-patterns.js';
import { waitUntil } from '../helpers/wait.js';

const FIELDS = 'Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';
const msg = (text: string) => ({ data: Buffer.from(text), sender: '192.0.2.10', receivedAt: Date.parse('2026-03-14T12:00:00Z'), transport: 'udp' as const });

test('event printer: candidates become NDJSON events in one write per turn; noise and near misses are counted', async (t) => {
  const stream = new PassThrough();
  const writes: string[] = [];
  stream.on('data', (b: Buffer) => writes.push(b.toString()));
  const registry = new Registry();
  const printer = new EventPrinter({ pipeline: new LinePipeline({ patterns: tinyPatterns }), out: stream, log: silentLogger(), registry });
  printer.onMessage(msg(`<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. ${FIELDS}`));
  printer.onMessage(msg('<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created'));
  printer.onMessage(msg('<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: something else entirely'));
  printer.onMessage(msg(`<30>Mar 14 17:40:02 srx-hq iked[1]: IKE_VPN_DOWN_ALARM_USER: VPN ra-vpn from 198.51.100.23 is down. ${FIELDS}, Reason: Peer sent delete`));
  await printer.flushed();
  t.is(writes.length, 1);
  const events = writes.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(events.map((e) => [e.state, e.user, e.ip, e.sender, e.device]), [
    ['connect', 'alice', '10.20.0.5', '192.0.2.10', 'srx-hq'],
    ['disconnect', 'alice', '10.20.0.5', '192.0.2.10', 'srx-hq'],
  ]);
  t.deepEqual(printer.counts, { messages: 4, events: 2, outputDropped: 0, skipped: 0, nearMisses: 1 });
  const lines = (await registry.getSingleMetric('ptim_bridge_lines_total')!.get()).values;
  t.is(lines.find((v) => v.labels.outcome === 'noise')?.value, 1);
});

test('event printer: a stalled reader signals congestion and bounds the backlog; excess events are dropped and counted; output resumes on drain', async (t) => {
  const held: Array<() => void> = [];
  const congestion: boolean[] = [];
  const chunks: string[] = [];
  const out = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      held.push(callback);
    },
  });
  const printer = new EventPrinter({ pipeline: new LinePipeline({ patterns: tinyPatterns }), out, log: silentLogger(), registry: new Registry(), maxBacklog: 10, onCongestion: (c) => congestion.push(c) });
  const up = msg(`<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. ${FIELDS}`);
  printer.onMessage(up);
  // Let the first write happen and block on 'drain'.
  await waitUntil(() => chunks.length === 1);
  for (let i = 0; i < 100; i++) printer.onMessage(up);
  t.is(printer.counts.events, 11);
  t.is(printer.counts.outputDropped, 90);
  t.deepEqual(congestion, [true]);
  // The reader catches up: the held events come out.
  const release = () => held.splice(0).forEach((cb) => cb());
  const timer = setInterval(release, 5);
  t.teardown(() => clearInterval(timer));
  await printer.flushed();
  clearInterval(timer);
  t.is(chunks.join('').trim().split('\n').length, 11);
  await waitUntil(() => congestion.length === 2);
  t.deepEqual(congestion, [true, false]);
});
