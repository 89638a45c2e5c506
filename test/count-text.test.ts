import test from 'ava';
import fc from 'fast-check';
import { byKey, thousands } from '../src/count-text.js';

test('thousands writes integers as toLocaleString("en-US") does, without Intl', (t) => {
  fc.assert(fc.property(fc.integer({ min: -1e15, max: 1e15 }), (v) => thousands(v) === v.toLocaleString('en-US')));
  t.is(thousands(1234567), '1,234,567');
  t.is(thousands(1.5), (1.5).toLocaleString('en-US'));
});

test('byKey sorts entries by key', (t) => {
  t.deepEqual(Object.entries({ 'junos-kmd/vpn-up': 1, 'junos-iked/vpn-down': 2, 'junos-iked/vpn-up': 3 }).sort(byKey).map(([k]) => k), ['junos-iked/vpn-down', 'junos-iked/vpn-up', 'junos-kmd/vpn-up']);
});
