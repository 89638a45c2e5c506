import test from 'ava';
import fc from 'fast-check';
import { anchorsFor, LiteralFinder, NOISE_SAMPLE } from '../../src/flow/literal-anchors.js';

const SHIPPED = ['VPN_UP_ALARM', 'VPN_DOWN_ALARM', ' is up. Local-ip:', ' is down. Local-ip:'].map((l) => Buffer.from(l));

test('anchors: every literal holds one; literals share one where they can; rare first bytes win', (t) => {
  const literals = SHIPPED;
  // Noise full of spaces, colons and dots, as flow logs are.
  const sample = Buffer.from('Mar 14 09:02:11 srx RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.1.2.3/51234->198.51.100.7/443 0x0 junos-https\n'.repeat(100));
  const anchors = anchorsFor(literals, sample).map(String);
  t.true(anchors.includes('VPN_'), anchors.join(' | '));
  t.is(anchors.length, 2, anchors.join(' | '));
  for (const l of literals) t.true(anchors.some((a) => l.includes(a)), `${l} holds an anchor`);
  t.deepEqual(anchorsFor([Buffer.from('ab')], sample).map(String), ['ab'], 'a literal shorter than an anchor is its own');
});

test('LiteralFinder: holds exactly when one of the literals occurs, for any literals and bytes', (t) => {
  const letters = fc.constantFrom('V', 'P', 'N', '_', 'U', ' ', 'L', 'o', 'c', ':', 'a', '.');
  const text = (max: number) => fc.array(letters, { minLength: 1, maxLength: max }).map((l) => l.join(''));
  fc.assert(
    fc.property(fc.uniqueArray(text(8), { minLength: 1, maxLength: 4 }), text(80), (literals, body) => {
      const finder = new LiteralFinder(literals);
      return finder.holds(Buffer.from(body)) === literals.some((l) => body.includes(l));
    }),
    { numRuns: 5000 },
  );
  const shipped = new LiteralFinder(SHIPPED.map(String));
  t.true(shipped.holds(Buffer.from('<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1')));
  t.false(shipped.holds(NOISE_SAMPLE), 'noise holds no literal');
  t.false(shipped.holds(Buffer.from('VPN_ Local-ip')), 'anchors alone are not literals');
  const dup = new LiteralFinder(['', 'VPN_UP_ALARM', 'VPN_UP_ALARM']);
  t.is(dup.anchors.length, 1, 'once each, the empty literal left out');
  t.false(dup.holds(Buffer.from('any line')), 'an empty literal matches nothing');
});

test('anchors for the shipped literals before any input: two, with first bytes rare in syslog noise', (t) => {
  const anchors = anchorsFor(SHIPPED, NOISE_SAMPLE).map(String);
  t.is(anchors.length, 2, anchors.join(' | '));
  t.true(anchors.includes('VPN_'));
});
