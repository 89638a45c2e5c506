import test from 'ava';
import { clientAddress, normalize, type NormalizeResult } from '../../src/events/normalize.js';
import { MISSING_DOMAIN, toEvent } from '../../src/events/ptim-event.js';
import type { Envelope, PatternMatch, ReceivedMessage } from '../../src/flow/pipeline-records.js';

const RECEIVED = Date.UTC(2026, 2, 14, 12, 0, 0);
const msg: ReceivedMessage = { data: Buffer.alloc(0), sender: '192.0.2.10', receivedAt: RECEIVED, transport: 'udp' };
const envelope: Envelope = { format: 'rfc3164', time: new Date('2026-03-14T09:02:11.000Z'), host: 'srx-hq', msg: '' };

const baseFields = {
  vpn: 'ra-vpn', peer: '198.51.100.23', localIp: '203.0.113.1', gateway: 'ra-gw', tunnelId: '500011',
  remoteIkeId: '@ra.auth', aaaUser: 'alice', tsRemote: 'ipv4(0,0-65535,10.20.0.5-10.20.0.5)',
};

function run(fields: Record<string, string>, options: { state?: 'up' | 'down'; env?: Envelope; vpns?: Record<string, { domain?: string }> } = {}): NormalizeResult {
  const match: PatternMatch = { ruleId: 'junos-iked/vpn-up', state: options.state ?? 'up', fields: { ...baseFields, ...fields } };
  return normalize(match, options.env ?? envelope, msg, options.vpns ?? {});
}

function candidate(t: import('ava').ExecutionContext, r: NormalizeResult) {
  if (r.kind !== 'candidate') {
    t.fail(`expected a candidate, got skipped ${r.reason}`);
    throw new Error('unreachable');
  }
  return r.candidate;
}

test('normalize: the JUNOS-LOGS example yields the documented event', (t) => {
  const c = candidate(t, run({}, { vpns: { 'ra-vpn': { domain: 'corp.example' } } }));
  t.deepEqual(c, {
    user: 'alice', domain: 'corp.example', ip: '10.20.0.5', time: '2026-03-14T09:02:11.000Z', device: 'srx-hq', sender: '192.0.2.10',
    vpn: 'ra-vpn', gateway: 'ra-gw', tunnelId: '500011', peer: '198.51.100.23', flags: [], pattern: 'junos-iked/vpn-up', line: 'up',
    lineKey: c.lineKey,
  });
  t.true(c.lineKey.startsWith('srx-hq\u0000'));
  t.deepEqual(Object.keys(c), ['user', 'domain', 'ip', 'time', 'device', 'sender', 'vpn', 'gateway', 'tunnelId', 'peer', 'flags', 'pattern', 'line', 'lineKey']);
});

const userRows: Array<{ name: string; aaaUser: string; remoteIkeId: string; user?: string; domain?: string; skipped?: 'no-user' }> = [
  { name: 'AAA username wins over the shared IKE id', aaaUser: 'alice', remoteIkeId: '@ra.auth', user: 'alice', domain: MISSING_DOMAIN },
  { name: 'AAA user@dom splits', aaaUser: 'alice@corp.example', remoteIkeId: '@ra.auth', user: 'alice', domain: 'corp.example' },
  { name: 'a CN is read from a DN-shaped identity only', aaaUser: 'Not-applicable', remoteIkeId: 'mallory@corp, CN=admin', user: 'mallory@corp, CN=admin'.split('@')[0], domain: 'corp, CN=admin' },
  { name: 'a DN identity gives its CN', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O=Example, CN=grace', user: 'grace', domain: MISSING_DOMAIN },
  { name: 'a DN without CN names nobody', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O=Example', skipped: 'no-user' },
  // Found by an attack: the CN was the first `CN=` after a comma, escaped or quoted or not.
  { name: 'an escaped comma is inside the value: no CN in an OU', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O=corp, OU=sales\\, CN=admin', skipped: 'no-user' },
  { name: 'the same beside a real CN gives the real one', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O=corp, OU=sales\\, CN=admin, CN=mallory', user: 'mallory', domain: MISSING_DOMAIN },
  { name: 'an escaped slash in the slash form is inside the value', aaaUser: 'Not-applicable', remoteIkeId: '/C=US/O=corp/OU=a\\/CN=admin/CN=mallory', user: 'mallory', domain: MISSING_DOMAIN },
  { name: 'a quoted value is one value', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O="a, CN=admin", CN=bob', user: 'bob', domain: MISSING_DOMAIN },
  { name: 'two CNs name nobody for sure', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O=corp, CN=admin, CN=mallory', skipped: 'no-user' },
  { name: 'a part without type= is no DN', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, junk, CN=admin', skipped: 'no-user' },
  { name: 'AAA DOM\\user splits', aaaUser: 'CORP\\alice', remoteIkeId: '@ra.auth', user: 'alice', domain: 'CORP' },
  { name: 'iked Not-applicable -> Remote IKE-ID', aaaUser: 'Not-applicable', remoteIkeId: 'bob@cert.example', user: 'bob', domain: 'cert.example' },
  { name: 'kmd Not-Applicable -> Remote IKE-ID', aaaUser: 'Not-Applicable', remoteIkeId: 'bob@cert.example', user: 'bob', domain: 'cert.example' },
  { name: 'Remote IKE-ID without domain', aaaUser: 'Not-applicable', remoteIkeId: 'carol', user: 'carol', domain: MISSING_DOMAIN },
  { name: 'distinguished-name IKE id yields the CN', aaaUser: 'Not-applicable', remoteIkeId: 'C=US, O=Example, CN=dave', user: 'dave', domain: MISSING_DOMAIN },
  { name: 'the last @ separates the domain', aaaUser: 'e@ve@corp.example', remoteIkeId: '@ra.auth', user: 'e@ve', domain: 'corp.example' },
  { name: 'shared @group id with AAA Not-applicable is no person', aaaUser: 'Not-applicable', remoteIkeId: '@ra.auth', skipped: 'no-user' },
  { name: 'an address-type IKE id with AAA Not-applicable is no person', aaaUser: 'Not-applicable', remoteIkeId: '198.51.100.23', skipped: 'no-user' },
  { name: 'no AAA user and no IKE id', aaaUser: 'Not-applicable', remoteIkeId: 'Not-Available', skipped: 'no-user' },
  { name: 'empty AAA user and empty IKE id', aaaUser: '', remoteIkeId: '', skipped: 'no-user' },
  { name: 'a bare @domain is no user', aaaUser: '@corp.example', remoteIkeId: '@ra.auth', skipped: 'no-user' },
];

for (const row of userRows) {
  test(`normalize user: ${row.name}`, (t) => {
    const r = run({ aaaUser: row.aaaUser, remoteIkeId: row.remoteIkeId });
    if (row.skipped) {
      t.deepEqual(r, { kind: 'skipped', reason: row.skipped });
      return;
    }
    const c = candidate(t, r);
    t.is(c.user, row.user!);
    t.is(c.domain, row.domain!);
    t.deepEqual(c.flags, row.domain === MISSING_DOMAIN ? ['domain-missing'] : []);
  });
}

test('normalize domain: the VPN alias applies only when the name has no domain', (t) => {
  const vpns = { 'ra-vpn': { domain: 'alias.example' } };
  t.is(candidate(t, run({}, { vpns })).domain, 'alias.example');
  t.is(candidate(t, run({ aaaUser: 'alice@own.example' }, { vpns })).domain, 'own.example');
  const other = candidate(t, run({ vpn: 'other-vpn' }, { vpns }));
  t.is(other.domain, MISSING_DOMAIN);
  t.deepEqual(other.flags, ['domain-missing']);
  // A VPN named like an Object.prototype key must not pick up a prototype member.
  t.is(candidate(t, run({ vpn: 'constructor' }, { vpns })).domain, MISSING_DOMAIN);
});

const addressRows: Array<{ ts: string; want: { ip: string; ipv6?: string } | undefined }> = [
  { ts: 'ipv4(0,0-65535,10.20.0.5-10.20.0.5)', want: { ip: '10.20.0.5' } },
  { ts: 'ipv4(0,0-65535,10.20.0.5-10.20.0.5) ipv6(0,0-65535,2001:db8::5-2001:db8::5)', want: { ip: '10.20.0.5', ipv6: '2001:db8::5' } },
  { ts: 'ipv6(0,0-65535,2001:DB8:0:0::5-2001:db8::5)', want: { ip: '2001:db8::5' } },
  { ts: 'ipv4_subnet(any:0,[0..7]=10.20.0.5/32)', want: { ip: '10.20.0.5' } },
  { ts: 'ipv6_subnet(any:0,[0..15]=2001:db8::7/128)', want: { ip: '2001:db8::7' } },
  { ts: 'ipv4(0,0-65535,0.0.0.0-255.255.255.255)', want: undefined },
  { ts: 'ipv4_subnet(any:0,[0..7]=0.0.0.0/0)', want: undefined },
  { ts: 'ipv4_subnet(any:0,[0..7]=10.20.0.0/24)', want: undefined },
  { ts: 'ipv4(0,0-65535,0.0.0.0-255.255.255.255) ipv6(0,0-65535,2001:db8::5-2001:db8::5)', want: { ip: '2001:db8::5' } },
  { ts: 'ipv6(0,0-65535,::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff)', want: undefined },
  { ts: 'ipv4(0,0-65535,10.20.0.5-10.20.0.9)', want: undefined },
  { ts: 'ipv4(0,0-65535,garbage-garbage)', want: undefined },
  { ts: '', want: undefined },
  // Found by an attack: one client under two keys, and addresses no client holds.
  { ts: 'ipv6(0,0-65535,::ffff:10.20.2.2-::ffff:10.20.2.2)', want: { ip: '10.20.2.2' } },
  { ts: 'ipv4(0,0-65535,10.20.2.2-10.20.2.2) ipv6(0,0-65535,::ffff:10.20.2.2-::ffff:10.20.2.2)', want: { ip: '10.20.2.2' } },
  { ts: 'ipv4(0,0-65535,0.0.0.0-0.0.0.0)', want: undefined },
  { ts: 'ipv4(0,0-65535,255.255.255.255-255.255.255.255)', want: undefined },
  { ts: 'ipv4(0,0-65535,127.0.0.1-127.0.0.1)', want: undefined },
  { ts: 'ipv4(0,0-65535,224.0.0.5-224.0.0.5)', want: undefined },
  { ts: 'ipv6(0,0-65535,::-::)', want: undefined },
  { ts: 'ipv6(0,0-65535,::1-::1)', want: undefined },
  { ts: 'ipv6(0,0-65535,ff02::1-ff02::1)', want: undefined },
  { ts: 'ipv4(0,0-65535,223.255.255.254-223.255.255.254)', want: { ip: '223.255.255.254' } },
];

for (const row of addressRows) {
  test(`normalize address: ${row.ts || '(empty)'}`, (t) => {
    t.deepEqual(clientAddress(row.ts), row.want);
    const r = run({ tsRemote: row.ts });
    if (row.want === undefined) t.deepEqual(r, { kind: 'skipped', reason: 'no-client-address' });
    else {
      const c = candidate(t, r);
      t.is(c.ip, row.want.ip);
      t.is(c.ipv6, row.want.ipv6);
    }
  });
}

test('normalize: time and device fall back to receipt time and sender', (t) => {
  const c = candidate(t, run({}, { env: { format: 'bare', msg: '' } }));
  t.is(c.time, new Date(RECEIVED).toISOString());
  t.is(c.device, '192.0.2.10');
  t.is(c.sender, '192.0.2.10');
});

test('normalize: reason only for down, trimmed', (t) => {
  const down = candidate(t, run({ reason: ' Tunnel configuration is deleted. Corresponding IKE/IPSec SAs are deleted ' }, { state: 'down' }));
  t.is(down.reason, 'Tunnel configuration is deleted. Corresponding IKE/IPSec SAs are deleted');
  t.is(down.line, 'down');
  const up = candidate(t, run({ reason: 'should not appear' }, { state: 'up' }));
  t.is(up.reason, undefined);
  t.false('reason' in up);
});

test('normalize: IPv6 peer is canonical, event ids are deterministic', (t) => {
  const a = candidate(t, run({ peer: '2001:DB8::23' }));
  t.is(a.peer, '2001:db8::23');
  const b = candidate(t, run({ peer: '2001:DB8::23' }));
  t.is(toEvent(a, 'connect').id, toEvent(b, 'connect').id);
  t.not(toEvent(a, 'connect').id, toEvent(a, 'disconnect').id);
});
