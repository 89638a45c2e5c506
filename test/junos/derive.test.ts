import test from 'ava';
import { readFileSync } from 'node:fs';
import { deriveBridgeConfig, hideSecrets, JunosConfigError, type Derivation } from '../../src/junos/derive.js';
import { parseSetLines } from '../../src/junos/set-lines.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const derive = (text: string, file = 'srx.set'): Derivation => deriveBridgeConfig(parseSetLines(text).statements, { file });
const vpn = (d: Derivation, name: string) => d.vpns.find((v) => v.name === name);
const lines = (...l: string[]) => l.join('\n');

/** A remote-access VPN whose IPsec policy and proposals the cases vary. */
const raVpn = (...extra: string[]) => lines(
  'set security ike gateway gw dynamic user-at-hostname "@ra.auth"',
  'set security ipsec vpn ra ike gateway gw',
  'set security ipsec vpn ra ike ipsec-policy pol',
  'set security remote-access profile p ipsec-vpn ra',
  ...extra,
);

test('srx-hq.set: domains and rekey intervals per remote-access VPN, the gateway opt-out, the device; site-to-site left out', (t) => {
  const d = derive(fixture('srx-hq.set'), 'srx-hq.set');
  t.deepEqual(d.vpns.map((v) => [v.name, v.domain, v.rekeyIntervalSeconds, v.gateway]), [
    ['ra-vpn', 'corp.example', 28800, 'ra-gw'],
    ['lab-vpn', undefined, 3600, 'lab-gw'],
  ]);
  t.deepEqual(d.siteToSite, ['s2s-vpn']);
  t.deepEqual(d.gateways, [{ name: 'lab-gw', push: false, line: 48 }]);
  t.deepEqual(d.devices.map((x) => [x.name, [...x.senders], x.timezone]), [['srx-hq', ['192.0.2.10'], 'Europe/Paris']]);
  // The deactivated profile (another domain on ra-vpn) is listed, not a conflict.
  t.deepEqual(d.unmapped.map((f) => [f.line, f.message.replace(/:.*/, '')]), [[86, 'inactive (deactivate on line 88)'], [87, 'inactive (deactivate on line 88)']]);
  t.regex(vpn(d, 'ra-vpn')!.domainComment, /ra-corp \(line 78\), ra-corp-mfa \(line 82\)/);
  t.regex(vpn(d, 'ra-vpn')!.rekeyComment!, /ipsec proposal ra-p2 \(line 55\).*ipsec-policy ra-pol \(line 65\)/);
  t.regex(vpn(d, 'lab-vpn')!.rekeyComment!, /no lifetime-seconds: Junos default 3600/);
  t.true(d.notes.some((n) => n.line === 58 && /lifetime-kilobytes/.test(n.message)));
});

test('srx-hq-conflict.set: two profiles, one VPN object, two user-domains: ERR_JUNOS_CONFIG naming both profiles, the VPN and file:line', (t) => {
  const error = t.throws(() => derive(fixture('srx-hq-conflict.set'), 'srx-hq-conflict.set'), { instanceOf: JunosConfigError });
  t.is(error.code, 'ERR_JUNOS_CONFIG');
  t.is(error.line, 82);
  t.is(error.key, 'vpns.ra-vpn.domain');
  t.deepEqual(error.conflicts, [{ vpn: 'ra-vpn', profiles: [
    { name: 'ra-corp', domain: 'corp.example', line: 78 },
    { name: 'ra-corp-mfa', domain: 'mfa.corp.example', line: 82 },
  ] }]);
  t.regex(error.message, /^srx-hq-conflict\.set:82: /);
  for (const part of ['"ra-corp"', '"ra-corp-mfa"', '"ra-vpn"', 'corp.example', 'mfa.corp.example']) t.true(error.message.includes(part), part);
});

test('srx-cluster.set: one device per node group, applied groups count, unapplied ones and logical systems are listed', (t) => {
  const d = derive(fixture('srx-cluster.set'));
  t.deepEqual(d.devices.map((x) => [x.name, [...x.senders], x.timezone]), [['srx-dc-a', ['192.0.2.21'], 'UTC'], ['srx-dc-b', ['192.0.2.22'], 'UTC']]);
  // dc-p2 (7200 s, from group ra-common; not 600 from the unapplied group spare) and dc-p2-legacy (3600 s): the longest.
  t.is(vpn(d, 'dc-vpn')?.rekeyIntervalSeconds, 7200);
  t.is(vpn(d, 'dc-vpn')?.remoteAccess, 'dial-up gateway dc-gw');
  t.is(vpn(d, 'old-manual')?.rekeyIntervalSeconds, undefined);
  const why = (line: number) => d.unmapped.filter((f) => f.line === line).map((f) => f.message).join(' | ');
  t.regex(why(13), /group spare, which no top-level apply-groups applies/);
  t.regex(why(16), /time-zone GMT\+2 .*devices\.srx-dc-a\.timezone and devices\.srx-dc-b\.timezone by hand/);
  t.regex(why(29), /manual SA/);
  t.regex(why(32), /logical systems/);
  t.regex(why(33), /not understood/);
  t.true(d.notes.some((n) => /dc-p2 7200 s, dc-p2-legacy 3600 s; the longest, 7200 s/.test(n.message)));
});

const rekeyCases: Array<[string, string, number | undefined, RegExp]> = [
  ['lifetime-seconds of the proposal', raVpn('set security ipsec policy pol proposals pr', 'set security ipsec proposal pr lifetime-seconds 28800'), 28800, /lifetime-seconds of ipsec proposal pr \(line 6\)/],
  ['no lifetime-seconds: Junos default 3600', raVpn('set security ipsec policy pol proposals pr', 'set security ipsec proposal pr protocol esp'), 3600, /no lifetime-seconds: Junos default 3600/],
  ['a predefined proposal-set: 3600', raVpn('set security ipsec policy pol proposal-set standard'), 3600, /proposal-set standard/],
  ['a proposal not in the file (predefined): 3600', raVpn('set security ipsec policy pol proposals g2-esp-aes128-sha1'), 3600, /not in this configuration \(predefined\?\)/],
  ['proposals with different lifetimes: the longest', raVpn('set security ipsec policy pol proposals [ a b ]', 'set security ipsec proposal a lifetime-seconds 1800', 'set security ipsec proposal b lifetime-seconds 86400'), 86400, /longest lifetime/],
  ['the top level wins over a group', raVpn('set groups g security ipsec proposal pr lifetime-seconds 900', 'set apply-groups g', 'set security ipsec policy pol proposals pr', 'set security ipsec proposal pr lifetime-seconds 7200'), 7200, /line 8/],
  ['a lifetime set only in an applied group', raVpn('set groups g security ipsec proposal pr lifetime-seconds 900', 'set apply-groups g', 'set security ipsec policy pol proposals pr'), 900, /line 5/],
];
for (const [name, text, seconds, comment] of rekeyCases) {
  test(`rekey interval: ${name}`, (t) => {
    const v = vpn(derive(text), 'ra');
    t.is(v?.rekeyIntervalSeconds, seconds);
    t.regex(v?.rekeyComment ?? '', comment);
  });
}

const noRekeyCases: Array<[string, string, RegExp]> = [
  ['the IPsec policy is not in the file', raVpn(), /ipsec policy pol, which is not in this configuration/],
  ['no ike ipsec-policy', lines('set security remote-access profile p ipsec-vpn ra', 'set security ipsec vpn ra ike gateway gw'), /no ike ipsec-policy/],
  ['a policy without proposals', raVpn('set security ipsec policy pol perfect-forward-secrecy keys group14'), /names no proposals or proposal-set/],
];
for (const [name, text, why] of noRekeyCases) {
  test(`no rekey interval: ${name}, listed as not mapped`, (t) => {
    const d = derive(text);
    t.is(vpn(d, 'ra')?.rekeyIntervalSeconds, undefined);
    t.true(d.unmapped.some((f) => why.test(f.message)), JSON.stringify(d.unmapped));
  });
}

const domainCases: Array<[string, string, string | undefined, RegExp | undefined]> = [
  ['one profile', raVpn('set security remote-access profile p options user-domain corp.example'), 'corp.example', undefined],
  ['two profiles, the same domain', raVpn('set security remote-access profile p options user-domain corp.example', 'set security remote-access profile q ipsec-vpn ra', 'set security remote-access profile q options user-domain corp.example'), 'corp.example', undefined],
  ['a profile without a domain beside one with: the domain, and a note', raVpn('set security remote-access profile p options user-domain corp.example', 'set security remote-access profile q ipsec-vpn ra'), 'corp.example', /profile q shares ipsec vpn ra but sets no user-domain/],
  ['no domain at all', raVpn(), undefined, undefined],
  ['a deactivated profile with another domain', raVpn('set security remote-access profile p options user-domain corp.example', 'set security remote-access profile q ipsec-vpn ra', 'set security remote-access profile q options user-domain lab.example', 'deactivate security remote-access profile q options user-domain'), 'corp.example', undefined],
  ['a profile in a group nobody applies', raVpn('set security remote-access profile p options user-domain corp.example', 'set groups old security remote-access profile q ipsec-vpn ra', 'set groups old security remote-access profile q options user-domain lab.example'), 'corp.example', undefined],
];
for (const [name, text, domain, note] of domainCases) {
  test(`domain alias: ${name}`, (t) => {
    const d = derive(text);
    t.is(vpn(d, 'ra')?.domain, domain);
    if (note) t.true(d.notes.some((n) => note.test(n.message)), JSON.stringify(d.notes));
  });
}

test('domain alias: three profiles on one VPN with two domains are refused, every profile named', (t) => {
  const text = raVpn(
    'set security remote-access profile p options user-domain corp.example',
    'set security remote-access profile q ipsec-vpn ra',
    'set security remote-access profile q options user-domain lab.example',
    'set security remote-access profile r ipsec-vpn ra',
    'set security remote-access profile r options user-domain lab.example',
  );
  const error = t.throws(() => derive(text), { instanceOf: JunosConfigError });
  t.is(error.code, 'ERR_JUNOS_CONFIG');
  t.deepEqual(error.conflicts[0]?.profiles.map((p) => p.name), ['p', 'q', 'r']);
  t.regex(error.message, /^srx\.set:7: remote-access profiles "p" \(user-domain corp\.example, line 5\), "q" \(user-domain lab\.example, line 7\) and "r" \(user-domain lab\.example, line 9\) share IPsec VPN object "ra"/);
});

const gatewayCases: Array<[string, string, string[]]> = [
  ['aaa no-push-to-identity-management', 'set security ike gateway g aaa no-push-to-identity-management', ['g']],
  ['in an applied group', 'set groups ra security ike gateway g aaa no-push-to-identity-management\nset apply-groups ra', ['g']],
  ['deactivated', 'set security ike gateway g aaa no-push-to-identity-management\ndeactivate security ike gateway g aaa no-push-to-identity-management', []],
  ['a gateway without it', 'set security ike gateway g aaa access-profile radius', []],
];
for (const [name, text, expected] of gatewayCases) {
  test(`gateway push opt-out: ${name}`, (t) => {
    t.deepEqual(derive(text).gateways.map((g) => g.name), expected);
  });
}

const deviceCases: Array<[string, string, Array<[string, string[], string]>, RegExp | undefined]> = [
  ['host name, global and per-host syslog source addresses, an IANA zone', lines('set system host-name fw1', 'set system syslog source-address 192.0.2.1', 'set system syslog host 192.0.2.5 source-address 2001:db8::1', 'set system time-zone America/New_York'), [['fw1', ['192.0.2.1', '2001:db8::1'], 'America/New_York']], undefined],
  ['no source address: senders empty, listed to fill in', 'set system host-name fw1', [['fw1', [], 'UTC']], /fill in devices\.fw1\.senders/],
  ['no host name: no device, a note', 'set system syslog source-address 192.0.2.1', [], undefined],
];
for (const [name, text, expected, unmapped] of deviceCases) {
  test(`devices: ${name}`, (t) => {
    const d = derive(text);
    t.deepEqual(d.devices.map((x) => [x.name, [...x.senders], x.timezone]), expected);
    if (unmapped) t.true(d.unmapped.some((f) => unmapped.test(f.message)));
    if (expected.length === 0) t.true(d.notes.some((n) => /no system host-name/.test(n.message)));
  });
}

test('statements the import does not understand are listed; secrets in them are hidden', (t) => {
  const d = derive(lines(
    'set security ike gateway g aaa client password "$9$secretvalue"',
    'deactivate security ike gateway g',
    'set security remote-access profile p some-future-option on',
    'set system host-name fw1',
  ));
  t.deepEqual(d.unmapped.map((f) => f.line), [1, 3, 4]);
  t.is(d.unmapped[0]!.statement, 'security ike gateway g aaa client password <hidden>');
  t.regex(d.unmapped[1]!.message, /not understood/);
  t.false(JSON.stringify(d).includes('secretvalue'));
});

const secretCases: Array<[string[], string]> = [
  [['security', 'ike', 'policy', 'p', 'pre-shared-key', 'ascii-text', '$9$abc'], 'security ike policy p pre-shared-key ascii-text <hidden>'],
  [['access', 'profile', 'r', 'radius-server', '192.0.2.20', 'secret', 'x y'], 'access profile r radius-server 192.0.2.20 secret <hidden>'],
  [['system', 'root-authentication', 'encrypted-password', '$6$salt$hash'], 'system root-authentication encrypted-password <hidden>'],
  [['system', 'login', 'message', 'hello world'], 'system login message "hello world"'],
];
for (const [words, shown] of secretCases) {
  test(`hideSecrets: ${shown}`, (t) => t.is(hideSecrets(words), shown));
}
