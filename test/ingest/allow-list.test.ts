import test from 'ava';
import { createAllowList, normalizeAddress } from '../../src/ingest/allow-list.js';

const cases: Array<[string[], string, boolean]> = [
  [['192.0.2.0/24'], '192.0.2.10', true],
  [['192.0.2.0/24'], '192.0.3.10', false],
  [['192.0.2.0/24'], '::ffff:192.0.2.10', true],
  [['192.0.2.0/24'], '::ffff:192.0.3.10', false],
  [['192.0.2.7'], '192.0.2.7', true],
  [['192.0.2.7'], '192.0.2.8', false],
  [['2001:db8::/32'], '2001:db8:1::5', true],
  [['2001:db8::/32'], '2001:db9::5', false],
  [['2001:db8::/32'], '192.0.2.1', false],
  [['::ffff:10.0.0.0/104'], '10.1.2.3', true],
  [['::1'], '::1', true],
  [['0.0.0.0/0'], '203.0.113.9', true],
  [['127.0.0.1'], 'not-an-ip', false],
  [[], '127.0.0.1', false],
];
for (const [cidrs, address, expected] of cases) {
  test(`allow-list ${JSON.stringify(cidrs)} ${address} -> ${expected}`, (t) => {
    t.is(createAllowList(cidrs).allows(address), expected);
  });
}

test('allow-list: empty list with allowAny allows everyone', (t) => {
  const list = createAllowList([], true);
  t.true(list.any);
  t.true(list.allows('203.0.113.1'));
});

for (const entry of ['192.0.2.0/33', '2001:db8::/129', 'example.com', '1.2.3.4/8/9', '']) {
  test(`allow-list rejects ${JSON.stringify(entry)}`, (t) => {
    const error = t.throws(() => createAllowList([entry]));
    t.is((error as { code?: string }).code, 'ERR_CONFIG_INVALID');
  });
}

test('normalizeAddress unwraps IPv4-mapped IPv6', (t) => {
  t.is(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  t.is(normalizeAddress('::ffff:a14:202'), '10.20.2.2', 'the canonical IPv6 spelling too');
  t.is(normalizeAddress('::ffff:1:2:3'), '::ffff:1:2:3');
  t.is(normalizeAddress('::1'), '::1');
});
