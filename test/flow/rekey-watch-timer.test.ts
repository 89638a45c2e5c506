import test from 'ava';
import { join } from 'node:path';
import { validateConfig } from '../../src/config.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { SessionTable } from '../../src/events/sessions.js';
import type { EventSink } from '../../src/flow/event-sink.js';
import { RekeyWatchTimer } from '../../src/flow/rekey-watch-timer.js';
import { Tick } from '../../src/flow/tick.js';
import { openStateDb } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-03-14T22:00:00.000Z');
const H = 3_600_000;

function setup(t: Parameters<typeof tempDir>[0]) {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  db.exec('CREATE TABLE outbox (event TEXT NOT NULL)');
  const table = new SessionTable({ db, config: validateConfig({}), clock: 'wall' });
  table.transaction(() => table.apply({
    line: 'up', user: 'alice', domain: 'corp.example', ip: '10.20.0.5', time: new Date(T0).toISOString(), device: 'srx-hq',
    sender: '192.0.2.10', vpn: 'ra-vpn', tunnelId: '1', flags: [], pattern: 'junos-iked/vpn-up', lineKey: 'up',
  }, T0));
  const insert = db.prepare('INSERT INTO outbox (event) VALUES (?)');
  const queue = (events: readonly PtimEvent[]) => {
    for (const e of events) insert.run(JSON.stringify(e));
  };
  return { db, table, queue };
}

/** A sink that queues into the test's outbox table (inside the tick's transaction). */
function outboxSink(queue: (events: readonly PtimEvent[]) => void, committed: () => void = () => undefined): EventSink & { discarded: number } {
  return {
    discarded: 0,
    queue,
    committed,
    discard() {
      this.discarded++;
    },
  };
}

test('a quiet night: the timer ends the session whose rekeys stopped and queues its disconnect in the same transaction', (t) => {
  const { db, table, queue } = setup(t);
  let clock = T0 + H;
  let notified = 0;
  const timer = new RekeyWatchTimer({ tick: new Tick({ table, sink: outboxSink(queue, () => notified++) }), now: () => clock });
  t.deepEqual(timer.tick(), []);
  t.is(notified, 0);
  clock = T0 + 2 * H + 5 * 60_000 + 1;
  const events = timer.tick();
  t.deepEqual(events.map((e) => [e.state, e.user, e.flags]), [['disconnect', 'alice', ['rekey-missing', 'expired']]]);
  t.is(notified, 1);
  t.deepEqual(table.list(), []);
  t.is((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 1);
});

test('a failing queue rolls the watch back: the session stays and the next tick retries', (t) => {
  const { db, table, queue } = setup(t);
  const clock = T0 + 3 * H;
  let fail = true;
  const errors: unknown[] = [];
  const sink = outboxSink((events) => {
    if (fail) throw new Error('disk full');
    queue(events);
  });
  const timer = new RekeyWatchTimer({ tick: new Tick({ table, sink }), now: () => clock, onError: (e) => errors.push(e) });
  t.deepEqual(timer.tick(), []);
  t.is(errors.length, 1);
  t.is(sink.discarded, 1);
  t.is(table.list().length, 1);
  fail = false;
  t.is(timer.tick().length, 1);
  t.is(table.list().length, 0);
  t.is((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 1);
});

test('start() runs the watch on its own', async (t) => {
  const { table, queue } = setup(t);
  let fired: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (fired = resolve));
  const timer = new RekeyWatchTimer({ tick: new Tick({ table, sink: outboxSink(queue, () => fired()) }), everyMs: 10, now: () => T0 + 10 * H });
  timer.start();
  t.teardown(() => timer.stop());
  // The timer is unref'd; the deadline keeps the test alive and fails it if the watch never runs.
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (deadline = setTimeout(() => resolve('timeout'), 20_000)));
  const outcome = await Promise.race([done.then(() => 'ran' as const), timedOut]);
  clearTimeout(deadline);
  t.is(outcome, 'ran');
  t.deepEqual(table.list(), []);
});
