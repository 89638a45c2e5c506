import { escapeRegExp } from './regexp-escape.js';

/**
 * Keeps credentials out of what the bridge stores and prints: JIMS answers kept as dead letters,
 * error reasons, log lines, config values echoed in error messages. Pure. Each pattern's repetition
 * can stop in essentially one place and input is capped at MAX_REDACT_CHARS, so a crafted body
 * costs linear time, never a backtracking storm (test/redact.test.ts measures it).
 *
 * Removed from any text:
 * - `Authorization: <value>` (header or field form) up to the end of the line or string;
 * - `Bearer <token>` and `Basic <b64>`, any case;
 * - the value of fields named access_token, refresh_token, id_token, client_secret, password,
 *   token, authorization (camelCase and dashed spellings too) in JSON, form/query and `name: value`
 *   text;
 * - every literal secret the caller names (the client secret, the access token just sent), also
 *   when written with JSON escapes (`\u0061`), percent-encoding or HTML character references;
 * - `user:password@` in URLs (replaced by `***@`).
 * A body that is JSON is also checked after decoding (a token split by escapes is found there) and,
 * only if that finds more, written back as redacted compact JSON.
 */

export const REDACTED = '[redacted]';

/** Field names whose values are secrets, lower-case, without `_`/`-`. */
const SENSITIVE_KEYS = new Set(['accesstoken', 'refreshtoken', 'idtoken', 'clientsecret', 'password', 'token', 'authorization']);
const FIELD_NAMES = ['access_token', 'refresh_token', 'id_token', 'client_secret', 'password', 'token'];
/** Nested JSON (a string holding JSON) is decoded this deep; deeper subtrees are dropped whole. */
const MAX_DEPTH = 32;

/** JSON short escapes (and the form-encoded space) of a character, as regex sources. */
const JSON_SHORT: Record<string, string> = { '/': '\\\\/', '"': '\\\\"', '\\': '\\\\\\\\', '\b': '\\\\b', '\f': '\\\\f', '\n': '\\\\n', '\r': '\\\\r', '\t': '\\\\t', ' ': '\\+' };
const HEX4 = '\\\\u[0-9a-fA-F]{4}';
const PCT = '%[0-9a-fA-F]{2}';
/** A space as a header, JSON string or form body may write it. */
const GAP = `(?:[ \\t]|\\\\u0020|\\\\t|%20|\\+)+`;
/** Token characters of RFC 6750 (b64token), plus the escaped forms an echo may turn them into. */
const TOKEN = `(?:[A-Za-z0-9\\-._~+/=]|${HEX4}|\\\\/|${PCT})+`;
/** A quoted value: a JSON string (possibly cut off at the end), an escaped JSON string inside one, or single quotes. */
const QUOTED = `"(?:[^"\\\\]|\\\\[\\s\\S])*(?:"|$)|\\\\"(?:[^\\\\]|\\\\(?!")[\\s\\S])*(?:\\\\"|$)|'[^'\\r\\n]*(?:'|$)`;
/** An unquoted field value: up to a delimiter of JSON, forms, queries or prose. */
const BARE = `(?:[^\\s,;&"'<>{}\\[\\]\\\\]|${HEX4}|\\\\/|${PCT})+`;
/** An Authorization value without quotes: the rest of the line (or of the escaped string). */
const REST = `(?:[^"\\r\\n\\\\]|\\\\(?![nr"])[\\s\\S])+`;
/** After a field name: its closing quote, then `:` or `=` (also percent- or JSON-escaped, as in a nested query). */
const SEP = `(?:\\\\*["'])?[ \\t]*(?:[:=]|%3[adAD]|\\\\u003[adAD])[ \\t]*`;

const AUTHORIZATION = new RegExp(`(?<![A-Za-z0-9])(${escapeAware('authorization', true)}${SEP})(${QUOTED}|${REST})`, 'gi');
const SCHEME = new RegExp(`(?<![A-Za-z0-9])(bearer|basic)(${GAP})${TOKEN}`, 'gi');
const FIELDS = new RegExp(`(?<![A-Za-z0-9])((?:${fieldNameVariants().map((n) => escapeAware(n, true)).join('|')})${SEP})(${QUOTED}|${BARE})`, 'gi');
// Bounded runs: a long word of `a-a-a-...` must not make every boundary in it scan to the end.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:(?:\/\/|\\\/\\\/))[^\s/\\?#@"'<>]{1,256}@/gi;

/**
 * `text` with every credential listed above replaced by `[redacted]` (URL userinfo by `***`).
 * `secrets` are literal values to remove wherever they appear; empty ones are ignored.
 * Idempotent; never throws.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  const literals = literalPattern(secrets);
  return redactDeep(cutForRedaction(text), literals, 0);
}

/** Longest text redacted whole; the bridge keeps a few KiB of an answer at most, and time stays bounded. */
export const MAX_REDACT_CHARS = 64 * 1024;

/**
 * Text longer than MAX_REDACT_CHARS, cut there and then back to the last delimiter: a secret cut in
 * half would no longer match its literal, and its first half must not survive.
 */
function cutForRedaction(text: string): string {
  if (text.length <= MAX_REDACT_CHARS) return text;
  let end = MAX_REDACT_CHARS;
  while (end > 0 && !/[\s"'<>,;&{}[\]]/.test(text[end - 1]!)) end--;
  return `${text.slice(0, end)}...`;
}

/**
 * True when a URL carries credentials: `user[:password]@` (in any spelling the WHATWG parser
 * accepts, e.g. `https:user:pw@host`), or a query parameter named like a secret (`?access_token=`).
 */
export function hasUrlCredentials(url: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:[\\/]*[^/\\?#]*@/i.test(url)) return true;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username !== '' || parsed.password !== '') return true;
  for (const name of parsed.searchParams.keys()) if (SENSITIVE_KEYS.has(normalizeKey(name))) return true;
  return false;
}

/**
 * A URL (or any text holding URLs) fit to print: userinfo becomes `***`, secret-named query
 * values become `[redacted]`. Other text passes unchanged.
 */
export function redactUrl(text: string): string {
  let out = text;
  if (hasUrlCredentials(text)) {
    try {
      const u = new URL(text);
      if (u.username !== '' || u.password !== '' || /^[a-z][a-z0-9+.-]*:[\\/]*[^/\\?#]*@/i.test(text)) {
        u.username = '***';
        u.password = '';
      }
      out = u.href;
    } catch {
      // Not one URL: the text patterns below still apply.
    }
  }
  return redactText(out, undefined);
}

function redactDeep(text: string, literals: RegExp | undefined, depth: number): string {
  const once = redactText(text, literals);
  const json = parseJson(once);
  if (json === undefined) return once;
  const walked = walk(json.value, literals, depth);
  return walked.changed ? JSON.stringify(walked.value) : once;
}

function redactText(text: string, literals: RegExp | undefined): string {
  let out = literals ? text.replace(literals, REDACTED) : text;
  out = out.replace(AUTHORIZATION, (_m, head: string, value: string) => `${head}${quoteLike(value)}`);
  out = out.replace(SCHEME, (_m, scheme: string, gap: string) => `${scheme}${gap}${REDACTED}`);
  out = out.replace(FIELDS, (_m, head: string, value: string) => `${head}${quoteLike(value, head)}`);
  out = out.replace(URL_USERINFO, '$1***@');
  return out;
}

/**
 * `[redacted]` wrapped in the same kind of quotes as the value it replaces; a bare value (a JSON
 * number) after a quoted key becomes a string, so a JSON body stays JSON.
 */
function quoteLike(value: string, head = ''): string {
  const q = value.startsWith('\\"') ? '\\"' : value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : /\\"\s*:\s*$/.test(head) ? '\\"' : /"\s*:\s*$/.test(head) ? '"' : '';
  return `${q}${REDACTED}${q}`;
}

function walk(value: unknown, literals: RegExp | undefined, depth: number): { value: unknown; changed: boolean } {
  if (typeof value === 'string') {
    const out = depth < MAX_DEPTH ? redactDeep(value, literals, depth + 1) : redactText(value, literals);
    return { value: out, changed: out !== value };
  }
  if (value === null || typeof value !== 'object') return { value, changed: false };
  if (depth >= MAX_DEPTH) return { value: REDACTED, changed: true };
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const w = walk(v, literals, depth + 1);
      changed ||= w.changed;
      return w.value;
    });
    return { value: out, changed };
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = redactText(k, literals);
    if (key !== k) changed = true;
    if (SENSITIVE_KEYS.has(normalizeKey(k))) {
      if (v !== REDACTED) changed = true;
      out[key] = REDACTED;
      continue;
    }
    const w = walk(v, literals, depth + 1);
    changed ||= w.changed;
    out[key] = w.value;
  }
  return { value: out, changed };
}

function parseJson(text: string): { value: unknown } | undefined {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[' && start !== '"') return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

function fieldNameVariants(): string[] {
  const names = new Set<string>();
  for (const n of FIELD_NAMES) {
    names.add(n);
    names.add(n.replace(/_/g, '-'));
    names.add(n.replace(/_/g, ''));
  }
  // Longest first, so `access_token` is taken whole rather than as its tail `token`.
  return [...names].sort((a, b) => b.length - a.length);
}

const literalCache = new Map<string, RegExp | undefined>();

/** One regex matching any of the literals in any escaped spelling, longest first; cached. */
function literalPattern(secrets: readonly (string | undefined)[]): RegExp | undefined {
  const usable = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s !== ''))].sort((a, b) => b.length - a.length);
  if (usable.length === 0) return undefined;
  const cacheKey = JSON.stringify(usable);
  if (literalCache.has(cacheKey)) return literalCache.get(cacheKey);
  const pattern = new RegExp(usable.map((s) => escapeAware(s, false)).join('|'), 'g');
  // A client holds a few tokens at a time; the cache only saves recompiling them per answer.
  if (literalCache.size >= 32) literalCache.clear();
  literalCache.set(cacheKey, pattern);
  return pattern;
}

/**
 * A regex source matching `text` with each character as itself or as a JSON `\uXXXX` / short
 * escape, a percent-encoded UTF-8 sequence or an HTML character reference. `caseless` leaves the
 * letters' case to the `i` flag; otherwise hex digits are spelled as both cases so the literal
 * itself stays case-sensitive.
 */
function escapeAware(text: string, caseless: boolean): string {
  const hex = (n: number, width: number) => {
    const digits = n.toString(16).padStart(width, '0');
    return caseless ? digits : [...digits].map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d)).join('');
  };
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const forms = [escapeRegExp(ch)];
    const units = ch.length === 2 ? [ch.charCodeAt(0), ch.charCodeAt(1)] : [cp];
    forms.push(units.map((u) => `\\\\u${hex(u, 4)}`).join(''));
    forms.push([...Buffer.from(ch, 'utf8')].map((b) => `%${hex(b, 2)}`).join(''));
    forms.push(`&#(?:[xX]0*${hex(cp, 1)}|0*${cp});`);
    const short = JSON_SHORT[ch];
    if (short) forms.push(short);
    out += `(?:${forms.join('|')})`;
  }
  return out;
}

