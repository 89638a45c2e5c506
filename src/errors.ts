/**
 * One base error with a stable `code`. Tests and callers branch on `code`, never on message text.
 * Messages name the field or place, what was expected and what came, and what to do next.
 */
export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_PATTERN_INVALID'
  | 'ERR_PATTERN_TEST_FAILED'
  | 'ERR_PATTERN_LINT_FAILED'
  | 'ERR_FRAME_TOO_LONG'
  | 'ERR_FRAME_INVALID'
  | 'ERR_LISTEN_URL_INVALID'
  | 'ERR_LISTEN_FAILED'
  | 'ERR_INPUT_UNREADABLE'
  | 'ERR_INPUT_FORMAT'
  | 'ERR_STATE_UNREADABLE'
  | 'ERR_STATE_LOCKED'
  | 'ERR_JIMS_AUTH'
  | 'ERR_JIMS_REJECTED'
  | 'ERR_JIMS_UNAVAILABLE'
  | 'ERR_JIMS_TLS'
  | 'ERR_SECRET_UNAVAILABLE'
  | 'ERR_NOT_READY'
  | 'ERR_NOT_RUNNING'
  | 'ERR_JUNOS_CONFIG'
  | 'ERR_USAGE';

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
