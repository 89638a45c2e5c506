import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import * as z from 'zod';
import { ConfigError, describeValue } from './errors.js';
import { canonicalTimeZone } from './ingest/time-zone.js';
import { hasUrlCredentials, redactUrl } from './redact.js';

/**
 * The whole configuration, validated once at load. Unknown keys are rejected (a typo must not
 * silently turn a safety switch off); every error names the key, what was expected and what came.
 * Later features add keys here, each with a default, a range and a one-line description.
 */

const seconds = (max: number) => z.int().min(0).max(max);
const port = z.int().min(0).max(65535);

const listenUrl = z
  .string()
  .regex(/^(udp|tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d{1,5}$/, 'a URL like udp://0.0.0.0:5514, tcp://[::]:5514 or tls://0.0.0.0:6514')
  .meta({ expected: 'a URL like udp://0.0.0.0:5514, tcp://[::]:5514 or tls://0.0.0.0:6514' });

const cidr = z
  .string()
  .regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/)
  .meta({ expected: 'an address or CIDR like 192.0.2.0/24 or 2001:db8::/32' });

/** `env:NAME` or `file:PATH`: secrets never sit in the config or on a command line visible in `ps`. */
const secretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/)
  .meta({ expected: 'a secret reference: env:NAME or file:PATH' });

/**
 * A JIMS URL (or path) without credentials: `user:password@` or `?access_token=` would reach
 * logs, `config check` output and `ps`. The client id and secret have keys of their own.
 */
const noUrlCredentials = { params: { urlCredentials: true } } as const;
const jimsUrl = z.url({ protocol: /^https?$/ }).refine((url) => !hasUrlCredentials(url), noUrlCredentials);
const jimsPath = z.string().startsWith('/').refine((path) => !hasUrlCredentials(`https://jims.invalid${path}`), noUrlCredentials);

/** An IANA zone name (`Europe/Paris`, `UTC`; aliases Intl knows, such as `US/Eastern`, too). */
const timeZone = z
  .string()
  .refine((name) => canonicalTimeZone(name) !== undefined)
  .meta({ expected: 'an IANA time zone name like Europe/Paris, America/New_York or UTC' });

const vpnSettings = z.strictObject({
  /** `user-domain` alias for users of this VPN whose name carries no domain. */
  domain: z.string().min(1).optional(),
  /** Expected rekey interval (IPsec SA lifetime) in seconds; 0 turns the rekey watch off. */
  rekeyIntervalSeconds: seconds(7 * 86400).optional(),
  /** false: keep this VPN's sessions (rekey watch and all) but send JIMS nothing for them (counted as skipped, `push-disabled`). Default true. */
  push: z.boolean().optional(),
});

/**
 * Per IKE gateway (the `gateway name` in the log line), like Junos' `[edit security ike gateway NAME
 * aaa] no-push-to-identity-management`; `ptim-bridge junos import` writes these.
 */
const gatewaySettings = z.strictObject({
  /** false: keep this gateway's sessions but send JIMS nothing for them (counted as skipped, `push-disabled`). Default true. */
  push: z.boolean().optional(),
});

const deviceSettings = z.strictObject({
  /** Addresses or networks this firewall may send from (its own, or a relay's that forwards for it). */
  senders: z.array(cidr).default([]),
  /** TLS client certificate names (CN or DNS SAN) that speak for this firewall. */
  certNames: z.array(z.string().min(1)).default([]),
  /** Zone of this firewall's zone-less syslog times (RFC 3164); default: the top-level `timezone`. */
  timezone: timeZone.optional(),
  /** false: keep this firewall's sessions but send JIMS nothing for them (counted as skipped, `push-disabled`). Default true. */
  push: z.boolean().optional(),
});

export const configSchema = z.strictObject({
  /** Pattern folders, in order; later folders override earlier rules with the same id. */
  patterns: z
    .strictObject({
      shipped: z.boolean().default(true),
      dirs: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),

  /** Per-VPN settings, keyed by the `vpn name` in the log line. */
  vpns: z.record(z.string().min(1), vpnSettings).default({}),

  /** Per-IKE-gateway settings, keyed by the `gateway name` in the log line (push opt-out). */
  gateways: z.record(z.string().min(1), gatewaySettings).default({}),

  listen: z.array(listenUrl).default([]),

  senders: z
    .strictObject({
      allow: z.array(cidr).default([]),
      /** An empty allow-list is accepted only with this explicit opt-in. */
      allowAny: z.boolean().default(false),
      /** Accept lines from hosts not listed under `devices` (and hostless lines from unbound senders). */
      allowUnboundDevices: z.boolean().default(false),
    })
    .prefault({}),

  /** Zone in which zone-less syslog times (RFC 3164, log files) are read, live and in replay; per device: `devices.<name>.timezone`. */
  timezone: timeZone.default('UTC'),

  /** Firewalls by syslog host name, and the senders (addresses, certificate names) that may speak for each. */
  devices: z.record(z.string().min(1), deviceSettings).default({}),

  tls: z
    .strictObject({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      /** CA bundle for client certificates: when set, senders must present a certificate it signed. */
      clientCa: z.string().min(1).optional(),
    })
    .prefault({}),

  limits: z
    .strictObject({
      maxMessageBytes: z.int().min(480).max(16 * 1024 * 1024).default(64 * 1024),
      maxConnections: z.int().min(1).max(100_000).default(1024),
      maxConnectionsPerSender: z.int().min(1).max(100_000).default(16),
      /** Silent connections are closed after this long; 0 (default) = never: relays keep quiet connections, TCP keepalive finds dead ones. */
      idleTimeoutSeconds: seconds(86400).default(0),
      /** A message (or TLS handshake) must be complete this long after its first byte, else its connection is closed (trickling). */
      frameTimeoutSeconds: seconds(3600).default(30),
      /**
       * true: a UDP datagram may hold several messages, one per line (relays that pack them), live and
       * in pcap replay. Default false: one message per datagram (RFC 5426); a line break inside one
       * makes it `control-characters`, since a VPN user name could carry a forged line after it.
       */
      splitDatagramLines: z.boolean().default(false),
      /**
       * true: TCP and TLS connections must use octet counting (RFC 6587 3.4.1); one that starts LF- or
       * NUL-framed is closed (`bad-framing`). Such framing cannot keep a newline inside a message.
       */
      requireOctetCounting: z.boolean().default(false),
    })
    .prefault({}),

  sessions: z
    .strictObject({
      state: z.string().min(1).default('ptim-bridge.db'),
      rekeyIntervalSeconds: seconds(7 * 86400).default(3600),
      rekeyGraceSeconds: seconds(86400).default(300),
      maxMissedRekeys: z.int().min(1).max(100).default(2),
    })
    .prefault({}),

  /** What the session table checks on each line before applying it (issue 8; README "Sessions and rekeys"). */
  lineChecks: z
    .strictObject({
      /** Live only: a line time further than this from its receipt time is out of window. */
      timeWindowSeconds: z.int().min(60).max(30 * 86400).default(86400),
      /** An out-of-window line is rejected (no event) or clamped (its time becomes the receipt time). */
      outOfWindow: z.enum(['reject', 'clamp']).default('reject'),
      /** The same line (device, tag, message text) again within this many seconds is applied once; 0 = off. Capped at half the VPN's rekey interval. */
      duplicateWindowSeconds: seconds(3600).default(30),
    })
    .prefault({}),

  jims: z
    .strictObject({
      url: jimsUrl.optional(),
      secondaryUrl: jimsUrl.optional(),
      clientId: z.string().min(1).optional(),
      clientSecret: secretRef.optional(),
      tokenPath: jimsPath.default('/oauth_token/oauth'),
      eventsPath: jimsPath.default('/api/v1/ptim/events'),
      ca: z.string().min(1).optional(),
      insecureSkipVerify: z.boolean().default(false),
      batchSize: z.int().min(1).max(1000).default(500),
      lingerMs: z.int().min(0).max(60_000).default(20),
      concurrency: z.int().min(1).max(64).default(4),
      timeoutMs: z.int().min(100).max(300_000).default(10_000),
      retryMinDelayMs: z.int().min(1).max(600_000).default(250),
      retryMaxDelayMs: z.int().min(1).max(3_600_000).default(30_000),
      probeIntervalSeconds: z.int().min(1).max(3600).default(15),
    })
    .prefault({}),

  metrics: z
    .strictObject({
      listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d{1,5}$/).meta({ expected: 'HOST:PORT' }).optional(),
      /** Serve GET /tap (the live event stream: it shows user names and IPs) here; default: only when `listen` is a loopback address. */
      tap: z.boolean().optional(),
      /** GET /readyz answers 503 when JIMS has failed to take pushes for longer than this. */
      readyJimsFailingSeconds: seconds(86400).default(60),
      /** ... or when the oldest event waiting in the outbox is older than this. */
      readyBacklogAgeSeconds: seconds(7 * 86400).default(300),
    })
    .prefault({}),

  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type VpnSettings = z.output<typeof vpnSettings>;
export type DeviceSettings = z.output<typeof deviceSettings>;
export type GatewaySettings = z.output<typeof gatewaySettings>;

export const DEFAULT_LISTEN_PORT = 5514;
export { port as portSchema };

/** JSON Schema of the config file, for editors and `ptim-bridge config schema`. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

/** A config file as read: where it is, and its parsed YAML with line positions (for file:line). */
export interface ConfigSource {
  file: string;
  doc: Document;
  lines: LineCounter;
}

/**
 * Validates a parsed config object. With `source`, relative paths are resolved against the directory
 * of `source.file`; without it they stay as written.
 * @throws ConfigError naming the key (and the file and line, when `source` is given).
 */
export function validateConfig(input: unknown, source?: ConfigSource): Config {
  return deepFreeze(parseConfig(input, source));
}

/**
 * `validateConfig` for a file with command-line values laid over it (src/effective-config.ts): the
 * keys `setByFlag` names were not written in the file, so a problem with one is reported without
 * the file's line (after the file's own problems) and a relative path in one stays relative to the
 * working directory. The result is not frozen yet: the caller adds the rest and freezes it.
 * @throws ConfigError listing every schema problem at once, the file's first.
 */
export function parseConfig(input: unknown, source?: ConfigSource, setByFlag: (key: string) => boolean = () => false): Config {
  const result = configSchema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) {
    const fromFlag = (issue: Issue) => setByFlag(issue.path.map(String).join('.'));
    const issues = [...result.error.issues.filter((i) => !fromFlag(i)), ...result.error.issues.filter(fromFlag)];
    const messages = issues.map((issue) => describeIssue(issue));
    const first = issues[0]!;
    const inFile = source !== undefined && !fromFlag(first) ? source : undefined;
    const line = inFile ? lineOf(inFile, first.path) : undefined;
    const where = inFile ? `${inFile.file}${line ? `:${line}` : ''}: ` : '';
    throw new ConfigError(
      `${where}${messages.join('\n  ')}`,
      { file: inFile?.file, line, key: first.path.join('.') },
    );
  }
  const config = result.data;
  checkCrossFields(config);
  if (source) resolvePaths(config, dirname(source.file), setByFlag);
  return config;
}

/**
 * Reads and validates a YAML config file; no file means all defaults.
 * @throws ConfigError on a missing or unreadable file, bad YAML or invalid keys.
 */
export function loadConfig(file?: string): Config {
  if (file === undefined) return validateConfig({});
  const { input, source } = readConfigFile(file);
  return validateConfig(input, source);
}

/**
 * Reads and parses a YAML config file (or `text`, as if read from `file`), keeping where each key
 * stands. Nothing is validated yet.
 * @throws ConfigError on a missing or unreadable file or bad YAML (with file:line).
 */
export function readConfigFile(file: string, text?: string): { input: unknown; source: ConfigSource } {
  let yaml: string;
  if (text !== undefined) {
    yaml = text;
  } else {
    try {
      yaml = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new ConfigError(`Cannot read config file ${file}: ${(cause as NodeJS.ErrnoException).code ?? cause}. Check the --config path.`, { file, cause });
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(yaml, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0]?.line;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: not valid YAML: ${yamlError.message.split('\n')[0]}`, { file, line });
  }
  return { input: doc.toJS(), source: { file: resolve(file), doc, lines } };
}

/** The line of a dotted key (`listen.0`) in the file, or of its nearest parent the file sets; undefined when none. */
export function lineOfKey(source: ConfigSource, key: string): number | undefined {
  return lineOf(source, key.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k)));
}

/**
 * Resolves a secret reference (`env:NAME` or `file:PATH`) at the moment it is needed.
 * @throws BridgeError ERR_SECRET_UNAVAILABLE naming the variable or file, never the value.
 */
export async function resolveSecret(ref: string, key: string): Promise<string> {
  const { BridgeError } = await import('./errors.js');
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = process.env[name];
    if (!value) throw new BridgeError('ERR_SECRET_UNAVAILABLE', `\`${key}\` refers to environment variable ${name}, which is not set. Export it before starting.`, { key });
    return value;
  }
  const path = ref.slice(5);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new BridgeError('ERR_SECRET_UNAVAILABLE', `\`${key}\` refers to file ${path}, which cannot be read (${(cause as NodeJS.ErrnoException).code}).`, { key, cause });
  }
}

function checkCrossFields(config: Config): void {
  const { tls, jims } = config;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new ConfigError('Expected `tls.cert` and `tls.key` together, got only one of them', { key: tls.cert ? 'tls.key' : 'tls.cert' });
  }
  if (jims.retryMaxDelayMs < jims.retryMinDelayMs) {
    throw new ConfigError(`Expected \`jims.retryMaxDelayMs\` >= \`jims.retryMinDelayMs\` (${jims.retryMinDelayMs}), got ${jims.retryMaxDelayMs}`, { key: 'jims.retryMaxDelayMs' });
  }
}

/** Paths in the file are relative to the file; a flag's stay relative to the working directory. */
function resolvePaths(config: Config, base: string, setByFlag: (key: string) => boolean): void {
  const abs = <P extends string | undefined>(key: string, p: P): P => (p === undefined || setByFlag(key) ? p : (resolve(base, p) as P));
  config.patterns.dirs = config.patterns.dirs.map((d) => resolve(base, d));
  config.tls.cert = abs('tls.cert', config.tls.cert);
  config.tls.key = abs('tls.key', config.tls.key);
  config.tls.clientCa = abs('tls.clientCa', config.tls.clientCa);
  config.jims.ca = abs('jims.ca', config.jims.ca);
  config.sessions.state = abs('sessions.state', config.sessions.state);
}

type Issue = z.core.$ZodIssue & { input?: unknown };

function describeIssue(issue: Issue): string {
  const key = issue.path.map(String).join('.');
  // A secret typed inline must not be echoed into logs or terminals that record it; nor may a
  // password inside a URL (any key: a listen address or a path can carry one too).
  const got = /secret|password/i.test(key) ? 'a literal value (hidden; use env:NAME or file:PATH)' : describeValue(typeof issue.input === 'string' ? redactUrl(issue.input) : issue.input);
  switch (issue.code) {
    case 'custom':
      if ((issue.params as { urlCredentials?: boolean } | undefined)?.urlCredentials) {
        return `Expected \`${key}\` ${expectedOf(issue.path)} without credentials (user:password@ or a token in the query), got ${got}. Put the client id in \`jims.clientId\` and the secret in \`jims.clientSecret\` as env:NAME or file:PATH`;
      }
      return `Expected \`${key}\` ${expectedOf(issue.path)}, got ${got}`;
    case 'unrecognized_keys': {
      const where = key ? ` in \`${key}\`` : ' at the top level';
      return `Unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}${where}; check the spelling (see \`ptim-bridge config schema\`)`;
    }
    case 'invalid_type':
      return `Expected \`${key}\` ${expectedOf(issue.path)}, got ${got}`;
    default:
      return `Expected \`${key}\` ${expectedOf(issue.path)}, got ${got}`;
  }
}

/** Describes what the schema wants at a path: "an integer 1-1000", "one of info, debug", ... */
function expectedOf(path: readonly PropertyKey[]): string {
  let schema: z.ZodType | undefined = configSchema;
  for (const segment of path) {
    schema = schema ? childSchema(unwrap(schema), segment) : undefined;
  }
  if (!schema) return 'a valid value';
  return describeSchema(schema);
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: z.ZodType };
    if (def.innerType && ['optional', 'default', 'prefault', 'nullable'].includes(def.type)) s = def.innerType;
    else return s;
  }
}

function childSchema(schema: z.ZodType, segment: PropertyKey): z.ZodType | undefined {
  const def = schema._zod.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType };
  if (def.type === 'object') return def.shape?.[String(segment)];
  if (def.type === 'array') return def.element;
  if (def.type === 'record') return def.valueType;
  return undefined;
}

function describeSchema(schema: z.ZodType): string {
  const meta = z.globalRegistry.get(schema) as { expected?: string } | undefined;
  if (meta?.expected) return meta.expected;
  const inner = unwrap(schema);
  const innerMeta = z.globalRegistry.get(inner) as { expected?: string } | undefined;
  if (innerMeta?.expected) return innerMeta.expected;
  const def = inner._zod.def as { type: string; entries?: Record<string, string>; format?: string };
  const bounds = inner as unknown as { minValue?: number | null; maxValue?: number | null; minLength?: number | null };
  switch (def.type) {
    case 'number': {
      const kind = def.format === 'safeint' ? 'an integer' : 'a number';
      const { minValue: min, maxValue: max } = bounds;
      if (min != null && max != null && Number.isFinite(min) && Number.isFinite(max)) return `${kind} ${min}-${max}`;
      return kind;
    }
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${Object.values(def.entries ?? {}).join(', ')}`;
    case 'string':
      if (def.format === 'url') return 'an http:// or https:// URL';
      return bounds.minLength ? 'a non-empty string' : 'a string';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping';
    default:
      return 'a valid value';
  }
}

function lineOf(source: { doc: Document; lines: LineCounter }, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = source.doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return source.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Freezes an object and everything it holds: a config no module can change after it is built. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
