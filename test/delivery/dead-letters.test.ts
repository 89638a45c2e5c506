import test from 'ava';
import { join } from 'node:path';
import { DeadLetters } from '../../src/delivery/dead-letters.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { openStateDb } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';
import { makeEvent } from './make-events.js';

function fixture(t: import('ava').ExecutionContext) {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const outbox = new Outbox(db);
  // seq 1..6: connect and disconnect of IPs 1..3
  db.transaction(() => outbox.add([makeEvent(1, 'connect'), makeEvent(2, 'connect'), makeEvent(3, 'connect'), makeEvent(1, 'disconnect', 1), makeEvent(2, 'disconnect', 1), makeEvent(3, 'disconnect', 1)]))();
  const rows = outbox.read(0, 10);
  const first = outbox.deadLetter({ batchId: 'a', status: 400, body: 'bad', rows: rows.slice(0, 2), time: 1000 });
  const second = outbox.deadLetter({ batchId: 'b', status: 422, body: 'worse', rows: rows.slice(2, 3), time: 2000 });
  return { db, outbox, letters: new DeadLetters(db), first, second };
}

test('list shows each dead letter without its events', (t) => {
  const { letters, first, second } = fixture(t);
  t.deepEqual(letters.list(), [
    { id: first, batchId: 'a', status: 400, body: 'bad', time: 1000, eventCount: 2 },
    { id: second, batchId: 'b', status: 422, body: 'worse', time: 2000, eventCount: 1 },
  ]);
});

test('retry puts events back at their original seq, ahead of later events of the same IP', (t) => {
  const { outbox, letters, first } = fixture(t);
  t.deepEqual(letters.retry([first]), { letters: 1, events: 2 });
  const rows = outbox.read(0, 10);
  t.deepEqual(rows.map((r) => `${r.ip} ${r.event.state}`), ['10.0.0.1 connect', '10.0.0.2 connect', '10.0.0.1 disconnect', '10.0.0.2 disconnect', '10.0.0.3 disconnect']);
  t.is(letters.list().length, 1);
  t.deepEqual(letters.retry(), { letters: 1, events: 1 });
  t.is(outbox.recount(), 6);
  t.is(outbox.read(0, 1)[0]!.seq, 1);
});

test('an unknown id changes nothing and names the id', (t) => {
  const { letters, first } = fixture(t);
  const error = t.throws(() => letters.retry([first, 99]));
  t.is((error as { code?: string }).code, 'ERR_USAGE');
  t.regex(error!.message, /99/);
  t.is(letters.list().length, 2);
  t.throws(() => letters.purge([99]));
  t.is(letters.list().length, 2);
});

test('purge deletes the chosen dead letters, or all', (t) => {
  const { letters, first, second } = fixture(t);
  t.deepEqual(letters.preview(), { letters: 2, events: 3 });
  t.deepEqual(letters.purge([second]), { letters: 1, events: 1 });
  t.deepEqual(letters.list().map((d) => d.id), [first]);
  t.deepEqual(letters.purge(), { letters: 1, events: 2 });
  t.deepEqual(letters.list(), []);
});
