import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { REQUIRED_TAIL, ruleYaml, writeFolder } from './helpers.js';

const UP = '<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';
const S2S = '<30>Mar 14 09:03:00 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN s2s from 192.0.2.44 is up. Local-ip: 203.0.113.1, gateway name: b-gw, vpn name: s2s, tunnel-id: 500020, local tunnel-if: st0.9, remote tunnel-ip: Not-Available, Local IKE-ID: 203.0.113.1, Remote IKE-ID: 192.0.2.44, AAA username: Not-applicable, VR id: root, Traffic-selector: , Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , SA Type: Static';
const NEAR = '<30>Mar 14 09:04:00 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.9 is up. Local-ip: 203.0.113.1, gw name: ra-gw';
const NOISE = '<14>Mar 14 09:02:12 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.20.0.5/52311->192.0.2.80/443 0x0 junos-https';

test('patterns test: every shipped example passes, exit 0', async (t) => {
  const r = await runCli(['patterns', 'test']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /patterns: 4 rules from 3 files; (\d+) of \1 examples pass/);
});

test('patterns test: a failing example prints a per-field diff and exits 1', async (t) => {
  const dir = writeFolder(tempDir(t), 'mine', {
    'x.yaml': `set: mine\nrules:\n${ruleYaml('hello')}\nexamples:\n  - name: wrong vpn\n    line: 'TEST_ALARM: HELLO:abc'\n    expect: hello\n    fields: { vpn: abd }\n`,
  });
  const r = await runCli(['patterns', 'test', '--patterns', dir]);
  t.is(r.code, 1);
  t.true(r.stdout.includes(`FAIL ${join(dir, 'x.yaml')}:10 "wrong vpn"`), r.stdout);
  t.regex(r.stdout, /vpn\s+expected "abd"\n\s+got "abc"/);
  t.regex(r.stderr, /ERR_PATTERN_TEST_FAILED: 1 of \d+ examples failed/);
});

test('patterns test: an invalid pattern file exits 2 with file:line and reason, no stack trace', async (t) => {
  const dir = writeFolder(tempDir(t), 'bad', { 'x.yaml': `set: s\nrules:\n  - id: r\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: abc\n    regex: '(?<vpn>x'\n` });
  const r = await runCli(['patterns', 'test', '-p', dir]);
  t.is(r.code, 2);
  t.true(r.stderr.includes(`ERR_PATTERN_INVALID: ${join(dir, 'x.yaml')}:7: The regex of rule \`s/r\` does not compile`), r.stderr);
  t.false(r.stderr.includes('    at '));
});

test('patterns test with captures prints coverage: lines, matches per rule, skipped and why, near misses verbatim', async (t) => {
  const dir = tempDir(t);
  const plain = join(dir, 'capture.log');
  writeFileSync(plain, [NOISE, UP, NOISE, S2S, NEAR, NOISE, 'IKE_VPN_DOWN_ALARM_USER: \u001b[2Jcleared', ''].join('\n'));
  const gz = join(dir, 'capture.log.gz');
  writeFileSync(gz, gzipSync([UP, NOISE, ''].join('\n')));
  const r = await runCli(['patterns', 'test', plain, gz]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /coverage: 2 files, 9 lines seen, 5 with a pattern literal/);
  t.regex(r.stdout, /junos-iked\/vpn-up\s+3\n/);
  t.regex(r.stdout, /junos-kmd\/vpn-down\s+0\s+\(never matched\)/);
  t.regex(r.stdout, /no-client-address\s+junos-iked\/vpn-up\s+1\s+remote selector is not one address/);
  t.regex(r.stdout, /near misses \(look like VPN events, matched no rule\): 2\n/);
  t.true(r.stdout.includes('  | IKE_VPN_DOWN_ALARM_USER: \\x1b[2Jcleared'), 'control characters from a capture are shown escaped');
  t.true(r.stdout.includes('  | IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.9 is up. Local-ip: 203.0.113.1, gw name: ra-gw'), r.stdout);
});

test('patterns test: a missing capture file is a clear error', async (t) => {
  const r = await runCli(['patterns', 'test', join(tempDir(t), 'nope.log')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ERR_INPUT_UNREADABLE/);
});

test('patterns lint: findings exit 1 with file:line, rule and reason', async (t) => {
  const dir = writeFolder(tempDir(t), 'mine', {
    'x.yaml': `set: mine\nrules:\n  - id: nested\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: 'HELLO:'\n    regex: 'HELLO : (?<vpn> (?: a+ )+ ) ! ${REQUIRED_TAIL}'\n`,
  });
  const r = await runCli(['patterns', 'lint', '--no-shipped', '--patterns', dir, '--timeout', '120000'], { timeoutMs: 180_000 });
  t.is(r.code, 1, r.stderr);
  t.true(r.stdout.includes(`${join(dir, 'x.yaml')}:3: mine/nested: regex can backtrack catastrophically`), r.stdout);
  t.true(r.stdout.includes(`${join(dir, 'x.yaml')}:3: mine/nested: no example exercises this rule`), r.stdout);
  t.regex(r.stderr, /ERR_PATTERN_LINT_FAILED: 2 lint findings/);
});

test('patterns match: fields for a match, where each candidate rule stopped for a miss (args or stdin)', async (t) => {
  const r = await runCli(['patterns', 'match', UP, NEAR]);
  t.is(r.code, 0, r.stderr);
  const [hit, miss] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(hit!.ruleId, 'junos-iked/vpn-up');
  t.like(hit!.fields as object, { aaaUser: 'alice', tsRemote: 'ipv4(0,0-65535,10.20.0.5-10.20.0.5)' });
  // The identity event the line gives, as the bridge would map it.
  t.like(hit!.identity as object, { event: 'connect (rekey when the session is live)', user: 'alice', ip: '10.20.0.5', vpn: 'ra-vpn' });
  t.is(miss!.ruleId, null);
  t.true(miss!.nearMiss);
  t.like((miss!.misses as object[])[0]!, { ruleId: 'junos-iked/vpn-up', textThere: 'gw name: ra-gw' });
  const piped = await runCli(['patterns', 'match'], { input: `${NOISE}\n${UP}\n` });
  t.deepEqual(piped.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { ruleId: unknown }).ruleId), [null, 'junos-iked/vpn-up']);
});

test('patterns match: the identity takes the VPN domain from the config, and a match with no identity says why', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'bridge.yaml');
  writeFileSync(config, 'vpns:\n  ra-vpn:\n    domain: corp.example\n');
  const siteToSite = UP.replace('ipv4(0,0-65535,10.20.0.5-10.20.0.5)', 'ipv4(0,0-65535,0.0.0.0-255.255.255.255)');
  const r = await runCli(['patterns', 'match', '--config', config, UP, siteToSite]);
  t.is(r.code, 0, r.stderr);
  const [user, tunnel] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { identity: Record<string, unknown> });
  t.like(user!.identity, { user: 'alice', domain: 'corp.example', ip: '10.20.0.5' });
  t.deepEqual(tunnel!.identity, { skipped: 'no-client-address' });
});

test('the commands have --help with examples', async (t) => {
  for (const sub of ['', 'test', 'lint', 'match']) {
    const r = await runCli(['patterns', ...(sub ? [sub] : []), '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, /Examples:\n\s+\$ ptim-bridge patterns /);
  }
});
