import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoConfig } from '../src/commands/demo.js';
import { effectiveConfig } from '../src/effective-config.js';
import { ConfigError, type BridgeError } from '../src/errors.js';
import { preflight, preflightError } from '../src/preflight.js';
import { tempDir } from './helpers/tmp.js';

/** A config file's text, read as if it were /etc/ptim-bridge/bridge.yaml. */
const file = (text: string) => ({ path: '/etc/ptim-bridge/bridge.yaml', text });

const FILE = file([
  'listen: [udp://0.0.0.0:5514]',
  'senders:',
  '  allow: [192.0.2.0/24]',
  'tls:',
  '  clientCa: ca.pem',
  'sessions:',
  '  state: state/bridge.db',
  'jims:',
  '  url: https://jims-file.example',
  '  clientId: from-file',
  '  batchSize: 50',
  '',
].join('\n'));

test('a flag beats the file; the file beats the default', (t) => {
  const { config } = effectiveConfig(FILE, {
    use: 'deliver',
    listen: ['tcp://127.0.0.1:6000'],
    allowSender: ['198.51.100.7'],
    jimsUrl: 'https://jims-flag.example',
    tlsCert: 'server.crt',
    tlsKey: 'server.key',
    state: 'here.db',
  });
  t.deepEqual(config.listen, ['tcp://127.0.0.1:6000'], '--listen replaces `listen`');
  t.deepEqual(config.senders.allow, ['192.0.2.0/24', '198.51.100.7'], '--allow-sender comes after `senders.allow`');
  t.is(config.jims.url, 'https://jims-flag.example');
  t.is(config.jims.clientId, 'from-file', 'a key no flag names stays as the file has it');
  t.is(config.jims.batchSize, 50);
  t.is(config.jims.concurrency, 4, 'default');
  // Paths in the file are relative to it; a flag's stay as typed (relative to the working directory).
  t.is(config.tls.clientCa, '/etc/ptim-bridge/ca.pem');
  t.is(config.tls.cert, 'server.crt');
  t.is(config.sessions.state, 'here.db');
});

test('the JIMS flags count only when delivering; a dry run keeps its state temporary unless --state', (t) => {
  const dry = effectiveConfig(FILE, { use: 'dry-run', jimsUrl: 'https://jims-flag.example' });
  t.is(dry.config.jims.url, 'https://jims-file.example');
  t.is(dry.config.jims.clientSecret, undefined);
  t.false(dry.delivering);
  t.is(dry.stateFile, undefined);
  t.is(effectiveConfig(FILE, { use: 'dry-run', state: 'keep.db' }).stateFile, 'keep.db');

  const delivering = effectiveConfig(FILE, { use: 'deliver' });
  t.true(delivering.delivering);
  t.is(delivering.stateFile, '/etc/ptim-bridge/state/bridge.db');
  t.is(delivering.config.jims.clientSecret, 'env:PTIM_JIMS_CLIENT_SECRET', 'never a flag: the environment');
  t.is(effectiveConfig(file('jims: { clientSecret: file:/run/secret }\n'), { use: 'deliver' }).config.jims.clientSecret, 'file:/run/secret');
});

test('config check reads the file alone: JIMS settings (and the state file) only when it names a JIMS URL', (t) => {
  const withJims = effectiveConfig(FILE, { use: 'check' });
  t.true(withJims.delivering);
  t.is(withJims.stateFile, '/etc/ptim-bridge/state/bridge.db');
  t.is(withJims.config.jims.clientSecret, undefined, 'printed as the file has it');
  const dryRunFile = effectiveConfig(file('listen: [udp://0.0.0.0:5514]\n'), { use: 'check' });
  t.false(dryRunFile.delivering);
  t.is(dryRunFile.stateFile, undefined);
});

test('no file: every default, and the flags', (t) => {
  const { config, file: name, lineOf } = effectiveConfig(undefined, { use: 'dry-run', allowAnySender: true, allowUnboundDevices: true, patterns: ['mine'] });
  t.is(name, undefined);
  t.is(lineOf('listen'), undefined);
  t.deepEqual(config.listen, []);
  t.true(config.senders.allowAny);
  t.true(config.senders.allowUnboundDevices);
  t.deepEqual(config.patterns, { shipped: true, dirs: ['mine'] });
  t.is(config.timezone, 'UTC');
  t.is(config.sessions.rekeyIntervalSeconds, 3600);
  t.is(config.log.level, 'info');
});

test('the result is frozen all the way down: a change throws', (t) => {
  const effective = effectiveConfig(FILE, { use: 'deliver', listen: ['udp://127.0.0.1:0'] });
  t.true(Object.isFrozen(effective));
  t.throws(() => {
    (effective.config.jims as { url?: string }).url = 'https://elsewhere.example';
  }, { instanceOf: TypeError });
  t.throws(() => {
    (effective.config.listen as string[]).push('tcp://0.0.0.0:1');
  }, { instanceOf: TypeError });
  t.throws(() => {
    (effective.config.senders.allow as string[])[0] = '0.0.0.0/0';
  }, { instanceOf: TypeError });
  t.throws(() => {
    (effective as { stateFile?: string }).stateFile = '/tmp/x.db';
  }, { instanceOf: TypeError });
});

test('one validation lists every problem, the file\'s first with file:line, a flag\'s without a line', (t) => {
  const bad = file(['log:', '  level: loud', 'jims:', '  batchSize: 0', '  lingerMs: -1', ''].join('\n'));
  const error = t.throws<ConfigError>(() => effectiveConfig(bad, { use: 'deliver', jimsUrl: 'ftp://jims.example', state: '' }), { instanceOf: ConfigError });
  t.is(error!.code, 'ERR_CONFIG_INVALID');
  t.is(error!.file, '/etc/ptim-bridge/bridge.yaml');
  t.is(error!.line, 4);
  t.is(error!.key, 'jims.batchSize');
  const lines = error!.message.split('\n');
  t.regex(lines[0]!, /^\/etc\/ptim-bridge\/bridge\.yaml:4: Expected `jims\.batchSize` an integer 1-1000, got 0/);
  for (const key of ['jims.lingerMs', 'log.level', 'jims.url', 'sessions.state']) t.true(error!.message.includes(`\`${key}\``), key);
  // The file's problems come before the flags'.
  t.true(error!.message.indexOf('`log.level`') < error!.message.indexOf('`jims.url`'));

  // Only a flag is wrong: as the flag's key alone, no file or line (it is not in the file).
  const flagOnly = t.throws<ConfigError>(() => effectiveConfig(FILE, { use: 'deliver', jimsUrl: 'ftp://jims.example' }), { instanceOf: ConfigError });
  t.is(flagOnly!.message, 'Expected `jims.url` an http:// or https:// URL, got "ftp://jims.example" (string)');
  t.is(flagOnly!.file, undefined);
  t.is(flagOnly!.line, undefined);
});

test('usage mistakes are said before the file is read', (t) => {
  const missing = '/nonexistent/bridge.yaml';
  t.throws(() => effectiveConfig(missing, { use: 'dry-run', tlsCert: 'x.pem' }), { code: 'ERR_USAGE' as never, message: /--tls-cert and --tls-key together/ });
  t.throws(() => effectiveConfig(missing, { use: 'dry-run', timezone: 'CEST+2' }), { code: 'ERR_USAGE' as never, message: /--timezone an IANA time zone name/ });
  t.throws(() => effectiveConfig(missing, { use: 'dry-run' }), { code: 'ERR_CONFIG_INVALID' as never, message: /Cannot read config file \/nonexistent\/bridge\.yaml/ });
  t.is(effectiveConfig(undefined, { use: 'dry-run', timezone: 'Europe/Paris' }).config.timezone, 'Europe/Paris');
});

test('where a key came from: the flag that set it, else the file line', (t) => {
  const effective = effectiveConfig(FILE, { use: 'deliver', allowSender: ['198.51.100.7'], state: 'here.db' });
  t.is(effective.flagOf('senders.allow.0'), undefined);
  t.is(effective.lineOf('senders.allow.0'), 3);
  t.is(effective.flagOf('senders.allow.1'), '--allow-sender 198.51.100.7');
  t.is(effective.flagOf('sessions.state'), '--state');
  t.is(effective.lineOf('jims.batchSize'), 11);
  t.is(effectiveConfig(FILE, { use: 'dry-run', listen: ['udp://127.0.0.1:1'] }).flagOf('listen.0'), '--listen udp://127.0.0.1:1');
});

test('the preflight names the flag of a flag\'s problem and the file line of the file\'s', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'bridge.yaml');
  writeFileSync(path, 'listen: [udp://0.0.0.0:5514]\nsenders:\n  allow: [10.0.0.0/40]\n');
  const effective = effectiveConfig(path, { use: 'dry-run', listen: ['http://127.0.0.1:1'], allowSender: ['300.1.1.1'] });
  const problems = await preflight(effective);
  t.deepEqual(problems.map((p) => [p.key, p.code]), [
    ['--listen http://127.0.0.1:1', 'ERR_LISTEN_URL_INVALID'],
    ['senders.allow.0', 'ERR_CONFIG_INVALID'],
    ['--allow-sender 300.1.1.1', 'ERR_CONFIG_INVALID'],
  ]);
  const message = (preflightError(problems, effective) as BridgeError).message;
  t.regex(message, /bridge\.yaml: --listen http:\/\/127\.0\.0\.1:1: ERR_LISTEN_URL_INVALID/);
  t.regex(message, /bridge\.yaml:3: senders\.allow\.0: ERR_CONFIG_INVALID/);
});

test('demo uses it: the file read as run reads it, the simulator as JIMS, only tuning kept of the file\'s jims', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'demo.yaml');
  writeFileSync(path, [
    'patterns: { dirs: [mine] }',
    'jims:',
    '  url: https://real-jims.example',
    '  secondaryUrl: https://real-jims2.example',
    '  insecureSkipVerify: true',
    '  tokenPath: /other/token',
    '  batchSize: 7',
    '',
  ].join('\n'));
  const endpoint = { url: 'https://127.0.0.1:4443', clientId: 'ptim-bridge-demo', clientSecret: 'file:/tmp/demo/secret', ca: '/tmp/demo/ca.pem' };
  const config = await demoConfig(path, endpoint, '/tmp/demo/state.db');
  t.like(config.jims, { ...endpoint, batchSize: 7, insecureSkipVerify: false, tokenPath: '/oauth_token/oauth' });
  t.is(config.jims.secondaryUrl, undefined);
  t.is(config.sessions.state, '/tmp/demo/state.db');
  t.deepEqual(config.patterns.dirs, [join(dir, 'mine')], 'relative to the file, as run reads it');
  t.true(Object.isFrozen(config.jims));

  // Its mistakes carry file:line as every command's do.
  writeFileSync(path, 'vpns:\n  ra-vpn:\n    rekeyIntervalSeconds: soon\n');
  const error = await t.throwsAsync<ConfigError>(demoConfig(path, endpoint, '/tmp/demo/state.db'), { instanceOf: ConfigError });
  t.regex(error!.message, /demo\.yaml:3: Expected `vpns\.ra-vpn\.rekeyIntervalSeconds`/);
  // The bundled config passes.
  t.is((await demoConfig(undefined, endpoint, '/tmp/demo/state.db')).vpns['ra-vpn']?.domain, 'corp.example');
});
