import test from 'ava';
import fc from 'fast-check';
import { OldestFirst } from '../../src/events/oldest-first.js';

type Op = { op: 'set'; key: number } | { op: 'delete'; key: number } | { op: 'shift' } | { op: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('shift' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

test('shift takes the oldest entry, as the first key of a fresh iteration would be, whatever else changed the map', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const map = new Map<number, number>();
      const oldest = new OldestFirst(map);
      for (const o of ops) {
        if (o.op === 'set') map.set(o.key, o.key);
        else if (o.op === 'delete') map.delete(o.key);
        else if (o.op === 'clear') map.clear();
        else {
          const expected = map.keys().next().value;
          if (oldest.shift() !== expected || (expected !== undefined && map.has(expected))) return false;
        }
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('a key deleted and set again counts from its new place; an emptied map is taken from again once refilled', (t) => {
  const map = new Map([['a', 1], ['b', 2], ['c', 3]]);
  const oldest = new OldestFirst(map);
  map.delete('a');
  map.set('a', 1);
  t.deepEqual([oldest.shift(), oldest.shift(), oldest.shift(), oldest.shift()], ['b', 'c', 'a', undefined]);
  map.set('d', 4);
  t.is(oldest.shift(), 'd');
});

test('tombstones: after a sweep the kept iterator no longer holds the table the map had when full', async (t) => {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const { MAX_TOMBSTONES, Tombstones } = await import('../../src/events/tombstones.js');
  gc();
  const before = process.memoryUsage().heapUsed;
  let now = 0;
  const tombs = new Tombstones(() => now);
  tombs.retentionMs = 1000;
  // One past the cap: the oldest is forgotten through the iterator, which then points into the full table.
  for (let i = 0; i <= MAX_TOMBSTONES; i++) tombs.set(`srx-branch-office-${i % 50}\u000010.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
  now = 1e9;
  tombs.sweep();
  for (let i = 0; i < 100; i++) tombs.set(`x${i}`, now);
  gc();
  const grown = (process.memoryUsage().heapUsed - before) / 1e6;
  t.is(tombs.size, 100);
  // Holding the old table kept ~60 MB of keys alive.
  t.true(grown < 25, `heap grew ${grown.toFixed(1)} MB for 100 tombstones`);
});
