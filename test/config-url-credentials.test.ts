import anyTest from 'ava';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig } from '../src/config.js';
import { effectiveConfig } from '../src/effective-config.js';
import { ConfigError } from '../src/errors.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

// The CLI tests start processes (tsx compiles on start): one at a time.
const test = anyTest.serial;

const PASSWORD = 'hunter2-pw';

/** [name, jims section, key named]: every one is refused, and the password never comes back. */
const refused: Array<[string, Record<string, unknown>, string]> = [
  ['user:password@ in jims.url', { url: `https://bridge:${PASSWORD}@jims.example` }, 'jims.url'],
  ['user@ only in jims.url', { url: `https://${PASSWORD}@jims.example` }, 'jims.url'],
  ['credentials without slashes (https:user:pw@host)', { url: `https:bridge:${PASSWORD}@jims.example` }, 'jims.url'],
  ['user:password@ in jims.secondaryUrl', { url: 'https://jims.example', secondaryUrl: `https://bridge:${PASSWORD}@jims2.example` }, 'jims.secondaryUrl'],
  ['a token in the query of jims.url', { url: `https://jims.example/?access_token=${PASSWORD}` }, 'jims.url'],
  ['a secret in the query of jims.tokenPath', { tokenPath: `/oauth?client_secret=${PASSWORD}` }, 'jims.tokenPath'],
  ['credentials in a URL of the wrong scheme', { url: `ftp://bridge:${PASSWORD}@jims.example` }, 'jims.url'],
];
for (const [name, jims, key] of refused) {
  test(`validateConfig refuses ${name}`, (t) => {
    const error = t.throws<ConfigError>(() => validateConfig({ jims }), { instanceOf: ConfigError });
    t.is(error?.code, 'ERR_CONFIG_INVALID');
    t.is(error?.key, key);
    t.false(error!.message.includes(PASSWORD), error!.message);
  });
}

test('the refusal says what to do instead', (t) => {
  const error = t.throws<ConfigError>(() => validateConfig({ jims: { url: `https://bridge:${PASSWORD}@jims.example` } }));
  t.regex(error!.message, /`jims\.url`/);
  t.regex(error!.message, /jims\.clientId/);
  t.regex(error!.message, /jims\.clientSecret/);
  t.regex(error!.message, /env:NAME or file:PATH/);
  t.regex(error!.message, /https:\/\/\*\*\*@jims\.example/);
});

test('a password in a listen URL is not echoed either', (t) => {
  const error = t.throws<ConfigError>(() => validateConfig({ listen: [`tcp://u:${PASSWORD}@0.0.0.0:1`] }));
  t.is(error?.code, 'ERR_CONFIG_INVALID');
  t.false(error!.message.includes(PASSWORD), error!.message);
});

test('URLs without credentials pass, an @ in the query or fragment included', (t) => {
  const c = validateConfig({ jims: { url: 'https://jims.example:8443/base?next=a@b', secondaryUrl: 'http://127.0.0.1:8080/#@x' } });
  t.is(c.jims.url, 'https://jims.example:8443/base?next=a@b');
});

test('--jims-url and --jims-secondary-url get the same check as their keys', (t) => {
  for (const [flags, key] of [[{ jimsUrl: `https://bridge:${PASSWORD}@jims.example` }, 'jims.url'], [{ jimsUrl: 'https://jims.example', jimsSecondaryUrl: `https://b:${PASSWORD}@jims2.example` }, 'jims.secondaryUrl']] as const) {
    const error = t.throws<ConfigError>(() => effectiveConfig(undefined, { ...flags, use: 'deliver' }), { instanceOf: ConfigError });
    t.is(error?.key, key);
    t.false(error!.message.includes(PASSWORD));
  }
});

test('cli: config check refuses a jims.url with credentials, exit 2, file:line, no password anywhere', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'bridge.yaml');
  writeFileSync(file, `log:\n  level: info\njims:\n  url: https://bridge:${PASSWORD}@jims.example\n  clientId: bridge\n`);
  const r = await runCli(['config', 'check', '--config', file]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /ERR_CONFIG_INVALID/);
  t.regex(r.stderr, /bridge\.yaml:4/);
  t.regex(r.stderr, /`jims\.url`.*jims\.clientSecret/s);
  t.notRegex(r.stdout, /valid/);
  t.false(`${r.stdout}${r.stderr}`.includes(PASSWORD));
});

test('cli: run refuses credentials in --jims-url and in the config alike, before creating a state file', async (t) => {
  const dir = tempDir(t);
  const env = { PTIM_JIMS_CLIENT_SECRET: 'from-env' };
  const common = ['--listen', 'udp://127.0.0.1:0', '--allow-any-sender', '--jims-client-id', 'bridge'];
  const flag = await runCli(['run', ...common, '--jims-url', `https://bridge:${PASSWORD}@127.0.0.1:1`], { cwd: dir, env });
  t.is(flag.code, 2, flag.stderr);
  t.regex(flag.stderr, /ERR_CONFIG_INVALID.*`jims\.url`/s);
  t.false(`${flag.stdout}${flag.stderr}`.includes(PASSWORD));

  const secondary = await runCli(['run', ...common, '--jims-url', 'https://127.0.0.1:1', '--jims-secondary-url', `https://bridge:${PASSWORD}@127.0.0.1:2`], { cwd: dir, env });
  t.is(secondary.code, 2, secondary.stderr);
  t.regex(secondary.stderr, /ERR_CONFIG_INVALID.*`jims\.secondaryUrl`/s);
  t.false(`${secondary.stdout}${secondary.stderr}`.includes(PASSWORD));

  const file = join(dir, 'bridge.yaml');
  writeFileSync(file, `jims:\n  url: https://bridge:${PASSWORD}@127.0.0.1:1\n  clientId: bridge\n`);
  const fromFile = await runCli(['run', '--config', file, '--listen', 'udp://127.0.0.1:0', '--allow-any-sender'], { cwd: dir, env });
  t.is(fromFile.code, 2, fromFile.stderr);
  t.regex(fromFile.stderr, /ERR_CONFIG_INVALID.*bridge\.yaml:2.*`jims\.url`/s);
  t.false(`${fromFile.stdout}${fromFile.stderr}`.includes(PASSWORD));
  t.deepEqual(readdirSync(dir), ['bridge.yaml']);
});
