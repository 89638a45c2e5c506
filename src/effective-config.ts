import { SECRET_ENV } from './commands/delivery-options.js';
import { deepFreeze, lineOfKey, parseConfig, readConfigFile, type Config, type ConfigSource } from './config.js';
import { BridgeError } from './errors.js';
import { canonicalTimeZone } from './ingest/time-zone.js';

/**
 * The config a command runs with: the file (or the defaults) with the command's flags laid over it,
 * validated in one pass, defaults filled in, frozen. `run` (at start and at each SIGHUP), `replay`,
 * `demo`, `config check` and the preflight checks all take it from here; no module lays a flag over
 * a config after this.
 */

/**
 * How the command uses the config, which decides which flags count and what must be complete:
 * `deliver` (run, replay, demo: the JIMS flags and --state count, the JIMS settings must be
 * complete), `dry-run` (run/replay --dry-run: the JIMS flags are ignored, the state is temporary
 * unless --state), `check` (config check: the file as `run --config FILE` reads it; the JIMS
 * settings are checked when it names a JIMS URL, since a dry-run config needs none).
 */
export type ConfigUse = 'deliver' | 'dry-run' | 'check';

/** The command line's part: each flag stands for a config key (named in its comment). */
export interface CommandLine {
  use: ConfigUse;
  /** --listen (repeatable): replaces `listen`. */
  listen?: readonly string[] | undefined;
  /** --patterns (repeatable): after `patterns.dirs`. */
  patterns?: readonly string[] | undefined;
  /** --allow-sender (repeatable): after `senders.allow`. */
  allowSender?: readonly string[] | undefined;
  /** --allow-any-sender: `senders.allowAny: true`. */
  allowAnySender?: boolean | undefined;
  /** --allow-unbound-devices: `senders.allowUnboundDevices: true`. */
  allowUnboundDevices?: boolean | undefined;
  /** --tls-cert, --tls-key (together), --tls-client-ca: `tls.cert`, `tls.key`, `tls.clientCa`. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsClientCa?: string | undefined;
  /** Delivering only: --jims-url, --jims-secondary-url, --jims-client-id, --jims-ca (`jims.*`). */
  jimsUrl?: string | undefined;
  jimsSecondaryUrl?: string | undefined;
  jimsClientId?: string | undefined;
  jimsCa?: string | undefined;
  /** --state: `sessions.state`. */
  state?: string | undefined;
  /** --timezone (replay): `timezone`. */
  timezone?: string | undefined;
  /**
   * `demo`: its embedded simulator is JIMS. Of the file's `jims` section only the tuning (batches,
   * linger, retries, timeouts) stays; the endpoint keys are these.
   */
  jimsEndpoint?: { url: string; clientId: string; clientSecret: string; ca: string } | undefined;
}

/** A config file on disk, or its text as if read from `path` (relative paths resolve against its folder). */
export type ConfigFile = string | { path: string; text: string } | undefined;

export interface EffectiveConfig {
  /** What the modules read: the file's settings with the flags laid over them. Frozen. */
  readonly config: Config;
  /** The config file as given on the command line (for messages); undefined without one. */
  readonly file: string | undefined;
  /**
   * The state file (session table, outbox) the command uses and the preflight checks: `sessions.state`
   * (--state laid over it); undefined for a dry run without --state (a temporary one) and for
   * `config check` of a file without a JIMS URL.
   */
  readonly stateFile: string | undefined;
  /** Whether the JIMS settings must be complete: delivering, or `config check` of a file naming a JIMS URL. */
  readonly delivering: boolean;
  /** The file's line of a dotted key (`listen.0`), or of its nearest parent the file sets. */
  lineOf(key: string): number | undefined;
  /** The flag that set a dotted key (`listen.0` -> `--listen udp://0.0.0.0:5514`); undefined when the file (or a default) did. */
  flagOf(key: string): string | undefined;
}

/** The JIMS keys that say where JIMS is and who the bridge is to it (the rest is tuning). */
const JIMS_ENDPOINT_KEYS = ['url', 'secondaryUrl', 'clientId', 'clientSecret', 'ca', 'insecureSkipVerify', 'tokenPath', 'eventsPath'] as const;

/** What `flagOf` names for the keys `demo` sets. */
const DEMO = 'demo (its JIMS simulator)';

/**
 * Builds the effective config. The flags that stand for a key are laid over the file's YAML before
 * the one validation, so they get that key's checks and messages (without the file's line, which
 * they do not come from). --listen, --allow-sender and --patterns values are added after it, as
 * typed: the preflight, the listeners and the pattern loader check them with their own codes
 * (ERR_LISTEN_URL_INVALID, ...) and the preflight names the flag (`--listen URL`).
 * @throws BridgeError ERR_USAGE for flags that only make sense together or a bad --timezone;
 *   ConfigError for an unreadable file, bad YAML, or invalid keys (every schema problem at once,
 *   with file:line for the file's).
 */
export function effectiveConfig(file: ConfigFile, line: CommandLine): EffectiveConfig {
  checkFlags(line);
  const read = file === undefined ? undefined : typeof file === 'string' ? readConfigFile(file) : readConfigFile(file.path, file.text);
  const flags = new Map<string, string>();
  const input = layFlags(read?.input ?? {}, line, flags);
  const parsed = parseConfig(input, read?.source, (key) => flags.has(key));
  const config = addListFlags(parsed, line, flags);
  const delivering = line.use === 'deliver' || (line.use === 'check' && config.jims.url !== undefined);
  const stateFile = delivering || line.state !== undefined ? config.sessions.state : undefined;
  const source: ConfigSource | undefined = read?.source;
  return deepFreeze({
    config,
    file: typeof file === 'string' ? file : file?.path,
    stateFile,
    delivering,
    lineOf: (key: string) => (source === undefined ? undefined : lineOfKey(source, key)),
    flagOf: (key: string) => flags.get(key),
  });
}

/** What is wrong with the command line itself, before the file is read. */
function checkFlags(line: CommandLine): void {
  if ((line.tlsCert === undefined) !== (line.tlsKey === undefined)) {
    throw new BridgeError('ERR_USAGE', 'Give --tls-cert and --tls-key together (the server certificate and its private key).');
  }
  if (line.timezone !== undefined && canonicalTimeZone(line.timezone) === undefined) {
    throw new BridgeError('ERR_USAGE', `Expected --timezone an IANA time zone name like Europe/Paris or UTC, got ${JSON.stringify(line.timezone)}.`);
  }
}

type Mapping = Record<string, unknown>;

const isMapping = (value: unknown): value is Mapping => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The file's YAML with the key flags set in it; `flags` learns which key each flag set. */
function layFlags(raw: unknown, line: CommandLine, flags: Map<string, string>): unknown {
  // Not a mapping at all: the validation says so; no flag can mend it.
  if (!isMapping(raw)) return raw;
  const input: Mapping = { ...raw };
  const set = (section: string, key: string, value: unknown, flag: string) => {
    if (value === undefined) return;
    const current = input[section];
    // A section the file got wrong (a list, a string) stays wrong: the validation names it.
    if (current !== undefined && !isMapping(current)) return;
    input[section] = { ...current, [key]: value };
    flags.set(`${section}.${key}`, flag);
  };
  if (line.timezone !== undefined) {
    input.timezone = line.timezone;
    flags.set('timezone', '--timezone');
  }
  if (line.allowAnySender) set('senders', 'allowAny', true, '--allow-any-sender');
  if (line.allowUnboundDevices) set('senders', 'allowUnboundDevices', true, '--allow-unbound-devices');
  set('tls', 'cert', line.tlsCert, '--tls-cert');
  set('tls', 'key', line.tlsKey, '--tls-key');
  set('tls', 'clientCa', line.tlsClientCa, '--tls-client-ca');
  set('sessions', 'state', line.state, '--state');
  if (line.use !== 'deliver') return input;
  if (line.jimsEndpoint !== undefined && isMapping(input.jims)) {
    input.jims = Object.fromEntries(Object.entries(input.jims).filter(([key]) => !(JIMS_ENDPOINT_KEYS as readonly string[]).includes(key)));
  }
  const endpoint = line.jimsEndpoint;
  set('jims', 'url', endpoint?.url ?? line.jimsUrl, endpoint ? DEMO : '--jims-url');
  set('jims', 'secondaryUrl', line.jimsSecondaryUrl, '--jims-secondary-url');
  set('jims', 'clientId', endpoint?.clientId ?? line.jimsClientId, endpoint ? DEMO : '--jims-client-id');
  set('jims', 'ca', endpoint?.ca ?? line.jimsCa, endpoint ? DEMO : '--jims-ca');
  set('jims', 'clientSecret', endpoint?.clientSecret, DEMO);
  // Never a flag (`ps` shows flags): the environment, when the file names no secret.
  const jims = input.jims;
  if (jims === undefined || (isMapping(jims) && jims.clientSecret === undefined)) set('jims', 'clientSecret', `env:${SECRET_ENV}`, SECRET_ENV);
  return input;
}

/** --listen replaces `listen`, --allow-sender and --patterns come after the file's; unvalidated here (see `effectiveConfig`). */
function addListFlags(config: Config, line: CommandLine, flags: Map<string, string>): Config {
  const listen = line.listen !== undefined && line.listen.length > 0 ? line.listen : undefined;
  listen?.forEach((url, i) => flags.set(`listen.${i}`, `--listen ${url}`));
  const allowFlags = line.allowSender ?? [];
  allowFlags.forEach((cidr, i) => flags.set(`senders.allow.${config.senders.allow.length + i}`, `--allow-sender ${cidr}`));
  return {
    ...config,
    listen: listen === undefined ? config.listen : [...listen],
    senders: { ...config.senders, allow: [...config.senders.allow, ...allowFlags] },
    patterns: { ...config.patterns, dirs: [...config.patterns.dirs, ...(line.patterns ?? [])] },
  };
}
