import test from 'ava';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Outbox, DEAD_LETTER_BODY_MAX } from '../../src/delivery/outbox.js';
import { openStateDb } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';
import { makeEvent } from './make-events.js';

test('add inside the caller transaction: rolled back with it, committed with it', (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const outbox = new Outbox(db);
  t.throws(() =>
    db.transaction(() => {
      outbox.add([makeEvent(1, 'connect')]);
      throw new Error('line failed');
    })(),
  );
  t.is(outbox.recount(), 0);
  db.transaction(() => outbox.add([makeEvent(1, 'connect'), makeEvent(2, 'connect')], 1234))();
  t.is(outbox.backlog(), 2);
  const rows = outbox.read(0, 10);
  t.deepEqual(rows.map((r) => r.ip), ['10.0.0.1', '10.0.0.2']);
  t.is(rows[0]!.receivedAt, 1234);
  t.deepEqual(rows[0]!.event, makeEvent(1, 'connect'));
});

test('read pages by seq with a limit; ack removes only the given rows', async (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const registry = new Registry();
  const outbox = new Outbox(db, { registry });
  db.transaction(() => outbox.add(Array.from({ length: 10 }, (_, i) => makeEvent(i, 'connect'))))();
  const first = outbox.read(0, 4);
  t.is(first.length, 4);
  const next = outbox.read(first.at(-1)!.seq, 100);
  t.is(next.length, 6);
  t.true(next[0]!.seq > first.at(-1)!.seq);
  outbox.ack(first.map((r) => r.seq));
  outbox.ack(first.map((r) => r.seq)); // twice is harmless
  t.is(outbox.backlog(), 6);
  t.is(outbox.recount(), 6);
  const gauge = await registry.getSingleMetric('ptim_bridge_outbox_backlog')!.get();
  t.is(gauge.values[0]?.value, 6);
});

test('deadLetter moves rows aside in one step with status, cut body and events', (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const outbox = new Outbox(db);
  db.transaction(() => outbox.add([makeEvent(1, 'connect'), makeEvent(2, 'connect'), makeEvent(3, 'connect')]))();
  const rows = outbox.read(0, 2);
  const id = outbox.deadLetter({ batchId: 'b1', status: 400, body: 'x'.repeat(DEAD_LETTER_BODY_MAX + 10), rows, time: 42 });
  t.is(outbox.backlog(), 1);
  const dl = db.prepare('SELECT * FROM dead_letters WHERE id = ?').get(id) as Record<string, unknown>;
  t.like(dl, { batch_id: 'b1', status: 400, time: 42, event_count: 2 });
  t.is((dl.body as string).length, DEAD_LETTER_BODY_MAX + 3);
  const events = JSON.parse(dl.events as string) as Array<{ seq: number; event: { id: string } }>;
  t.deepEqual(events.map((e) => e.seq), rows.map((r) => r.seq));
  t.is(events[0]!.event.id, makeEvent(1, 'connect').id);
});

test('dead-letter gauge follows moves here and, after recount, changes made elsewhere', async (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const registry = new Registry();
  const outbox = new Outbox(db, { registry });
  const dead = async () => (await registry.getSingleMetric('ptim_bridge_outbox_dead_letters')!.get()).values[0]?.value;
  t.is(await dead(), 0);
  db.transaction(() => outbox.add([makeEvent(1, 'connect')]))();
  outbox.deadLetter({ batchId: 'b', status: 400, body: '', rows: outbox.read(0, 1) });
  t.is(await dead(), 1);
  db.exec('DELETE FROM dead_letters');
  outbox.recount();
  t.is(await dead(), 0);
});

test('changedElsewhere sees commits of another connection, not its own', (t) => {
  const file = join(tempDir(t), 'state.db');
  const db = openStateDb(file);
  const other = openStateDb(file);
  t.teardown(() => {
    db.close();
    other.close();
  });
  const outbox = new Outbox(db);
  t.false(outbox.changedElsewhere());
  db.transaction(() => outbox.add([makeEvent(1, 'connect')]))();
  t.false(outbox.changedElsewhere());
  new Outbox(other).add([makeEvent(2, 'connect')]);
  t.true(outbox.changedElsewhere());
  t.false(outbox.changedElsewhere());
  t.is(outbox.recount(), 2);
});

test('backlog survives reopening the file', (t) => {
  const file = join(tempDir(t), 'state.db');
  const db = openStateDb(file);
  db.transaction(() => new Outbox(db).add([makeEvent(1, 'connect'), makeEvent(1, 'disconnect', 1)]))();
  db.close();
  const again = openStateDb(file);
  t.teardown(() => again.close());
  t.is(new Outbox(again).backlog(), 2);
});
