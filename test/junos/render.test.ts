import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config.js';
import { deriveBridgeConfig } from '../../src/junos/derive.js';
import { formatFindings, renderBridgeYaml } from '../../src/junos/render.js';
import { parseSetLines } from '../../src/junos/set-lines.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const derive = (text: string) => deriveBridgeConfig(parseSetLines(text).statements, { file: 'srx.set' });

for (const name of ['srx-hq.set', 'srx-cluster.set']) {
  test(`${name}: the YAML parses to exactly the derived values, and the config schema accepts it`, (t) => {
    const d = derive(fixture(name));
    const yaml = renderBridgeYaml(d, { source: name });
    const parsed = parse(yaml) as Record<string, unknown>;
    t.deepEqual(parsed.vpns, Object.fromEntries(d.vpns.map((v) => [v.name, {
      ...(v.domain !== undefined ? { domain: v.domain } : {}),
      ...(v.rekeyIntervalSeconds !== undefined ? { rekeyIntervalSeconds: v.rekeyIntervalSeconds } : {}),
    }])));
    t.deepEqual(parsed.gateways, d.gateways.length > 0 ? Object.fromEntries(d.gateways.map((g) => [g.name, { push: false }])) : undefined);
    t.deepEqual(parsed.devices, Object.fromEntries(d.devices.map((x) => [x.name, { senders: [...x.senders], timezone: x.timezone }])));
    const config = validateConfig({ ...parsed, listen: ['udp://127.0.0.1:5514'], senders: { allow: ['192.0.2.0/24'] } });
    t.is(Object.keys(config.vpns).length, d.vpns.length);
  });
}

test('srx-hq.set: every value carries a comment naming its Junos statement and line', (t) => {
  const yaml = renderBridgeYaml(derive(fixture('srx-hq.set')), { source: 'srx-hq.set' });
  t.regex(yaml, /# user-domain of remote-access profiles ra-corp \(line 78\), ra-corp-mfa \(line 82\)\n\s+domain: corp\.example/);
  t.regex(yaml, /# lifetime-seconds of ipsec proposal ra-p2 \(line 55\), via ipsec-policy ra-pol \(line 65\)\n\s+rekeyIntervalSeconds: 28800/);
  t.regex(yaml, /lab-gw:\n\s+push: false {2}# line 48/);
  t.regex(yaml, /# senders: syslog source-address \(line 16\)\n\s+senders:\n\s+- 192\.0\.2\.10/);
  t.regex(yaml, /# Left out, site to site .*: s2s-vpn/);
});

test('names YAML would misread are quoted; a VPN with nothing to set is an empty mapping', (t) => {
  const d = derive([
    'set security remote-access profile p ipsec-vpn "yes"',
    'set security remote-access profile p options user-domain "123"',
    'set security remote-access profile q ipsec-vpn "a: b"',
    'set security ike gateway "#gw" aaa no-push-to-identity-management',
    'set system host-name fw1',
  ].join('\n'));
  const yaml = renderBridgeYaml(d, { source: 'x' });
  const parsed = parse(yaml) as { vpns: Record<string, unknown>; gateways: Record<string, unknown> };
  t.deepEqual(parsed.vpns, { yes: { domain: '123' }, 'a: b': {} });
  t.deepEqual(parsed.gateways, { '#gw': { push: false } });
});

test('nothing to import: each section is a comment, and the text is still valid config', (t) => {
  const yaml = renderBridgeYaml(derive('set interfaces ge-0/0/0 unit 0 family inet'), { source: 'x' });
  t.regex(yaml, /# vpns: no remote-access IPsec VPN/);
  t.regex(yaml, /# gateways: no IKE gateway has aaa no-push-to-identity-management/);
  t.regex(yaml, /# devices: no system host-name/);
  t.is(parse(yaml), null);
});

test('findings: file:line per finding, then a summary', (t) => {
  const text = formatFindings(derive(fixture('srx-hq.set')), 'srx-hq.set');
  t.regex(text, /^junos import: 2 not mapped:\n {2}srx-hq\.set:86: inactive \(deactivate on line 88\): ignored: security remote-access profile old-ra ipsec-vpn ra-vpn\n/);
  t.regex(text, /junos import: 2 derived on an assumption \(check them\):\n {2}srx-hq\.set:56: /);
  t.regex(text, /junos import: 2 VPNs, 1 gateway opt-out, 1 device derived; 2 not mapped\.\n$/);
});
