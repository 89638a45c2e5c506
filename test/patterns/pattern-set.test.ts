import test from 'ava';
import fc from 'fast-check';
import { runExamples, formatExampleFailures } from '../../src/patterns/examples.js';
import { loadPatterns } from '../../src/patterns/load.js';

const set = loadPatterns();

const IKED_UP = 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';
const KMD_DOWN = 'KMD_VPN_DOWN_ALARM_USER: VPN ra-vpn from 198.51.100.41 is down. Local-ip: 203.0.113.2, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 131073, local tunnel-if: st0.0, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: ivan, VR id: 0, Traffic-selector: , Traffic-selector local ID: ipv4_subnet(any:0,[0..7]=0.0.0.0/0), Traffic-selector remote ID: ipv4_subnet(any:0,[0..7]=10.40.0.5/32), SA Type: dynamic, Reason: Peer sent delete';

test('every inline example of the shipped sets passes', (t) => {
  const results = runExamples(set);
  t.true(results.length >= 30);
  t.is(formatExampleFailures(results), '');
  // Both daemons, both states, the no-match and near-miss kinds are all represented.
  const kinds = new Set(results.map((r) => (r.example.expect.kind === 'rule' ? r.example.expect.ruleId : r.example.expect.kind)));
  for (const k of ['junos-iked/vpn-up', 'junos-iked/vpn-down', 'junos-kmd/vpn-up', 'junos-kmd/vpn-down', 'no-match', 'near-miss']) t.true(kinds.has(k), k);
});

test('every required capture is yielded by the documented template lines', (t) => {
  const up = set.match(IKED_UP);
  t.is(up?.ruleId, 'junos-iked/vpn-up');
  for (const f of ['vpn', 'peer', 'localIp', 'gateway', 'tunnelId', 'remoteIkeId', 'aaaUser', 'tsRemote', 'localIkeId', 'tunnelIf', 'vr', 'tsName', 'tsLocal', 'saType']) t.truthy(up?.fields[f], f);
  const down = set.match(KMD_DOWN);
  t.is(down?.ruleId, 'junos-kmd/vpn-down');
  t.is(down?.state, 'down');
  t.is(down?.fields.reason, 'Peer sent delete');
  t.is(down?.fields.tsName, undefined, 'an empty Traffic-selector is absent, not ""');
});

test('a line in every envelope position matches: tag, chassis prefix, RFC 3164, RFC 5424, trailing CR or blanks', (t) => {
  const text = IKED_UP.slice('IKE_VPN_UP_ALARM_USER: '.length);
  // Without its tag the text is not an alarm: any daemon could have written it.
  t.is(set.match(text), undefined);
  for (const line of [
    IKED_UP,
    `${IKED_UP}  `,
    `(FPC Slot 1, PIC Slot 0) SPC3_PIC0 iked[4242]: ${IKED_UP}`,
    `<30>Mar 14 09:02:11 srx-hq iked[4242]: ${IKED_UP}`,
    `<30>1 2026-03-14T09:02:11Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER [junos@2636.1.1.1.2.129 a="b"] ${text}`,
    `${IKED_UP}\r`,
  ]) {
    t.is(set.match(line)?.fields.aaaUser, 'alice', line);
  }
});

test('the tag decides the rule: a DOWN text under an UP tag (or the reverse) is no event', (t) => {
  t.is(set.match(IKED_UP.replace(' is up. ', ' is down. ')), undefined);
  t.is(set.match(KMD_DOWN.replace(' is down. ', ' is up. ')), undefined);
  const down = IKED_UP.replace('IKE_VPN_UP_ALARM_USER', 'IKE_VPN_DOWN_ALARM_USER').replace(' is up. ', ' is down. ');
  t.is(set.match(down)?.state, 'down');
});

test('near misses: a VPN-looking line that matches no rule; noise: everything else', (t) => {
  const broken = IKED_UP.replace('gateway name:', 'gw name:');
  t.is(set.match(broken), undefined);
  t.true(set.isNearMiss(broken));
  t.false(set.isNearMiss('RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/2'));
  t.true(set.isNearMiss('KMD_VPN_UP_ALARM_USER: something new'));
});

test('every shipped example that matches contains a literal (so chunk scanning never hides it)', (t) => {
  for (const e of set.examples) {
    if (e.expect.kind === 'rule' || e.expect.kind === 'near-miss') t.true(set.literals.some((l) => e.text.includes(l)), e.text);
  }
});

test('match never throws and yields only non-empty text fields, on any input', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (s) => {
      const m = set.match(s);
      return m === undefined || Object.values(m.fields).every((v) => typeof v === 'string' && v.length > 0);
    }),
    { numRuns: 500 },
  );
  // Mutations of a real line: a character replaced, removed or inserted anywhere.
  fc.assert(
    fc.property(fc.nat(IKED_UP.length - 1), fc.constantFrom('', ',', ' ', '(', ')', '\uFFFD', '\n', 'x'), (at, ch) => {
      const mutated = IKED_UP.slice(0, at) + ch + IKED_UP.slice(at + 1);
      const m = set.match(mutated);
      return m === undefined || m.ruleId === 'junos-iked/vpn-up';
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('a crafted line at the 64 KiB line limit is matched or rejected without catastrophic backtracking', (t) => {
  // Fields repeated so a backtracking regex would try every split; the shipped ones fail fast.
  // Bounded by work, not by the clock: a super-linear regex would take minutes here, not seconds.
  const filler = ', AAA username: x, VR id: 0, Traffic-selector: , Traffic-selector local ID: ipv4() ipv4(f';
  const prefix = IKED_UP.slice(0, IKED_UP.indexOf(', AAA username'));
  const crafted = prefix + filler.repeat(Math.floor(65536 / filler.length));
  for (let i = 0; i < 20; i++) t.is(set.match(crafted), undefined);
});
