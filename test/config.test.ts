import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, validateConfig, configJsonSchema } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

test('no config file gives frozen defaults', (t) => {
  const c = loadConfig();
  t.is(c.jims.batchSize, 500);
  t.is(c.sessions.rekeyIntervalSeconds, 3600);
  t.is(c.senders.allowAny, false);
  t.true(Object.isFrozen(c.jims));
});

const invalid: Array<[string, unknown, string]> = [
  ['unknown top-level key', { jim: {} }, ''],
  ['unknown nested key', { senders: { alow: [] } }, 'senders'],
  ['wrong type', { jims: { batchSize: 'x' } }, 'jims.batchSize'],
  ['out of range', { jims: { batchSize: 5000 } }, 'jims.batchSize'],
  ['bad enum', { log: { level: 'loud' } }, 'log.level'],
  ['bad listen url', { listen: ['http://0.0.0.0:1'] }, 'listen.0'],
  ['bad cidr', { senders: { allow: ['not a cidr'] } }, 'senders.allow.0'],
  ['secret given inline', { jims: { clientSecret: 'hunter2' } }, 'jims.clientSecret'],
  ['negative rekey interval', { vpns: { 'ra-vpn': { rekeyIntervalSeconds: -1 } } }, 'vpns.ra-vpn.rekeyIntervalSeconds'],
];
for (const [name, input, key] of invalid) {
  test(`invalid config: ${name}`, (t) => {
    const error = t.throws<ConfigError>(() => validateConfig(input), { instanceOf: ConfigError });
    t.is(error?.code, 'ERR_CONFIG_INVALID');
    t.is(error?.key, key);
  });
}

test('error names key, expectation and what came', (t) => {
  const error = t.throws<ConfigError>(() => validateConfig({ jims: { batchSize: 'x' } }));
  t.regex(error!.message, /Expected `jims\.batchSize` an integer 1-1000, got "x" \(string\)/);
});

test('a secret given inline is never echoed back', (t) => {
  const error = t.throws<ConfigError>(() => validateConfig({ jims: { clientSecret: 'hunter2' } }));
  t.is(error?.key, 'jims.clientSecret');
  t.notRegex(error!.message, /hunter2/);
  t.regex(error!.message, /env:NAME or file:PATH/);
});

test('YAML errors and invalid keys carry file and line', (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'log:\n  level: info\njims:\n  batchSize: 0\n');
  const error = t.throws<ConfigError>(() => loadConfig(bad));
  t.is(error?.code, 'ERR_CONFIG_INVALID');
  t.is((error as ConfigError).line, 4);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'log:\n  level: [info\n');
  t.is(t.throws<ConfigError>(() => loadConfig(broken))?.code, 'ERR_CONFIG_INVALID');
  t.is(t.throws<ConfigError>(() => loadConfig(join(dir, 'missing.yaml')))?.code, 'ERR_CONFIG_INVALID');
});

test('relative paths resolve against the config file', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'sessions:\n  state: state/bridge.db\npatterns:\n  dirs: [mine]\n');
  const c = loadConfig(file);
  t.is(c.sessions.state, join(dir, 'state/bridge.db'));
  t.deepEqual(c.patterns.dirs, [join(dir, 'mine')]);
});

test('tls cert without key is rejected', (t) => {
  t.is(t.throws<ConfigError>(() => validateConfig({ tls: { cert: 'a.pem' } }))?.code, 'ERR_CONFIG_INVALID');
});

test('JSON schema export rejects unknown keys', (t) => {
  const schema = configJsonSchema() as { additionalProperties: unknown };
  t.is(schema.additionalProperties, false);
});

test('cli: config check exits 2 with the key and line on a bad file', async (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'jims:\n  batchSize: x\n');
  const r = await runCli(['config', 'check', '--config', bad]);
  t.is(r.code, 2);
  t.regex(r.stderr, /ERR_CONFIG_INVALID/);
  t.regex(r.stderr, /bad\.yaml:2/);
  t.notRegex(r.stderr, /at .*\.ts:\d+/); // no stack trace
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'listen: [udp://127.0.0.1:5514]\nsenders:\n  allow: [192.0.2.0/24]\njims:\n  batchSize: 100\n');
  const ok = await runCli(['config', 'check', '--config', good]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /"batchSize": 100/);
});
