import test from 'ava';
import { PassThrough, Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { toEvent, type PtimCandidate } from '../../src/events/ptim-event.js';
import { silentLogger } from '../../src/log.js';
import { PrintingSink } from '../../src/flow/printing-sink.js';
import { waitUntil } from '../helpers/wait.js';

const candidate: PtimCandidate = {
  line: 'up', user: 'alice', domain: 'corp.example', ip: '10.20.0.5', time: '2026-03-14T09:02:11.000Z',
  device: 'srx-hq', sender: '192.0.2.10', tunnelId: '500011', flags: [], pattern: 'junos-iked/vpn-up', lineKey: 'up',
};
const connect = toEvent(candidate, 'connect');
const disconnect = toEvent({ ...candidate, line: 'down' }, 'disconnect');

test('printing sink: committed events become NDJSON in one write per turn; discarded ones never print', async (t) => {
  const stream = new PassThrough();
  const writes: string[] = [];
  stream.on('data', (b: Buffer) => writes.push(b.toString()));
  const sink = new PrintingSink({ out: stream, log: silentLogger(), registry: new Registry() });
  sink.queue([connect]);
  sink.discard(); // that tick rolled back
  sink.queue([connect]);
  sink.committed();
  sink.queue([disconnect]);
  sink.committed();
  await sink.flushed();
  t.is(writes.length, 1);
  const events = writes.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(events.map((e) => e.state), ['connect', 'disconnect']);
  t.deepEqual(sink.counts, { events: 2, outputDropped: 0 });
});

test('printing sink: a stalled reader signals congestion and bounds the backlog; excess events are dropped and counted; output resumes on drain', async (t) => {
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
  const registry = new Registry();
  const sink = new PrintingSink({ out, log: silentLogger(), registry, maxBacklog: 10, onCongestion: (c) => congestion.push(c) });
  sink.queue([connect]);
  sink.committed();
  // Let the first write happen and block on 'drain'.
  await waitUntil(() => chunks.length === 1);
  for (let i = 0; i < 100; i++) {
    sink.queue([connect]);
    sink.committed();
  }
  t.is(sink.counts.events, 11);
  t.is(sink.counts.outputDropped, 90);
  t.deepEqual(congestion, [true]);
  t.is((await registry.getSingleMetric('ptim_bridge_output_dropped_total')!.get()).values[0]?.value, 90);
  // The reader catches up: the held events come out.
  const timer = setInterval(() => held.splice(0).forEach((cb) => cb()), 5);
  t.teardown(() => clearInterval(timer));
  await sink.flushed();
  clearInterval(timer);
  t.is(chunks.join('').trim().split('\n').length, 11);
  await waitUntil(() => congestion.length === 2);
  t.deepEqual(congestion, [true, false]);
});
