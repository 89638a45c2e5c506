import anyTest from 'ava';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// CLI processes, one at a time.
const test = anyTest.serial;

/** Everything issue 9 found `config check` passing and `run` refusing, in one file, one per line. */
function badConfig(dir: string): string {
  const patterns = join(dir, 'patterns');
  mkdirSync(patterns);
  writeFileSync(join(patterns, 'broken.yaml'), 'set: mine\nrules:\n  - id: x\n    state: up\n');
  const key = join(dir, 'server.key');
  writeFileSync(key, 'not readable');
  chmodSync(key, 0o000);
  const file = join(dir, 'bridge.yaml');
  writeFileSync(file, [
    'listen:',
    '  - udp://0.0.0.0:99999',
    '  - tls://0.0.0.0:6514',
    'senders:',
    '  allow: [10.0.0.0/40]',
    'devices:',
    '  srx-hq:',
    '    senders: [192.0.2.300]',
    'tls:',
    `  cert: ${join(dir, 'missing.crt')}`,
    `  key: ${key}`,
    'metrics:',
    '  listen: 127.0.0.1:70000',
    'patterns:',
    `  dirs: [${patterns}]`,
    'jims:',
    '  url: https://jims.example.com',
    '  clientId: bridge',
    '  clientSecret: env:PTIM_TEST_UNSET_SECRET',
    '',
  ].join('\n'));
  return file;
}

test('config check lists every problem run would refuse, each with file:line, and exits 2; run refuses the same list', async (t) => {
  const dir = tempDir(t, 'ptim-check-');
  const file = badConfig(dir);
  const check = await runCli(['config', 'check', '--config', file], { env: { PTIM_TEST_UNSET_SECRET: undefined } });
  t.is(check.code, 2, check.stderr);
  const expected: Array<[RegExp, string]> = [
    [/bridge\.yaml:2: listen\.0: ERR_LISTEN_URL_INVALID: .*99999/, 'port 99999'],
    [/bridge\.yaml:5: senders\.allow\.0: ERR_CONFIG_INVALID: .*10\.0\.0\.0\/40/, 'CIDR /40'],
    [/bridge\.yaml:8: devices\.srx-hq\.senders\.0: .*192\.0\.2\.300/, 'a bad device address'],
    [/bridge\.yaml:10: tls\.cert: .*missing\.crt: ENOENT/, 'a missing certificate'],
    [/bridge\.yaml:11: tls\.key: .*(EACCES|not readable|server\.key)/, 'an unreadable key'],
    [/bridge\.yaml:13: metrics\.listen: .*70000/, 'metrics port 70000'],
    [/patterns\.dirs: ERR_PATTERN_INVALID: .*broken\.yaml/, 'an invalid pattern file'],
    [/jims\.clientSecret: ERR_SECRET_UNAVAILABLE: .*PTIM_TEST_UNSET_SECRET/, 'an unset secret'],
  ];
  // Root reads a file whatever its mode: the unreadable-key case only shows for other users.
  const asRoot = process.getuid?.() === 0;
  for (const [pattern, what] of expected) {
    if (asRoot && what === 'an unreadable key') continue;
    t.regex(check.stderr, pattern, what);
  }
  t.regex(check.stderr, /problems in .*bridge\.yaml \(run would refuse to start\)/);
  t.notRegex(check.stderr, /^\s+at /m, 'no stack trace');

  const run = await runCli(['run', '--config', file], { env: { PTIM_TEST_UNSET_SECRET: undefined } });
  t.is(run.code, 2, run.stderr);
  // The same problems, in the same words.
  const listed = (text: string) => text.split('\n').filter((l) => /^\s+\S+\.yaml:\d*:? ?\S+: ERR_/.test(l)).map((l) => l.trim());
  t.deepEqual(listed(run.stderr), listed(check.stderr));
  t.true(listed(check.stderr).length >= 7);
});

test('an empty allow-list and no listener are problems too; a complete config passes and says valid', async (t) => {
  const dir = tempDir(t, 'ptim-check-');
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, 'vpns:\n  ra-vpn:\n    domain: corp.example\n');
  const r = await runCli(['config', 'check', '--config', empty]);
  t.is(r.code, 2);
  t.regex(r.stderr, /listen: ERR_CONFIG_INVALID: No listener/);
  t.regex(r.stderr, /senders\.allow: ERR_CONFIG_INVALID: The sender allow-list is empty/);

  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'listen: [udp://127.0.0.1:5514]\nsenders:\n  allow: [192.0.2.0/24]\njims:\n  url: https://jims.example.com\n  clientId: bridge\n');
  const ok = await runCli(['config', 'check', '--config', good], { env: { PTIM_JIMS_CLIENT_SECRET: 'from-env' } });
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /good\.yaml: valid/);
  t.notRegex(ok.stdout, /from-env/, 'the secret is never printed');
  const quiet = await runCli(['config', 'check', '--config', good, '--quiet'], { env: { PTIM_JIMS_CLIENT_SECRET: undefined } });
  t.is(quiet.code, 2, 'the secret must resolve, as run needs it');
  t.regex(quiet.stderr, /jims\.clientSecret: ERR_SECRET_UNAVAILABLE: .*PTIM_JIMS_CLIENT_SECRET/);
});
