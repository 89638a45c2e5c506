import anyTest from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// CLI processes, one at a time.
const test = anyTest.serial;

const HQ = 'test/junos/fixtures/srx-hq.set';
const CONFLICT = 'test/junos/fixtures/srx-hq-conflict.set';

test('junos import FILE: YAML on stdout, what it could not map on stderr with file:line, exit 0', async (t) => {
  const r = await runCli(['junos', 'import', HQ]);
  t.is(r.code, 0, r.stderr);
  const yaml = parse(r.stdout) as Record<string, unknown>;
  t.deepEqual(yaml, {
    vpns: { 'ra-vpn': { domain: 'corp.example', rekeyIntervalSeconds: 28800 }, 'lab-vpn': { rekeyIntervalSeconds: 3600 } },
    gateways: { 'lab-gw': { push: false } },
    devices: { 'srx-hq': { senders: ['192.0.2.10'], timezone: 'Europe/Paris' } },
  });
  t.regex(r.stdout, /# user-domain of remote-access profiles ra-corp \(line 78\)/);
  t.regex(r.stderr, /srx-hq\.set:86: inactive \(deactivate on line 88\): ignored: security remote-access profile old-ra ipsec-vpn ra-vpn/);
  t.regex(r.stderr, /srx-hq\.set:58: ipsec proposal lab-p2 also has lifetime-kilobytes/);
  t.regex(r.stderr, /2 VPNs, 1 gateway opt-out, 1 device derived; 2 not mapped/);
  // The fixture's hashed passwords and RADIUS secret never reach the output.
  t.false(/\$6\$|\$9\$/.test(r.stdout + r.stderr));
});

test('junos import -: reads standard input; findings name <stdin>', async (t) => {
  const r = await runCli(['junos', 'import', '-'], { input: readFileSync(join(repoRoot, HQ)) });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ra-vpn:\n/);
  t.regex(r.stderr, /<stdin>:86: inactive/);
});

test('junos import: profiles sharing a VPN with different user-domains exit 2, ERR_JUNOS_CONFIG naming both profiles, the VPN and file:line', async (t) => {
  const r = await runCli(['junos', 'import', CONFLICT]);
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^ptim-bridge: ERR_JUNOS_CONFIG: test\/junos\/fixtures\/srx-hq-conflict\.set:82: remote-access profiles "ra-corp" \(user-domain corp\.example, line 78\) and "ra-corp-mfa" \(user-domain mfa\.corp\.example, line 82\) share IPsec VPN object "ra-vpn"/);
  t.notRegex(r.stderr, /^\s+at /m, 'no stack trace');
});

test('junos import: the curly-brace form exits 2 with the command to run instead; a missing file exits 1', async (t) => {
  const dir = tempDir(t, 'ptim-junos-');
  const curly = join(dir, 'srx.conf');
  writeFileSync(curly, 'system {\n    host-name srx-hq;\n}\n');
  const r = await runCli(['junos', 'import', curly]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /ERR_JUNOS_CONFIG: .*srx\.conf: expected the output of `show configuration \| display set`, but it is the curly-brace form/);
  const missing = await runCli(['junos', 'import', join(dir, 'nope.set')]);
  t.is(missing.code, 1, missing.stderr);
  t.regex(missing.stderr, /ERR_INPUT_UNREADABLE: Cannot read .*nope\.set: ENOENT/);
});

test('the imported YAML merged into a config passes `config check`', async (t) => {
  const dir = tempDir(t, 'ptim-junos-');
  const imported = await runCli(['junos', 'import', HQ]);
  t.is(imported.code, 0, imported.stderr);
  const file = join(dir, 'ptim-bridge.yaml');
  writeFileSync(file, `listen:\n  - udp://127.0.0.1:5514\nsenders:\n  allow: [192.0.2.0/24]\nsessions:\n  state: ${join(dir, 'state.db')}\n\n${imported.stdout}`);
  const check = await runCli(['config', 'check', '--config', file]);
  t.is(check.code, 0, check.stderr);
  t.regex(check.stdout, /: valid\n/);
  const effective = JSON.parse(check.stdout.slice(check.stdout.indexOf('{'))) as { vpns: unknown; gateways: unknown; devices: Record<string, { senders: string[] }> };
  t.deepEqual(effective.vpns, { 'ra-vpn': { domain: 'corp.example', rekeyIntervalSeconds: 28800 }, 'lab-vpn': { rekeyIntervalSeconds: 3600 } });
  t.deepEqual(effective.gateways, { 'lab-gw': { push: false } });
  t.deepEqual(effective.devices['srx-hq']?.senders, ['192.0.2.10']);
});

test('junos config: the syslog lines on stdout, the bridge side on stderr', async (t) => {
  const r = await runCli(['junos', 'config', '--bridge', '192.0.2.5', '--transport', 'tcp', '--source-address', '192.0.2.10', '--device', 'srx-hq']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, [
    'set system syslog host 192.0.2.5 daemon info',
    'set system syslog host 192.0.2.5 match "IKE_VPN_UP_ALARM_USER|IKE_VPN_DOWN_ALARM_USER|KMD_VPN_UP_ALARM_USER|KMD_VPN_DOWN_ALARM_USER"',
    'set system syslog host 192.0.2.5 port 5514',
    'set system syslog host 192.0.2.5 structured-data',
    'set system syslog host 192.0.2.5 source-address 192.0.2.10',
    'set system syslog host 192.0.2.5 transport tcp',
    '',
  ].join('\n'));
  t.regex(r.stderr, /listener tcp:\/\/0\.0\.0\.0:5514/);
  t.regex(r.stderr, /devices: \{ srx-hq: \{ senders: \[192\.0\.2\.10\] \} \}/);
});

test('junos config --transport tls: port 6514, the PKI CA profile and tlsdetails, the release they need', async (t) => {
  const r = await runCli(['junos', 'config', '--bridge', 'bridge.example.net', '--transport', 'tls', '--local-certificate', 'srx-hq']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^set security pki ca-profile ptim-bridge-ca ca-identity ptim-bridge-ca\n/);
  t.regex(r.stdout, /host bridge\.example\.net port 6514\n/);
  t.regex(r.stdout, /host bridge\.example\.net transport tls\n.*tlsdetails trusted-ca-group ptim-bridge ca-profiles ptim-bridge-ca\n.*tlsdetails local-certificate srx-hq\n$/);
  t.regex(r.stderr, /21\.2R1/);
});

test('junos config: bad flags exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--bridge', '192.0.2.5', '--port', '70000'], /ERR_USAGE: Expected --port a port 1-65535, got "70000"/],
    [['--bridge', '192.0.2.5; delete system'], /ERR_USAGE: Expected --bridge an address or name/],
    [['--bridge', '192.0.2.5', '--local-certificate', 'srx-hq'], /ERR_USAGE: Expected --local-certificate only with --transport tls/],
    [['--bridge', '192.0.2.5', '--transport', 'sctp'], /Allowed choices are udp, tcp, tls/],
    [[], /required option '--bridge <address>'/],
  ];
  for (const [args, stderr] of cases) {
    const r = await runCli(['junos', 'config', ...args]);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, stderr);
    t.is(r.stdout, '');
  }
});

test('junos, junos import and junos config have --help with examples', async (t) => {
  for (const args of [['junos'], ['junos', 'import'], ['junos', 'config']]) {
    const r = await runCli([...args, '--help']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /Examples:\n {2}\$ ptim-bridge junos /, args.join(' '));
  }
  const help = await runCli(['junos', 'config', '--help']);
  t.regex(help.stdout, /21\.2R1/);
  t.regex(help.stdout, /16\.1 and later/);
});
