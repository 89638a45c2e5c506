import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SECRET_ENV } from './commands/delivery-options.js';
import { resolveSecret } from './config.js';
import type { EffectiveConfig } from './effective-config.js';
import { BridgeError, isBridgeError, type ErrorCode } from './errors.js';
import { createAllowList } from './ingest/allow-list.js';
import { parseListenUrl } from './ingest/listen-url.js';
import { loadPatterns } from './patterns/load.js';

/**
 * Everything `run` refuses before it binds a port, checked at once and reported together: what
 * `config check` runs, and what `run` runs first, so that a config check that passes means a start
 * that does not fail on the config (`config check --quiet && systemctl restart` is safe).
 */
export interface Problem {
  /** The config key, dotted (`listen.0`, `devices.srx-hq.senders.1`), or the flag that set it (`--listen URL`, `--state`). */
  key: string;
  code: ErrorCode;
  message: string;
}

/**
 * Every problem `run` would refuse the effective config for, in one list: listeners, TLS files,
 * the allow-list and CIDRs, the metrics address, patterns, and (delivering) the JIMS settings,
 * the secret and the state file. A flag's problem is keyed by the flag (`--listen URL`).
 */
export async function preflight(effective: EffectiveConfig): Promise<Problem[]> {
  const { config } = effective;
  const problems: Problem[] = [];
  const add = (key: string, error: unknown) => {
    problems.push({ key, code: isBridgeError(error) ? error.code : 'ERR_CONFIG_INVALID', message: error instanceof Error ? error.message : String(error) });
  };
  const keyOf = (key: string) => effective.flagOf(key) ?? key;
  if (config.listen.length === 0) add('listen', new BridgeError('ERR_CONFIG_INVALID', 'No listener: set `listen` (e.g. [udp://0.0.0.0:5514]) or give --listen.'));
  const transports = new Set<string>();
  config.listen.forEach((url, i) => {
    try {
      transports.add(parseListenUrl(url).transport);
    } catch (error) {
      add(keyOf(`listen.${i}`), error);
    }
  });
  if (transports.has('tls') && (config.tls.cert === undefined || config.tls.key === undefined)) {
    add('tls.cert', new BridgeError('ERR_CONFIG_INVALID', 'A tls:// listener needs a server certificate: set `tls.cert` and `tls.key` (or --tls-cert/--tls-key).'));
  }
  for (const key of ['cert', 'key', 'clientCa'] as const) checkReadable(config.tls[key], `tls.${key}`, add);

  const allow = config.senders.allow;
  if (allow.length === 0 && !config.senders.allowAny) {
    add('senders.allow', new BridgeError('ERR_CONFIG_INVALID', 'The sender allow-list is empty, so every line would be dropped: list your firewalls in `senders.allow` (or --allow-sender CIDR), or accept any sender with --allow-any-sender (`senders.allowAny: true`).'));
  }
  allow.forEach((cidr, i) => checkCidr(cidr, keyOf(`senders.allow.${i}`), 'senders.allow', add));
  for (const [name, device] of Object.entries(config.devices)) {
    device.senders.forEach((cidr, i) => checkCidr(cidr, `devices.${name}.senders.${i}`, `devices.${name}.senders`, add));
  }

  if (config.metrics.listen !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(config.metrics.listen);
    if (!m || Number(m[3]) > 65535) {
      add('metrics.listen', new BridgeError('ERR_CONFIG_INVALID', `Expected \`metrics.listen\` HOST:PORT with a port 0-65535 (e.g. 127.0.0.1:9464), got ${JSON.stringify(config.metrics.listen)}.`));
    }
  }

  try {
    loadPatterns({ shipped: config.patterns.shipped, dirs: config.patterns.dirs });
  } catch (error) {
    add('patterns.dirs', error);
  }

  const jims = config.jims;
  if (effective.delivering) {
    if (!jims.url) add('jims.url', new BridgeError('ERR_CONFIG_INVALID', 'Expected `jims.url` an https:// URL, got nothing. Set it, or pass --jims-url.'));
    if (!jims.clientId) add('jims.clientId', new BridgeError('ERR_CONFIG_INVALID', 'Expected `jims.clientId` a non-empty string, got nothing. Set it, or pass --jims-client-id.'));
    try {
      // `config check` reads the file alone: the secret then comes from where `run` would take it.
      await resolveSecret(jims.clientSecret ?? `env:${SECRET_ENV}`, 'jims.clientSecret');
    } catch (error) {
      add('jims.clientSecret', error);
    }
    checkReadable(jims.ca, 'jims.ca', add);
  }
  if (effective.stateFile !== undefined) checkWritableHome(effective.stateFile, keyOf('sessions.state'), add);
  return problems;
}

/** The problems as one error: each on its line with file:line when the key is in the file. */
export function preflightError(problems: readonly Problem[], effective: Pick<EffectiveConfig, 'file' | 'lineOf'>): BridgeError {
  const { file, lineOf } = effective;
  const lines = problems.map((p) => {
    const line = p.key.startsWith('-') ? undefined : lineOf(p.key);
    const where = file === undefined ? '' : `${file}${line === undefined ? '' : `:${line}`}: `;
    return `  ${where}${p.key}: ${p.code}: ${p.message.replace(/\n/g, '\n    ')}`;
  });
  const head = `${problems.length} problem${problems.length === 1 ? '' : 's'}${file === undefined ? '' : ` in ${file}`} (run would refuse to start):`;
  // A config the operator must fix, whatever each problem's own code: exit status 2.
  return new BridgeError('ERR_CONFIG_INVALID', `${head}\n${lines.join('\n')}`, { key: problems[0]!.key });
}

function checkReadable(path: string | undefined, key: string, add: (key: string, error: unknown) => void): void {
  if (path === undefined) return;
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (cause) {
    add(key, new BridgeError('ERR_CONFIG_INVALID', `Cannot read \`${key}\` file ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}. Check the path and that the bridge's user may read it.`));
  }
}

function checkCidr(cidr: string, key: string, listKey: string, add: (key: string, error: unknown) => void): void {
  try {
    createAllowList([cidr], false, listKey);
  } catch (error) {
    add(key, error);
  }
}

/** The state file exists and can be written, or its folder exists and can take it. */
function checkWritableHome(path: string, key: string, add: (key: string, error: unknown) => void): void {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      add(key, new BridgeError('ERR_CONFIG_INVALID', `Cannot write the state file ${path}: ${(error as NodeJS.ErrnoException).code}. Check its owner and mode.`));
      return;
    }
  }
  const folder = dirname(path);
  try {
    accessSync(folder, constants.W_OK);
  } catch (error) {
    // run creates missing folders; only an existing folder it may not write into is a problem.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') add(key, new BridgeError('ERR_CONFIG_INVALID', `Cannot create the state file ${path}: its folder is not writable (${(error as NodeJS.ErrnoException).code}).`));
  }
}
