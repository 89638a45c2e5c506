import anyTest from 'ava';
import type { ExecutionContext } from 'ava';
import { connect } from 'node:net';
import { isBridgeError, type PatternError } from '../../src/errors.js';
import { linearTimeProblem } from '../../src/patterns/linear-regexp.js';
import { formatLintFindings, lintPatterns } from '../../src/patterns/lint.js';
import { loadPatterns } from '../../src/patterns/load.js';
import { startCli } from '../helpers/cli.js';
import { listenerPorts, logEntries, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { REQUIRED_TAIL, writeFolder } from './helpers.js';

// One CLI process and one recheck run at a time: the machine has two cores and other suites.
const test = anyTest.serial;

/**
 * The rule of issue 8: the shipped iked up rule with `AAA username` read by nested quantifiers. A
 * word of n letters can be split 2^(n-1) ways, and a line whose name is followed by anything but
 * ", VR id: ..." makes a backtracking engine try them all.
 */
const GREEDY_RULE = [
  'set: site',
  'rules:',
  '  - id: greedy-user',
  '    state: up',
  '    tags: [IKE_VPN_UP_ALARM_USER]',
  '    daemons: [iked]',
  "    prefilter: ' is up. Local-ip: '",
  '    regex: |',
  '      VPN \\s \\S+ \\s from \\s (?<peer>{{ip}}) \\s is \\s up \\. \\s',
  '      Local-ip: \\s (?<localIp>{{ip}}) , \\s',
  '      gateway \\s name: \\s (?<gateway>{{value}}) , \\s',
  '      vpn \\s name: \\s (?<vpn>{{value}}) , \\s',
  '      tunnel-id: \\s (?<tunnelId>\\d+) , \\s',
  '      local \\s tunnel-if: \\s (?<tunnelIf>{{value}}) , \\s',
  '      remote \\s tunnel-ip: \\s {{value}} , \\s',
  '      Local \\s IKE-ID: \\s (?<localIkeId>{{ikeId}}) , \\s',
  '      Remote \\s IKE-ID: \\s (?<remoteIkeId>{{ikeId}}) , \\s',
  '      AAA \\s username: \\s (?<aaaUser>(?:[\\w.@-]+\\s?)+) , \\s',
  '      VR \\s id: \\s (?<vr>{{value}}) , \\s',
  '      Traffic-selector: \\s (?<tsName>{{value}}) , \\s',
  '      Traffic-selector \\s local \\s ID: \\s (?<tsLocal>{{ikedSelectors}}) \\s? , \\s',
  '      Traffic-selector \\s remote \\s ID: \\s (?<tsRemote>{{ikedSelectors}}) \\s? , \\s',
  '      SA \\s Type: \\s (?<saType>[^\\s,]+)',
  'examples:',
  '  - line: "IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic"',
  '    expect: greedy-user',
  '',
].join('\n');

const HEAD = 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: ';
const TAIL = ', VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';

/** A live line: RFC 5424 with the time now (lines far from their receipt time are refused). */
function line(message: string): string {
  return `<30>1 ${new Date().toISOString()} srx-hq iked 4242 - - ${message}\n`;
}

/** A crafted message of about `bytes`: a long one-word user name, then a '!' no rule accepts, and a tail no rule accepts either (so it is no event). */
function crafted(bytes: number): string {
  return `${HEAD}${'a'.repeat(bytes - HEAD.length - TAIL.length - 48)}!${TAIL.replace('dynamic', 'dyn amic')}`;
}

async function startRun(t: ExecutionContext, dir: string): Promise<{ port: number; events: () => Array<Record<string, unknown>>; stderr: () => string }> {
  const child = startCli(['run', '--dry-run', '--listen', 'tcp://127.0.0.1:0', '--allow-any-sender', '--allow-unbound-devices', '--patterns', dir]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const ready = await waitForEvent(() => logEntries(err), 'ready', {
    timeoutMs: 120_000,
    alive: () => {
      if (child.exitCode !== null) throw new Error(`run exited early (${child.exitCode}): ${err}`);
    },
  });
  const port = listenerPorts(ready).get('tcp')!;
  return {
    port,
    events: () => out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
  };
}

test('run: three crafted 10-60 KB lines against a backtracking user rule do not hold up the good line after them', async (t) => {
  const dir = writeFolder(tempDir(t), 'site', { 'site.yaml': GREEDY_RULE });
  const r = await startRun(t, dir);
  const s = connect({ port: r.port, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise((resolve) => s.once('connect', resolve));
  // On a backtracking engine the first of these alone takes longer than the age of the universe.
  for (const bytes of [10_000, 30_000, 60_000]) s.write(line(crafted(bytes)));
  s.write(line(`${HEAD}alice${TAIL}`));
  // A deadline, not a speed assertion: without the linear-time fallback this never comes.
  await waitUntil(() => r.events().length === 1, 10_000, 'the good line\'s event after the crafted lines');
  t.like(r.events()[0], { state: 'connect', user: 'alice', pattern: 'site/greedy-user' });
  s.destroy();
});

test('a rule the linear-time engine cannot run is refused at load: ERR_PATTERN_INVALID with file:line, rule and construct', (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['backref', String.raw`HELLO : (?<vpn>\w+) : \k<vpn>`, /a backreference \(`\\1`\): capture both texts/],
    ['lookahead', String.raw`HELLO : (?<vpn>\w+) (?= : )`, /a lookahead \(`\(\?=`\)/],
    ['lookbehind', String.raw`HELLO : (?<= : ) (?<vpn>\w+)`, /a lookbehind \(`\(\?<=`\)/],
    ['counted', String.raw`HELLO : (?<vpn> (?: [0-9a-f]{0,4} : ){2,8} )`, /nested repeats that multiply to 32 copies \(\{2,8\} around \{0,4\}/],
  ];
  for (const [id, regex, reason] of cases) {
    const dir = writeFolder(tempDir(t), id, {
      'r.yaml': `set: s\nrules:\n  - id: ${id}\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: 'HELLO'\n    regex: '${regex} ${REQUIRED_TAIL}'\n`,
    });
    const error = t.throws(() => loadPatterns({ shipped: false, dirs: [dir] }), undefined, id) as PatternError;
    t.true(isBridgeError(error), id);
    t.is(error.code, 'ERR_PATTERN_INVALID', id);
    t.is(error.ruleId, `s/${id}`, id);
    t.is(error.line, 7, id);
    t.is(error.file?.endsWith('r.yaml'), true, id);
    t.regex(error.message, /The regex of rule `s\/\w+` cannot run on the linear-time regex engine/, id);
    t.regex(error.message, reason, id);
  }
});

test('the refusal names the sub-pattern that holds the construct', (t) => {
  const dir = writeFolder(tempDir(t), 'p', {
    'r.yaml': [
      'set: s',
      'definitions:',
      "  hex: '(?: [0-9a-f]{0,4} : ){2,8}'",
      'rules:',
      '  - id: addr',
      '    state: up',
      '    tags: [TEST_ALARM]',
      "    prefilter: 'HELLO'",
      `    regex: 'HELLO : (?<vpn>{{hex}}) ${REQUIRED_TAIL}'`,
      '',
    ].join('\n'),
  });
  const error = t.throws(() => loadPatterns({ shipped: false, dirs: [dir] })) as PatternError;
  t.is(error.code, 'ERR_PATTERN_INVALID');
  t.regex(error.message, /\(the cause is in \{\{hex\}\}\)/);
});

test('every shipped rule runs on the linear-time engine (so its fallback is available)', (t) => {
  for (const rule of loadPatterns().rules) t.is(linearTimeProblem(rule.regex), undefined, rule.id);
});

test('patterns lint flags the issue 8 rule as a failure, and says what it costs at run time', async (t) => {
  const dir = writeFolder(tempDir(t), 'site', { 'site.yaml': GREEDY_RULE });
  const report = await lintPatterns(loadPatterns({ dirs: [dir] }), { timeoutMs: 120_000 });
  t.deepEqual(report.findings.map((f) => [f.kind, f.ruleId]), [['redos', 'site/greedy-user']]);
  const text = formatLintFindings(report.findings);
  // recheck's fuzzer is random: the same rule is proved exponential in most runs, polynomial in some.
  t.regex(text, /site\.yaml:3: site\/greedy-user: regex can backtrack catastrophically \((?:exponential|\w+ degree polynomial)/);
  t.regex(text, /\(\?:\[\\w\.@-\]\+\\s\?\)\+/, 'the part shown contains the nested quantifier');
  t.regex(text, /At run time the bridge cannot stall on it: a line that makes it backtrack is finished on V8's linear-time engine/);
});
