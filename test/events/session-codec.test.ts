import test from 'ava';
import { applyPatch, deviceOfKey, fromValues, keyOf, OP_PATCH, patchOf, tombstoneValues, toValues, type SessionValues } from '../../src/events/session-codec.js';
import type { Session } from '../../src/events/session-rules.js';

const T0 = Date.parse('2026-03-14T08:00:00.000Z');

const full: Session = {
  device: 'srx-hq', ip: '10.20.0.5', ipv6: '2001:db8::5', user: 'alice', domain: 'corp.example', sender: '192.0.2.10',
  vpn: 'ra-vpn', gateway: 'ra-gw', tunnelId: '500011', peer: '198.51.100.23', pattern: 'junos-iked/vpn-up',
  lineFlags: ['domain-missing'], connectFlags: ['reconnected'], since: T0, lastRekey: T0 + 3_600_000, intervalMs: 3_600_000,
  deadline: T0 + 7_500_000, missed: 1, lastLineAt: T0 + 3_600_000, openId: 'abc123',
};

/** Only what every session has: no IPv6, VPN, tunnel, rekey, deadline or line time. */
const bare: Session = {
  device: 'srx-branch', ip: '10.30.0.9', user: 'carol', domain: 'missing-domain-secureconnect', sender: 'file', pattern: 'p',
  lineFlags: [], connectFlags: [], since: T0, intervalMs: 0, missed: 0, openId: 'o',
};

for (const [name, session] of [['every field', full], ['optional fields absent', bare]] as const) {
  test(`values round trip (${name}), also through JSON as the journal and snapshot store them`, (t) => {
    t.deepEqual(fromValues(toValues(session)), session);
    const stored = JSON.parse(JSON.stringify(toValues(session))) as SessionValues;
    t.deepEqual(fromValues(stored), session);
    // An absent optional field must stay absent, not become `undefined`: the listing and deepEqual see the difference.
    t.deepEqual(Object.keys(fromValues(stored)).sort(), Object.keys(session).sort());
  });
}

test('values written before issue 8 (18 items) read without lastLineAt and with an empty openId', (t) => {
  const old = toValues(full).slice(0, 18) as SessionValues;
  const s = fromValues(old);
  t.false('lastLineAt' in s);
  t.is(s.openId, '');
  t.is(s.deadline, full.deadline);
});

test('a patch carries only what changed and rebuilds the next state', (t) => {
  const rekeyed: Session = { ...full, lastRekey: T0 + 7_200_000, deadline: T0 + 11_100_000, missed: 0, lastLineAt: T0 + 7_200_000 };
  const patch = patchOf(T0 + 7_200_000, full, rekeyed);
  t.deepEqual(patch, [OP_PATCH, T0 + 7_200_000, 'srx-hq', '10.20.0.5', 14, T0 + 7_200_000, 16, T0 + 11_100_000, 17, 0, 18, T0 + 7_200_000]);
  t.deepEqual(applyPatch(full, JSON.parse(JSON.stringify(patch)) as unknown[]), rekeyed);
});

test('a patch that clears optional fields and changes flags', (t) => {
  const next: Session = { ...full, connectFlags: ['superseded'], lineFlags: ['domain-missing'] };
  delete next.ipv6;
  delete next.deadline;
  const patch = patchOf(null, full, next);
  t.deepEqual(patch, [OP_PATCH, null, 'srx-hq', '10.20.0.5', 2, null, 12, ['superseded'], 16, null]);
  t.deepEqual(applyPatch(full, patch), next);
  t.deepEqual(patchOf(null, full, { ...full, lineFlags: [...full.lineFlags] }), [OP_PATCH, null, 'srx-hq', '10.20.0.5'], 'equal flags in another array are no change');
});

test('keys: the device is what comes before the last NUL, so a device name may hold one', (t) => {
  const key = keyOf('odd\u0000name', '10.0.0.1');
  t.is(deviceOfKey(key), 'odd\u0000name');
  t.deepEqual(tombstoneValues(key, T0), ['odd\u0000name', '10.0.0.1', T0]);
  t.not(keyOf('a', 'b'), keyOf('a\u0000b', ''));
});
