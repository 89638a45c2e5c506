/** What an error code tells the operator, and how the CLI ends when it ends a command. */
export interface ErrorCodeInfo {
  /**
   * The exit status of a command this error ends: 2 for what the operator must fix before retrying
   * (usage, config, pattern files), 1 for a failure at run time. `null`: it never ends a command
   * (handled where it happens, per message or connection, and counted).
   */
  exit: 1 | 2 | null;
  /** What it means, and where it comes from when that is not obvious. */
  meaning: string;
  /** What the operator does next. */
  next: string;
}

/**
 * Every error code, in the order the README lists them. The CLI takes exit statuses from here and
 * the README's error-code table is rendered from it (scripts/readme-error-codes.ts), so a code
 * added here is documented, and one used anywhere else must be added here first: `ErrorCode` is
 * this table's keys.
 */
export const ERROR_CODES = {
  ERR_CONFIG_INVALID: {
    exit: 2,
    meaning: 'bad key or value (`file:line`, key, expected vs got), unreadable config, empty allow-list, missing JIMS settings; from `config check` and `run`, every problem at once',
    next: 'fix it; `config check`',
  },
  ERR_USAGE: { exit: 2, meaning: 'bad flag value or combination', next: 'see `--help`' },
  ERR_LISTEN_URL_INVALID: { exit: 2, meaning: 'listen URL is not `udp://`, `tcp://` or `tls://HOST:PORT`', next: 'e.g. `tcp://[::]:5514`' },
  ERR_PATTERN_INVALID: { exit: 2, meaning: 'pattern file invalid (`file:line`, rule id)', next: 'fix it; `patterns test`' },
  ERR_PATTERN_TEST_FAILED: { exit: 1, meaning: 'an inline example gave another rule or field', next: 'output shows expected vs actual' },
  ERR_PATTERN_LINT_FAILED: {
    exit: 1,
    meaning: 'a regex can backtrack catastrophically, or a rule has no example',
    next: 'rewrite with negated classes; add an example',
  },
  ERR_LISTEN_FAILED: { exit: 1, meaning: 'port in use or not permitted (also `metrics.listen`)', next: 'stop the other process or pick another port' },
  ERR_STATE_LOCKED: { exit: 1, meaning: 'another `run` / delivering `replay` holds the state file', next: 'stop it, or use another `--state`' },
  ERR_STATE_UNREADABLE: {
    exit: 1,
    meaning: 'state file missing (`sessions`, `dlq` never create one), damaged (integrity check) or empty (0 bytes)',
    next: 'check `--state` / `sessions.state`; a damaged or empty one: move it aside (the message says what is lost)',
  },
  ERR_SECRET_UNAVAILABLE: { exit: 1, meaning: '`env:NAME` unset or `file:PATH` unreadable', next: 'export it / fix the file' },
  ERR_JIMS_TLS: { exit: 1, meaning: "JIMS' certificate not accepted", next: '`--jims-ca` with its CA, or a URL whose host is in the certificate' },
  ERR_JIMS_AUTH: {
    exit: 1,
    meaning: 'token refused (start); a fresh token refused on push (run: logged, events stay queued)',
    next: "check `jims.clientId` and the secret, and the API client's rights in JIMS",
  },
  ERR_JIMS_UNAVAILABLE: {
    exit: 1,
    meaning: 'JIMS unreachable: at start only a warning (events queue, no exit); `demo`: delivery timed out',
    next: 'check `jims.url`, JIMS, the network',
  },
  ERR_JIMS_REJECTED: { exit: 1, meaning: 'delivering `replay`: JIMS refused events (4xx)', next: '`dlq list`, fix the cause, `dlq retry`' },
  ERR_NOT_RUNNING: { exit: 1, meaning: '`reload`: no live bridge holds the state file', next: 'start it, or name its state file with `--state`' },
  ERR_NOT_READY: {
    exit: 1,
    meaning: '`health`: no 200 from `/healthz` within `--wait`',
    next: 'is the bridge running (`systemctl status ptim-bridge`), and is `metrics.listen` that address?',
  },
  ERR_JUNOS_CONFIG: {
    exit: 2,
    meaning: '`junos import`: remote-access profiles sharing an IPsec VPN object with different `user-domain`s (both named, `file:line`), or input that is not `display set` output',
    next: 'one `user-domain` per VPN object; `show configuration | display set`',
  },
  ERR_INPUT_UNREADABLE: {
    exit: 1,
    meaning: 'capture missing, a directory, corrupt or truncated gzip/xz/bzip2/zstd data, or the `xz`/`bzip2`/`zstd` tool missing (the package is named)',
    next: 'check the path; install the tool',
  },
  ERR_INPUT_FORMAT: {
    exit: 1,
    meaning: '`replay`: binary input (a kind it knows is named: journald file, zip, SQLite, UTF-16, ...), text that looks like no syslog, a JSON array, an export without its text field, `--format pcap` on something else (`file:line`)',
    next: 'convert as the message says, or `--format` / `--field`',
  },
  ERR_FRAME_TOO_LONG: {
    exit: null,
    meaning: 'an octet-counted TCP/TLS frame announcing more than `limits.maxMessageBytes`: that connection is closed, never fatal',
    next: 'counted in `ptim_bridge_ingest_dropped_total{reason="too-long"}`',
  },
  ERR_FRAME_INVALID: {
    exit: null,
    meaning: 'a TCP/TLS sender that began octet counting (RFC 6587) sent something that is not a count: that connection is closed, never fatal',
    next: 'counted in `ptim_bridge_ingest_dropped_total{reason="bad-framing"}`',
  },
} as const satisfies Record<`ERR_${string}`, ErrorCodeInfo>;

/** A stable error code. Tests and callers branch on it, never on message text. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The exit status when `code` ends a command. A code meant to be handled where it happens that
 * reaches the CLI anyway is a failure at run time: 1.
 */
export function exitStatusFor(code: ErrorCode): 1 | 2 {
  return ERROR_CODES[code].exit ?? 1;
}

/**
 * One base error with a stable `code` (see ERROR_CODES).
 * Messages name the field or place, what was expected and what came, and what to do next.
 */
export interface BridgeErrorOptions {
  cause?: unknown;
  /** Where the problem is: a file, optionally with line and key or rule id. */
  file?: string;
  line?: number;
  key?: string;
}

export class BridgeError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly key: string | undefined;

  constructor(code: ErrorCode, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.file = options.file;
    this.line = options.line;
    this.key = options.key;
  }

  /** `file:line: message`, the form editors and terminals turn into links. */
  where(): string {
    if (this.file === undefined) return this.message;
    return `${this.file}${this.line === undefined ? '' : `:${this.line}`}: ${this.message}`;
  }
}

export class ConfigError extends BridgeError {
  constructor(message: string, options: BridgeErrorOptions = {}) {
    super('ERR_CONFIG_INVALID', message, options);
  }
}

export class PatternError extends BridgeError {
  readonly ruleId: string | undefined;
  constructor(message: string, options: BridgeErrorOptions & { ruleId?: string } = {}) {
    super('ERR_PATTERN_INVALID', message, options);
    this.ruleId = options.ruleId;
  }
}

export function isBridgeError(error: unknown): error is BridgeError {
  return error instanceof BridgeError;
}

/** A short, human description of a value for "got ..." in messages: `"x" (string)`, `12 (number)`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value) : String(value);
  return `${shown} (${typeof value})`;
}
