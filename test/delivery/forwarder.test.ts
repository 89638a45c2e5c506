import test from 'ava';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Forwarder } from '../../src/delivery/forwarder.js';
import { Outbox } from '../../src/delivery/outbox.js';
import type { PushOutcome } from '../../src/delivery/jims-client.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { validateConfig, type Config } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { openStateDb, type StateDb } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeJimsClient } from './fake-jims-client.js';
import { makeEvent } from './make-events.js';

function jimsConfig(jims: Record<string, unknown> = {}): Config['jims'] {
  return validateConfig({ jims: { retryMinDelayMs: 1, retryMaxDelayMs: 5, lingerMs: 0, ...jims } }).jims;
}

/** Deterministic pseudo-random numbers (mulberry32) so a failure can be reproduced. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** connect, rekeys, disconnect per IP, interleaved at random across IPs (per-IP order kept). */
function interleaved(clients: number, random: () => number): PtimEvent[] {
  const queues = Array.from({ length: clients }, (_, n) => [makeEvent(n, 'connect', 0), makeEvent(n, 'rekey', 1), makeEvent(n, 'rekey', 2), makeEvent(n, 'disconnect', 3)]);
  const out: PtimEvent[] = [];
  const live = queues.filter((q) => q.length > 0);
  while (live.length > 0) {
    const i = Math.floor(random() * live.length);
    out.push(live[i]!.shift()!);
    if (live[i]!.length === 0) live.splice(i, 1);
  }
  return out;
}

/** Asserts, at each push, that every earlier event of each IP in the batch was delivered already or sits earlier in this batch. */
function checkOrderAtPush(events: readonly PtimEvent[], client: Pick<FakeJimsClient, 'delivered' | 'onPush'>, violations: string[]): void {
  const position = new Map(events.map((e, i) => [e.id, i]));
  const byIp = new Map<string, PtimEvent[]>();
  for (const e of events) byIp.set(e.ip, [...(byIp.get(e.ip) ?? []), e]);
  client.onPush = (batch) => {
    const delivered = new Set(client.delivered.map((e) => e.id));
    const inBatch = new Set<string>();
    for (const e of batch) {
      for (const earlier of byIp.get(e.ip)!) {
        if (earlier.id === e.id) break;
        if (!delivered.has(earlier.id) && !inBatch.has(earlier.id)) violations.push(`${e.ip}: ${e.state}#${position.get(e.id)} sent before ${earlier.state}#${position.get(earlier.id)}`);
      }
      inBatch.add(e.id);
    }
  };
}

function setup(t: import('ava').ExecutionContext, client: FakeJimsClient, jims: Config['jims'], db?: StateDb) {
  const state = db ?? openStateDb(join(tempDir(t), 'state.db'));
  const registry = new Registry();
  const outbox = new Outbox(state, { registry });
  const forwarder = new Forwarder({ outbox, client, jims, log: silentLogger(), registry });
  t.teardown(async () => {
    await forwarder.stop();
    if (!db) state.close();
  });
  return { db: state, outbox, forwarder, registry };
}

async function metric(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

for (const seed of [1, 2, 3]) {
  test(`order per IP holds under random retries and parallel batches (seed ${seed})`, async (t) => {
    const random = seeded(seed);
    const events = interleaved(200, random);
    const client = new FakeJimsClient(() => (random() < 0.3 ? { kind: 'retry', reason: 'status 503', status: 503 } : { kind: 'delivered', accepted: 0, endpoint: 'primary' }), () => 1 + Math.floor(random() * 5));
    const violations: string[] = [];
    checkOrderAtPush(events, client, violations);
    const { db, outbox, forwarder, registry } = setup(t, client, jimsConfig({ batchSize: 7, concurrency: 4 }));
    forwarder.start();
    // Committed in ticks, as the bridge does, with the forwarder running meanwhile.
    for (let i = 0; i < events.length; i += 50) {
      db.transaction(() => outbox.add(events.slice(i, i + 50)))();
      forwarder.notify();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await forwarder.drained();
    t.deepEqual(violations, []);
    t.is(new Set(client.delivered.map((e) => e.id)).size, events.length);
    t.is(client.delivered.length, events.length, 'a retried batch is delivered once');
    t.true(client.maxInFlight > 1, 'batches went in parallel');
    t.true(client.maxInFlight <= 4);
    t.is(outbox.recount(), 0);
    t.is(await metric(registry, 'ptim_bridge_forwarder_delivered_total'), events.length);
    t.true((await metric(registry, 'ptim_bridge_forwarder_retried_total')) > 0);
    t.is(await metric(registry, 'ptim_bridge_outbox_backlog'), 0);
  });
}

test('a refused batch is halved until the refused event is found: only it goes to the dead letters, the rest is delivered', async (t) => {
  const bad = makeEvent(5, 'connect');
  const client = new FakeJimsClient((events) => (events.some((e) => e.id === bad.id) ? { kind: 'rejected', status: 400, body: '{"error":"bad user"}' } : { kind: 'delivered', accepted: 0, endpoint: 'primary' }));
  const { db, outbox, forwarder, registry } = setup(t, client, jimsConfig({ batchSize: 3 }));
  const events = Array.from({ length: 9 }, (_, n) => makeEvent(n, 'connect'));
  db.transaction(() => outbox.add(events))();
  forwarder.start();
  await forwarder.drained();
  const dead = db.prepare('SELECT status, body, event_count, events FROM dead_letters').all() as Array<{ status: number; body: string; event_count: number; events: string }>;
  t.deepEqual(dead.map((d) => ({ status: d.status, body: d.body, event_count: d.event_count })), [{ status: 400, body: '{"error":"bad user"}', event_count: 1 }]);
  t.is((JSON.parse(dead[0]!.events) as Array<{ event: { id: string } }>)[0]!.event.id, bad.id);
  t.is(client.delivered.length, 8);
  t.is(await metric(registry, 'ptim_bridge_forwarder_dead_lettered_total'), 1);
  t.is(outbox.backlog(), 0);
});

test('a batch of one refused event: the IP\'s later events follow it to the dead letters until its next connect; other IPs go on', async (t) => {
  const bad = makeEvent(5, 'connect');
  const client = new FakeJimsClient((events) => (events.some((e) => e.id === bad.id) ? { kind: 'rejected', status: 400, body: '{"error":"bad user"}' } : { kind: 'delivered', accepted: 0, endpoint: 'primary' }));
  const { db, outbox, forwarder } = setup(t, client, jimsConfig({ batchSize: 1 }));
  const later = [makeEvent(5, 'rekey', 1), makeEvent(5, 'disconnect', 2)];
  const other = makeEvent(6, 'connect');
  const reconnect = makeEvent(5, 'connect', 3);
  db.transaction(() => outbox.add([bad, ...later, other, reconnect]))();
  forwarder.start();
  await forwarder.drained();
  const deadIds = (db.prepare('SELECT events FROM dead_letters ORDER BY id').all() as Array<{ events: string }>).flatMap((d) => (JSON.parse(d.events) as Array<{ event: { id: string } }>).map((r) => r.event.id));
  t.deepEqual(deadIds, [bad.id, ...later.map((e) => e.id)], 'the refused connect and the rekey and disconnect behind it');
  t.deepEqual(client.delivered.map((e) => e.id).sort(), [other.id, reconnect.id].sort(), 'a new connect starts afresh; other IPs are not held');
  t.is(outbox.backlog(), 0);
});

test('linger gathers rows committed shortly after one another into one batch', async (t) => {
  const client = new FakeJimsClient();
  const { db, outbox, forwarder } = setup(t, client, jimsConfig({ batchSize: 100, lingerMs: 60_000 }));
  forwarder.start();
  db.transaction(() => outbox.add([makeEvent(1, 'connect')]))();
  forwarder.notify();
  db.transaction(() => outbox.add([makeEvent(2, 'connect'), makeEvent(3, 'connect')]))();
  forwarder.notify();
  t.is(client.pushes.length, 0, 'a partial batch waits');
  // A full batch goes at once, linger or not.
  db.transaction(() => outbox.add(Array.from({ length: 97 }, (_, n) => makeEvent(10 + n, 'connect'))))();
  forwarder.notify();
  await forwarder.drained();
  t.deepEqual(client.pushes.map((p) => p.length), [100]);
});

test('rows older than lingerMs go without waiting', async (t) => {
  const client = new FakeJimsClient();
  const { db, outbox, forwarder } = setup(t, client, jimsConfig({ batchSize: 100, lingerMs: 60_000 }));
  db.transaction(() => outbox.add([makeEvent(1, 'connect')], Date.now() - 61_000))();
  forwarder.start();
  await forwarder.drained();
  t.is(client.pushes.length, 1);
});

test('memory stays bounded: reads are paged and pushes limited, whatever the backlog', async (t) => {
  const client = new FakeJimsClient();
  const { db, outbox, forwarder } = setup(t, client, jimsConfig({ batchSize: 50, concurrency: 2 }));
  const total = 20_000;
  db.transaction(() => {
    for (let i = 0; i < total; i += 1000) outbox.add(Array.from({ length: 1000 }, (_, k) => makeEvent(i + k, 'connect')));
  })();
  const read = outbox.read.bind(outbox);
  let largestRead = 0;
  outbox.read = (after, limit) => {
    largestRead = Math.max(largestRead, limit);
    return read(after, limit);
  };
  forwarder.start();
  await forwarder.drained();
  t.is(client.delivered.length, total);
  t.true(largestRead <= 1000, `read at most a window at a time (largest ${largestRead})`);
  t.true(client.maxInFlight <= 2);
});

test('stop while JIMS is down keeps every row; the next forwarder delivers them', async (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const down = new FakeJimsClient(() => ({ kind: 'retry', reason: 'connect ECONNREFUSED' }));
  const first = setup(t, down, jimsConfig({ batchSize: 4 }), db);
  db.transaction(() => first.outbox.add(Array.from({ length: 10 }, (_, n) => makeEvent(n, 'connect'))))();
  first.forwarder.start();
  const drained = first.forwarder.drained();
  while (down.pushes.length < 6) await new Promise<void>((resolve) => setImmediate(resolve));
  await first.forwarder.stop();
  const error = await t.throwsAsync(drained);
  t.is((error as { code?: string }).code, 'ERR_JIMS_UNAVAILABLE');
  t.is(first.outbox.recount(), 10);

  const up = new FakeJimsClient();
  const second = setup(t, up, jimsConfig({ batchSize: 4 }), db);
  second.forwarder.start();
  await second.forwarder.drained();
  t.is(up.delivered.length, 10);
});

test('a push that throws is retried, not lost', async (t) => {
  let calls = 0;
  const client = new FakeJimsClient();
  const push = client.push.bind(client);
  client.push = async (events) => {
    if (calls++ === 0) throw new Error('boom');
    return push(events);
  };
  const { db, outbox, forwarder } = setup(t, client, jimsConfig());
  db.transaction(() => outbox.add([makeEvent(1, 'connect')]))();
  forwarder.start();
  await forwarder.drained();
  t.is(client.delivered.length, 1);
});

test('rows committed without notify() are still found (poll)', async (t) => {
  const client = new FakeJimsClient();
  const { db, outbox, forwarder } = setup(t, client, jimsConfig());
  forwarder.start();
  await forwarder.drained();
  db.transaction(() => outbox.add([makeEvent(1, 'connect')]))();
  const deadline = Date.now() + 10_000;
  while (client.delivered.length === 0 && Date.now() < deadline) await new Promise<void>((resolve) => setTimeout(resolve, 20));
  t.is(client.delivered.length, 1);
});

test('a failed ack keeps the IP blocked and is tried again; nothing is sent twice or out of order', async (t) => {
  const client = new FakeJimsClient();
  const { db, outbox, forwarder, registry } = setup(t, client, jimsConfig({ batchSize: 1 }));
  const ack = outbox.ack.bind(outbox);
  let acks = 0;
  const pushedAfterAcks: number[] = [];
  client.onPush = () => pushedAfterAcks.push(acks);
  outbox.ack = (seqs) => {
    if (acks++ === 0) throw new Error('SQLITE_FULL: database or disk is full');
    ack(seqs);
  };
  db.transaction(() => outbox.add([makeEvent(1, 'connect'), makeEvent(1, 'disconnect', 1)]))();
  forwarder.start();
  await forwarder.drained();
  t.deepEqual(client.pushes.map((p) => p.map((e) => e.state)), [['connect'], ['disconnect']]);
  t.true(pushedAfterAcks[1]! >= 2, 'the disconnect went only after the connect was recorded');
  t.is(await metric(registry, 'ptim_bridge_forwarder_errors_total'), 1);
  t.is(outbox.recount(), 0);
});

test('an IP waiting for its retry holds back only its own events; other IPs go on', async (t) => {
  const stuck = makeEvent(1, 'connect');
  let refusals = 0;
  // The stuck IP is refused until the other IPs are through: no timing involved.
  const client = new FakeJimsClient((events) => {
    if (events.some((e) => e.id === stuck.id) && client.delivered.length < 3) {
      refusals++;
      return { kind: 'retry', reason: 'HTTP 503', status: 503 };
    }
    return { kind: 'delivered', accepted: 0, endpoint: 'primary' };
  });
  const { db, outbox, forwarder } = setup(t, client, jimsConfig({ batchSize: 1, concurrency: 2 }));
  db.transaction(() => outbox.add([stuck, makeEvent(2, 'connect'), makeEvent(1, 'disconnect', 1), makeEvent(3, 'connect'), makeEvent(2, 'disconnect', 1)]))();
  forwarder.start();
  await forwarder.drained();
  const order = client.delivered.map((e) => `${e.ip} ${e.state}`);
  t.true(refusals >= 1);
  t.deepEqual(new Set(order.slice(0, 3)), new Set(['10.0.0.2 connect', '10.0.0.3 connect', '10.0.0.2 disconnect']));
  t.true(order.indexOf('10.0.0.2 connect') < order.indexOf('10.0.0.2 disconnect'));
  t.deepEqual(order.slice(3), ['10.0.0.1 connect', '10.0.0.1 disconnect']);
});

test('property: for any traffic, batch size, concurrency and failure pattern, nothing is lost and no IP is overtaken', async (t) => {
  const fc = await import('fast-check');
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.constantFrom('ok', 'ok', 'retry', 'throw'), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 12 }),
      async (clients, picks, batchSize, concurrency, answers, readAhead) => {
        // picks[i] chooses the client of the i-th event; each client's events go connect, rekey..., disconnect.
        const steps = new Map<number, number>();
        const events = picks.map((p) => {
          const n = p % clients;
          const step = steps.get(n) ?? 0;
          steps.set(n, step + 1);
          return makeEvent(n, step === 0 ? 'connect' : 'rekey', step);
        });
        let call = 0;
        const client = new FakeJimsClient(
          () => {
            const a = answers[call++ % answers.length];
            if (call > 200 || a === 'ok') return { kind: 'delivered', accepted: 0, endpoint: 'primary' };
            if (a === 'throw') throw new Error('socket hang up');
            return { kind: 'retry', reason: 'HTTP 503', status: 503 };
          },
          (c) => 1 + (c % 3),
        );
        const violations: string[] = [];
        checkOrderAtPush(events, client, violations);
        const db = openStateDb(':memory:');
        const registry = new Registry();
        const outbox = new Outbox(db, { registry });
        // A small read-ahead window makes "window full of busy IPs" (and reading past them) common.
        const forwarder = new Forwarder({ outbox, client, jims: jimsConfig({ batchSize, concurrency }), log: silentLogger(), registry, readAhead });
        try {
          forwarder.start();
          for (let i = 0; i < events.length; i += 7) {
            db.transaction(() => outbox.add(events.slice(i, i + 7)))();
            forwarder.notify();
          }
          await forwarder.drained();
        } finally {
          await forwarder.stop();
          db.close();
        }
        const delivered = new Set(client.delivered.map((e) => e.id));
        // errors_total stays 0: the forwarder never lost track of a row and had to rescan the table.
        const errors = await metric(registry, 'ptim_bridge_forwarder_errors_total');
        return violations.length === 0 && events.every((e) => delivered.has(e.id)) && client.maxInFlight <= concurrency && errors === 0;
      },
    ),
    {
      numRuns: 100,
      // Found by this property (seed 3, shrunk): a freed IP's resume point dropped a pending row of
      // another IP, which then waited for the poll; see the gated regression test below.
      examples: [[3, [0, 0, 0, 0, 0, 2, 2], 2, 2, ['ok'], 4]],
    },
  );
  t.pass();
});

test('a window full of one stuck IP does not hold back the IPs behind it', async (t) => {
  const stuck = Array.from({ length: 30 }, (_, step) => makeEvent(1, step === 0 ? 'connect' : 'rekey', step));
  const others = Array.from({ length: 5 }, (_, n) => makeEvent(100 + n, 'connect'));
  // IP 1 is refused until the other IPs are through: no timing involved.
  const client: FakeJimsClient = new FakeJimsClient((events) =>
    events.some((e) => e.ip === '10.0.0.1') && client.delivered.filter((e) => e.ip !== '10.0.0.1').length < others.length
      ? { kind: 'retry', reason: 'HTTP 503', status: 503 }
      : { kind: 'delivered', accepted: 0, endpoint: 'primary' });
  const violations: string[] = [];
  checkOrderAtPush([...stuck, ...others], client, violations);
  const { db, outbox, forwarder } = setup(t, client, jimsConfig({ batchSize: 1, concurrency: 2 }));
  db.transaction(() => outbox.add([...stuck, ...others]))();
  const small = new Forwarder({ outbox, client, jims: jimsConfig({ batchSize: 1, concurrency: 2 }), log: silentLogger(), registry: new Registry(), readAhead: 10 });
  t.teardown(() => small.stop());
  void forwarder; // the default one from setup is never started
  small.start();
  await small.drained();
  t.deepEqual(violations, []);
  t.deepEqual(client.delivered.slice(0, 5).map((e) => e.ip), others.map((e) => e.ip));
  t.is(client.delivered.length, 35);
});

/** A JimsClient whose pushes wait until the test answers them: the test decides which batch finishes when. */
class GatedJimsClient {
  readonly waiting: Array<{ events: readonly PtimEvent[]; answer: (o: PushOutcome) => void }> = [];
  readonly delivered: PtimEvent[] = [];
  onPush: (events: readonly PtimEvent[]) => void = () => {};

  push(events: readonly PtimEvent[]): Promise<PushOutcome> {
    this.onPush(events);
    return new Promise((resolve) => this.waiting.push({ events, answer: resolve }));
  }

  close(): void {}

  /** Answers every waiting push with a retry (for teardown: stop() waits for pushes in flight). */
  refuseAll(): void {
    for (const w of this.waiting.splice(0)) w.answer({ kind: 'retry', reason: 'test over' });
  }

  /** Lets event-loop turns pass until exactly `n` pushes wait (no clock involved). */
  async settle(n: number): Promise<void> {
    for (let turns = 0; turns < 100; turns++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.waiting.length === n) return;
    }
    throw new Error(`expected ${n} waiting push(es), have ${this.waiting.length}: ${this.describe()}`);
  }

  /** Answers 2xx to the waiting push that carries `ip`. */
  deliver(ip: string): void {
    const i = this.waiting.findIndex((w) => w.events.some((e) => e.ip === ip));
    if (i < 0) throw new Error(`no waiting push for ${ip}: ${this.describe()}`);
    const [w] = this.waiting.splice(i, 1);
    this.delivered.push(...w!.events);
    w!.answer({ kind: 'delivered', accepted: w!.events.length, endpoint: 'primary' });
  }

  describe(): string {
    return this.waiting.map((w) => `[${w.events.map((e) => `${e.ip} ${e.time.slice(17, 19)}`).join(', ')}]`).join(' ') || 'none';
  }
}

test('an IP freeing up resumes reading without dropping an earlier pending row of another IP', async (t) => {
  // Regression: resuming at a freed IP's first let-go row emptied the read-ahead window, so a row
  // of another busy IP before that point was read by nobody: a later row of that IP overtook it,
  // and the row itself waited for the 1 s poll (a hang in tests). The property found it (seed 3).
  // seq:  1-5: A (a0..a4)   6-7: B (b0, b1)   8: A (a5)
  const a = Array.from({ length: 6 }, (_, s) => makeEvent(0, s === 0 ? 'connect' : 'rekey', s));
  const b = [makeEvent(2, 'connect', 0), makeEvent(2, 'rekey', 1)];
  const events = [...a.slice(0, 5), ...b, a[5]!];
  const client = new GatedJimsClient();
  const violations: string[] = [];
  checkOrderAtPush(events, client, violations);
  const db = openStateDb(':memory:');
  const registry = new Registry();
  const outbox = new Outbox(db, { registry });
  const forwarder = new Forwarder({ outbox, client, jims: jimsConfig({ batchSize: 2, concurrency: 2 }), log: silentLogger(), registry, readAhead: 4 });
  t.teardown(async () => {
    const stopped = forwarder.stop();
    client.refuseAll();
    await stopped;
    db.close();
  });
  db.transaction(() => outbox.add(events))();
  forwarder.start();
  // Window [a0..a3]: [a0 a1] goes; [a2 a3 a4 b0]: A is busy, [b0] goes; [a2 a3 a4 b1]: all busy,
  // so they are let go (b1 is B's first let-go row, seq 7) and reading goes on: a5, then the end.
  await client.settle(2);
  const [ipA, ipB] = [a[0]!.ip, b[0]!.ip];
  t.deepEqual(client.waiting.map((w) => w.events.map((e) => e.id)), [[a[0]!.id, a[1]!.id], [b[0]!.id]]);
  // A frees up: A re-read from a2: [a2 a3] goes; a4 (seq 5), b1 and a5 stay pending.
  client.deliver(ipA);
  await client.settle(2);
  // B frees up: reading resumes at b1 (after seq 6). a4 (seq 5) is before that point and must stay.
  client.deliver(ipB);
  await client.settle(2);
  t.deepEqual(client.waiting.map((w) => w.events.map((e) => e.id)), [[a[2]!.id, a[3]!.id], [b[1]!.id]], client.describe());
  client.deliver(ipB);
  client.deliver(ipA);
  // A frees up: [a4 a5] goes at once, in order (before the fix a5 went alone and a4 was lost).
  await client.settle(1);
  t.deepEqual(client.waiting[0]!.events.map((e) => e.id), [a[4]!.id, a[5]!.id], client.describe());
  client.deliver(ipA);
  await client.settle(0);
  t.deepEqual(violations, []);
  t.deepEqual(client.delivered.map((e) => e.id).sort(), events.map((e) => e.id).sort());
  // Checked before drained() (a failed assertion throws): a row left behind would make drained()
  // wait for the unref'd poll, i.e. hang instead of failing.
  t.is(outbox.backlog(), 0, 'no row left behind for the poll');
  await forwarder.drained();
  t.is(await metric(registry, 'ptim_bridge_forwarder_errors_total'), 0, 'no row was lost track of');
});
