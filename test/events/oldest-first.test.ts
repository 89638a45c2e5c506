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
