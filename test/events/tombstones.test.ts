import test from 'ava';
import { DeviceClocks } from '../../src/events/device-clocks.js';
import { MAX_TOMBSTONES, Tombstones } from '../../src/events/tombstones.js';

const DAY = 86_400_000;

test('a tombstone counts within its retention of the clock for the line, and not after', (t) => {
  const tombs = new Tombstones(() => 0);
  tombs.retentionMs = DAY;
  tombs.set('k', 1000);
  t.is(tombs.get('k', 1000 + DAY), 1000);
  t.is(tombs.get('k', 1001 + DAY), undefined);
  t.is(tombs.get('other', 0), undefined);
  tombs.delete('k');
  t.is(tombs.get('k', 1000), undefined);
});

test('sweep drops only the ones past retention, judged by each key\'s own clock', (t) => {
  const now = new Map([['old', 10 * DAY], ['fresh', 10 * DAY], ['behind', 0]]);
  const tombs = new Tombstones((key) => now.get(key)!);
  tombs.retentionMs = DAY;
  tombs.set('old', 8 * DAY);
  tombs.set('fresh', 9.5 * DAY);
  tombs.set('behind', 0);
  tombs.sweep();
  t.deepEqual([...tombs.entries()], [['fresh', 9.5 * DAY], ['behind', 0]]);
});

test('the order is the order of the last ends; past MAX_TOMBSTONES the oldest goes first', (t) => {
  const tombs = new Tombstones(() => 0);
  tombs.set('a', 1);
  tombs.set('b', 2);
  tombs.set('a', 3);
  t.deepEqual([...tombs.entries()], [['b', 2], ['a', 3]]);
  for (let i = 0; i < MAX_TOMBSTONES; i++) tombs.set(`k${i}`, i);
  t.is(tombs.size, MAX_TOMBSTONES);
  t.is(tombs.get('b', 0), undefined, 'the oldest two were forgotten');
  t.is(tombs.get('a', 0), undefined);
  t.is(tombs.get('k0', 0), 0);
});

test('end() sweeps once the map doubled since the last sweep', (t) => {
  let clock = 0;
  const tombs = new Tombstones(() => clock);
  tombs.retentionMs = 10;
  for (let i = 0; i < 1023; i++) tombs.end(`k${i}`, 0);
  t.is(tombs.size, 1023);
  clock = 100;
  tombs.end('last', 100);
  t.deepEqual([...tombs.entries()], [['last', 100]], 'the 1,024th end swept the expired ones');
});

test('device clocks: raise only moves forward', (t) => {
  const clocks = new DeviceClocks();
  clocks.move('a', 100);
  clocks.raise('a', 50);
  t.is(clocks.get('a'), 100);
  clocks.raise('a', 200);
  clocks.move('b', 5);
  t.deepEqual([...clocks.all], [['a', 200], ['b', 5]]);
  clocks.clear();
  t.is(clocks.all.size, 0);
});
