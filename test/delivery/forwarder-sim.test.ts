import test from 'ava';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Forwarder } from '../../src/delivery/forwarder.js';
import { createJimsClient } from '../../src/delivery/jims-client.js';
import { Outbox } from '../../src/delivery/outbox.js';
import type { Config } from '../../src/config.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import type { JimsSim } from '../../src/jims-sim/server.js';
import { silentLogger } from '../../src/log.js';
import { openStateDb } from '../../src/state-db.js';
import { runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';
import { makeEvent } from './make-events.js';
import { startSim } from './sim-setup.js';

/**
 * The delivery promises (DESIGN.md §5) against the real HTTPS simulator: real TLS with its CA,
 * real OAuth2, real SQLite. Retry delays are shortened through the config, not faked.
 */

async function bridgeParts(t: import('ava').ExecutionContext, dir: string, jims: Config['jims']) {
  const file = join(dir, 'state.db');
  const db = openStateDb(file);
  const registry = new Registry();
  const log = silentLogger();
  const outbox = new Outbox(db, { registry });
  const client = await createJimsClient(jims, { log, registry });
  const forwarder = new Forwarder({ outbox, client, jims, log, registry });
  t.teardown(async () => {
    await forwarder.stop();
    client.close();
    db.close();
  });
  return { file, db, outbox, forwarder, registry };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const got = await m.get();
  return got.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

/** connect, rekey, disconnect of `clients` IPs; each IP's three events far apart and close together alternately. */
function sessions(clients: number): PtimEvent[] {
  const out: PtimEvent[] = [];
  for (let n = 0; n < clients; n++) {
    out.push(makeEvent(n, 'connect', 0));
    if (n % 2 === 0) out.push(makeEvent(n, 'rekey', 1));
  }
  for (let n = 0; n < clients; n++) {
    if (n % 2 === 1) out.push(makeEvent(n, 'rekey', 1));
    out.push(makeEvent(n, 'disconnect', 2));
  }
  return out;
}

/** Every event arrived at least once, and per IP the first arrivals come in the order queued. */
function assertAllInOrder(t: import('ava').ExecutionContext, sim: JimsSim, events: readonly PtimEvent[]): void {
  const summary = sim.events();
  const ids = new Set(summary.events.map((e) => e.event.id));
  const missing = events.filter((e) => !ids.has(e.id));
  t.deepEqual(missing.map((e) => `${e.ip} ${e.state}`), [], 'no event lost');
  const firstArrival = new Map<string, number>();
  summary.events.forEach((e, i) => {
    if (!firstArrival.has(e.event.id)) firstArrival.set(e.event.id, i);
  });
  const lastByIp = new Map<string, { at: number; state: string }>();
  const outOfOrder: string[] = [];
  for (const e of events) {
    const at = firstArrival.get(e.id)!;
    const last = lastByIp.get(e.ip);
    if (last && at < last.at) outOfOrder.push(`${e.ip}: ${e.state} arrived before ${last.state}`);
    lastByIp.set(e.ip, { at, state: e.state });
  }
  t.deepEqual(outOfOrder, [], 'order per IP');
  // A disconnect last means JIMS ends with an empty table for these IPs.
  t.deepEqual(sim.identities().filter((r) => lastByIp.has(r.ip)), []);
}

test('JIMS down for a while, then back: every event arrives, in order per IP', async (t) => {
  const { sim, dir, jims } = await startSim(t, { batchSize: 50, concurrency: 4 });
  await sim.setBehaviour({ down: true });
  const { db, outbox, forwarder, registry } = await bridgeParts(t, dir, jims);
  const events = sessions(300);
  forwarder.start();
  for (let i = 0; i < events.length; i += 100) {
    db.transaction(() => outbox.add(events.slice(i, i + 100)))();
    forwarder.notify();
  }
  await waitUntil(async () => (await metric(registry, 'ptim_bridge_forwarder_retried_total')) >= 8, 30_000, 'retries while JIMS is down');
  t.is(sim.events().received, 0);
  t.is(outbox.recount(), events.length, 'nothing left the outbox while JIMS was down');
  await sim.setBehaviour({ down: false });
  await forwarder.drained();
  assertAllInOrder(t, sim, events);
  t.is(await metric(registry, 'ptim_bridge_forwarder_delivered_total'), events.length);
});

test('503 storm (half the pushes fail, then all for a while): every event arrives, in order per IP', async (t) => {
  const { sim, dir, jims } = await startSim(t, { batchSize: 20, concurrency: 4 }, { failRate: 0.5, failStatus: 503 });
  const { db, outbox, forwarder, registry } = await bridgeParts(t, dir, jims);
  const events = sessions(300);
  forwarder.start();
  for (let i = 0; i < events.length; i += 50) {
    db.transaction(() => outbox.add(events.slice(i, i + 50)))();
    forwarder.notify();
    if (i === 400) await sim.setBehaviour({ status: 503 });
  }
  await waitUntil(async () => (await metric(registry, 'ptim_bridge_forwarder_retried_total', { reason: '503' })) >= 10, 30_000, '503 retries');
  await sim.setBehaviour({ status: undefined });
  await forwarder.drained();
  assertAllInOrder(t, sim, events);
  t.true((sim.stats().byStatus['503'] ?? 0) >= 10);
});

test('slow JIMS (2 s per request): every event arrives once, in order per IP, with pushes in parallel', async (t) => {
  // The default 10 s request timeout is well above 2 s: slowness alone must cause no retry.
  const { sim, dir, jims } = await startSim(t, { batchSize: 25, concurrency: 4 }, { latencyMs: 2000 });
  const { db, outbox, forwarder, registry } = await bridgeParts(t, dir, jims);
  const events = sessions(60);
  db.transaction(() => outbox.add(events))();
  const started = Date.now();
  forwarder.start();
  await forwarder.drained();
  const elapsed = Date.now() - started;
  assertAllInOrder(t, sim, events);
  t.is(sim.events().duplicates, 0, 'nothing sent twice');
  t.is(await metric(registry, 'ptim_bridge_forwarder_retried_total'), 0);
  // 150 events = 6 batches of 25: one after another they would take >= 12 s of JIMS time alone.
  t.true(sim.stats().eventRequests >= 6);
  // Overlap, not speed: the simulator counts the event requests it is holding at one time. One push
  // after another would never hold two; wall-clock bounds (on the drain, or between the first two
  // batches) failed on a loaded machine, this cannot.
  t.true(sim.stats().maxEventsInFlight >= 2, `pushes overlapped: at most ${sim.stats().maxEventsInFlight} in flight (drained in ${elapsed} ms)`);
});

test('429 with Retry-After: the batch waits at least as long as JIMS asked', async (t) => {
  // Without Retry-After the backoff would retry within 50 ms.
  const { sim, dir, jims } = await startSim(t, { retryMinDelayMs: 10, retryMaxDelayMs: 50 }, { next: { status: 429, retryAfter: '1' } });
  const { db, outbox, forwarder, registry } = await bridgeParts(t, dir, jims);
  const started = Date.now();
  db.transaction(() => outbox.add([makeEvent(1, 'connect'), makeEvent(1, 'disconnect', 1)]))();
  forwarder.start();
  await forwarder.drained();
  const elapsed = Date.now() - started;
  t.true(elapsed >= 950, `delivered after ${elapsed} ms`);
  t.is(await metric(registry, 'ptim_bridge_forwarder_retried_total', { reason: '429' }), 1);
  t.is(sim.events().unique, 2);
});

test('400 for every event -> each refused event a dead letter (halving) -> `dlq retry` from another process -> delivered by the running forwarder', async (t) => {
  // Halving 10 refused events pushes 19 parts (a binary tree with 10 leaves): refuse exactly those.
  const { sim, dir, jims } = await startSim(t, { batchSize: 10 }, { next: { status: 400, count: 19 } });
  const { file, db, outbox, forwarder, registry } = await bridgeParts(t, dir, jims);
  const events = Array.from({ length: 10 }, (_, n) => makeEvent(n, 'connect'));
  db.transaction(() => outbox.add(events))();
  forwarder.start();
  await forwarder.drained();
  t.is(sim.events().received, 0);
  t.is(await metric(registry, 'ptim_bridge_forwarder_dead_lettered_total'), 10);

  const list = await runCli(['dlq', 'list', '--json', '--state', file]);
  t.is(list.code, 0, list.stderr);
  const letters = JSON.parse(list.stdout) as Array<{ id: number; status: number; events: number; body: string }>;
  // JIMS refused every part down to single events: one dead letter per event, each with JIMS' answer.
  t.is(letters.length, 10);
  t.true(letters.every((l) => l.status === 400 && l.events === 1 && /injected/.test(l.body)));

  const retry = await runCli(['dlq', 'retry', '--state', file]);
  t.is(retry.code, 0, retry.stderr);
  await waitUntil(() => sim.events().unique === 10, 30_000, 'the retried events at JIMS');
  await forwarder.drained();
  t.deepEqual(sim.events().events.map((e) => e.event.id), events.map((e) => e.id), 'in their original order');
  t.is(outbox.recount(), 0);
});

test('a large backlog drains through bounded reads', async (t) => {
  const { sim, dir, jims } = await startSim(t, { batchSize: 500, concurrency: 4 });
  const { db, outbox, forwarder } = await bridgeParts(t, dir, jims);
  const total = 30_000;
  db.transaction(() => {
    for (let i = 0; i < total; i += 1000) outbox.add(Array.from({ length: 1000 }, (_, k) => makeEvent(i + k, 'connect')));
  })();
  const read = outbox.read.bind(outbox);
  let largest = 0;
  outbox.read = (after, limit) => {
    largest = Math.max(largest, limit);
    return read(after, limit);
  };
  forwarder.start();
  await forwarder.drained();
  t.is(sim.events().unique, total);
  t.true(largest <= 4000, `largest read ${largest}`);
});
