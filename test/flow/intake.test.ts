import test from 'ava';
import { Registry } from 'prom-client';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import type { EventSink } from '../../src/flow/event-sink.js';
import { Intake, MAX_TICK_MESSAGES } from '../../src/flow/intake.js';
import { LinePipeline } from '../../src/flow/pipeline.js';
import type { ReceivedMessage } from '../../src/flow/pipeline-records.js';
import { LINE_STATES, Tick, type TickTable } from '../../src/flow/tick.js';
import { silentLogger } from '../../src/log.js';
import { generateLines } from '../../scripts/generate-capture.js';
import { tinyPatterns as tiny } from '../helpers/tiny-patterns.js';

const NOW = Date.UTC(2026, 2, 14, 9);

/** Up and down lines the tiny patterns turn into candidates (a line the generator writes may be skipped). */
function vpnMessages(n: number): ReceivedMessage[] {
  const pipeline = new LinePipeline({ patterns: tiny });
  const out: ReceivedMessage[] = [];
  for (const line of generateLines({ lines: n * 4, seed: 5, vpnRatio: 1, users: 50 })) {
    const msg: ReceivedMessage = { data: Buffer.from(line), sender: '192.0.2.10', receivedAt: NOW, transport: 'tcp' };
    if (pipeline.process(msg).kind === 'candidate') out.push(msg);
    if (out.length === n) break;
  }
  return out;
}

/** LINE_STATES with its transactions counted, and a switch to make them fail as a full disk does. */
function countingTable(): TickTable & { transactions: number; fail: boolean } {
  const table = {
    transactions: 0,
    fail: false,
    transaction: <T>(fn: () => T): T => {
      table.transactions++;
      if (table.fail) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      return fn();
    },
    apply: LINE_STATES.apply,
    expire: LINE_STATES.expire,
  };
  return table;
}

function collectingSink(): EventSink & { events: PtimEvent[]; commits: number } {
  let queued: PtimEvent[] = [];
  return {
    events: [],
    commits: 0,
    queue(events) {
      queued.push(...events);
    },
    committed() {
      this.commits++;
      this.events.push(...queued);
      queued = [];
    },
    discard() {
      queued = [];
    },
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('the messages of one event-loop turn are one tick; a burst commits in slices of MAX_TICK_MESSAGES', async (t) => {
  const table = countingTable();
  const sink = collectingSink();
  const intake = new Intake({ pipeline: new LinePipeline({ patterns: tiny }), tick: new Tick({ table, sink }), log: silentLogger(), registry: new Registry() });
  const few = vpnMessages(3);
  for (const msg of few) intake.onMessage(msg);
  t.is(table.transactions, 0, 'nothing before the turn ends');
  await nextTurn();
  t.is(table.transactions, 1);
  t.is(sink.events.length, 3);
  t.is(intake.lastLineAt.get(sink.events[0]!.device), NOW);

  const burst = vpnMessages(MAX_TICK_MESSAGES + 10);
  for (const msg of burst) intake.onMessage(msg);
  t.is(table.transactions, 2, 'the first slice committed while the burst was read');
  await nextTurn();
  t.is(table.transactions, 3);
  t.is(sink.events.length, 3 + MAX_TICK_MESSAGES + 10);
  t.is(sink.commits, 3);
});

test('a state file that cannot be written: messages are held, the owner told, and committed in order once it can', async (t) => {
  const table = countingTable();
  const sink = collectingSink();
  const changes: Array<string | undefined> = [];
  const intake = new Intake({
    pipeline: new LinePipeline({ patterns: tiny }),
    tick: new Tick({ table, sink }),
    log: silentLogger(),
    registry: new Registry(),
    trouble: { onChange: (trouble) => changes.push(trouble?.error) },
  });
  const messages = vpnMessages(5);
  table.fail = true;
  for (const msg of messages.slice(0, 3)) intake.onMessage(msg);
  intake.flush();
  t.true(intake.stateFailing);
  t.deepEqual(changes, ['database or disk is full']);
  for (const msg of messages.slice(3)) intake.onMessage(msg);
  intake.flush();
  t.is(sink.events.length, 0);
  table.fail = false;
  // stop() makes one last try: the space came back.
  intake.stop();
  t.false(intake.stateFailing);
  t.deepEqual(changes, ['database or disk is full', undefined]);
  const expected = new LinePipeline({ patterns: tiny });
  t.deepEqual(
    sink.events.map((e) => e.id),
    messages.map((m) => {
      const o = expected.process(m);
      if (o.kind !== 'candidate') throw new Error('not a candidate');
      return LINE_STATES.apply(o.candidate, m.receivedAt)[0]!.id;
    }),
  );
});

test('an error that is not the state file drops the tick, counted, and the intake goes on', async (t) => {
  const registry = new Registry();
  const sink = collectingSink();
  let broken = true;
  const table: TickTable = {
    transaction: (fn) => fn(),
    apply: (c, at) => {
      if (broken) throw new Error('a bug');
      return LINE_STATES.apply(c, at);
    },
    expire: () => [],
  };
  const intake = new Intake({ pipeline: new LinePipeline({ patterns: tiny }), tick: new Tick({ table, sink }), log: silentLogger(), registry });
  const [a, b] = vpnMessages(2);
  intake.onMessage(a!);
  intake.flush();
  t.false(intake.stateFailing);
  const failed = await registry.getSingleMetric('ptim_bridge_intake_failed_total')!.get();
  t.is(failed.values[0]?.value, 1);
  broken = false;
  intake.onMessage(b!);
  intake.flush();
  t.is(sink.events.length, 1);
});
