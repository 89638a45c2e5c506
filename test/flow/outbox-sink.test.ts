import test from 'ava';
import { join } from 'node:path';
import type { Delivery } from '../../src/delivery/delivery.js';
import { toEvent, type PtimEvent } from '../../src/events/ptim-event.js';
import { OutboxSink } from '../../src/flow/outbox-sink.js';
import { LINE_STATES, Tick } from '../../src/flow/tick.js';
import { openStateDb } from '../../src/state-db.js';
import { candidate } from '../helpers/candidates.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-03-14T09:00:00.000Z');

/** The part of a delivery the sink uses, writing into a table of `db` and recording the calls. */
function fakeDelivery(db: ReturnType<typeof openStateDb>, options: { fail?: () => boolean } = {}) {
  db.exec('CREATE TABLE outbox (event TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO outbox (event) VALUES (?)');
  const calls: string[] = [];
  const delivery = {
    queue(events: readonly PtimEvent[]) {
      for (const e of events) insert.run(e.id);
      if (options.fail?.()) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      calls.push(`queue ${events.length} inTransaction=${db.inTransaction}`);
    },
    beforeCommit: () => calls.push('beforeCommit'),
    committed: () => calls.push('committed'),
    discard: () => calls.push('discard'),
  };
  const rows = () => (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  return { delivery: delivery as unknown as Delivery, calls, rows };
}

test('what a tick queued goes to the outbox in one transaction of its file after the tick, then the forwarder is woken', (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const { delivery, calls, rows } = fakeDelivery(db);
  const tick = new Tick({ table: LINE_STATES, sink: new OutboxSink(db, delivery) });
  tick.run(() => {
    tick.apply(candidate('up', T0), T0);
    tick.apply(candidate('down', T0 + 1), T0 + 1);
  });
  t.deepEqual(calls, ['queue 2 inTransaction=true', 'beforeCommit', 'committed']);
  t.is(rows(), 2);
  tick.run(() => tick.expire(T0));
  t.is(calls.length, 3, 'an empty tick touches nothing');
});

test('an outbox that fails: its transaction rolls back, the delivery discards, the error reaches the tick', (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const { delivery, calls, rows } = fakeDelivery(db, { fail: () => true });
  const sink = new OutboxSink(db, delivery);
  const tick = new Tick({ table: LINE_STATES, sink });
  const error = t.throws(() => tick.run(() => tick.queue([toEvent(candidate('up', T0), 'connect')], T0)));
  t.is((error as { code?: string }).code, 'SQLITE_FULL');
  t.deepEqual(calls, ['discard']);
  t.is(rows(), 0);
});
