import test from 'ava';
import fc from 'fast-check';
import { isoTime } from '../../src/events/iso-time.js';

test('isoTime writes what toISOString writes, in any order of calls (the cache never leaks a second)', (t) => {
  // Runs within one second, jumps, negative times, years past 9999 and the limits of Date.
  const time = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: 1.7e12, max: 1.7e12 + 5000 }), fc.integer({ min: -2500, max: 2500 }));
  fc.assert(fc.property(fc.array(time, { minLength: 1, maxLength: 50 }), (times) => times.every((ms) => isoTime(ms) === new Date(ms).toISOString())), { numRuns: 500 });
  t.is(isoTime(Date.parse('2026-03-14T06:00:00.007Z')), '2026-03-14T06:00:00.007Z');
  t.is(isoTime(-1), '1969-12-31T23:59:59.999Z');
  t.is(isoTime(1.7e12 + 0.5), new Date(1.7e12 + 0.5).toISOString());
  t.is(isoTime(8.64e15), new Date(8.64e15).toISOString());
});

test('isoTime throws for a time toISOString cannot write, as toISOString does', (t) => {
  t.throws(() => isoTime(Number.NaN), { instanceOf: RangeError });
  t.throws(() => isoTime(8.64e15 + 1), { instanceOf: RangeError });
  t.is(isoTime(0), '1970-01-01T00:00:00.000Z', 'the cache is not left broken by a throw');
});
