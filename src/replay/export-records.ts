import { BridgeError } from '../errors.js';
import type { ZoneClock, ZoneResolver } from '../ingest/time-zone.js';
import type { RecordedFields } from '../flow/pipeline-records.js';
import type { FieldNames, FieldRole } from './input-format.js';

/**
 * Exports (JSON lines, CSV): which field of a record holds the raw text, the time, the host, the
 * daemon and its PID, and how their values are read. Shared by the JSON-lines and CSV readers.
 *
 * Known layouts, recognised from the first record (JSON) or the header (CSV):
 *
 *   journal   `journalctl -o json`   MESSAGE, __REALTIME_TIMESTAMP (us), _HOSTNAME, SYSLOG_IDENTIFIER, SYSLOG_PID/_PID
 *   splunk    Splunk JSON export     result._raw, result._time, result.host
 *   elastic   Elastic / Filebeat     message, @timestamp, host.name, log.syslog.appname/process.name, process.pid
 *   graylog   Graylog                message, timestamp, source, application_name, process_id
 *   splunk    Splunk CSV export      _raw, _time, host
 *
 * `--field role=NAME` replaces one role's field (JSON: a dotted path, nested or a flat key with
 * dots); `--field role=` turns it off.
 */

export type LayoutName = 'journal' | 'splunk' | 'elastic' | 'graylog' | 'message' | 'custom';

export interface ExportLayout {
  name: LayoutName;
  /** Candidate field names (or paths) per role, first present wins. */
  fields: Readonly<Record<FieldRole, readonly string[]>>;
}

const JSON_LAYOUTS: ReadonlyArray<{ name: LayoutName; when: readonly string[]; fields: Record<FieldRole, readonly string[]> }> = [
  { name: 'journal', when: ['MESSAGE'], fields: { raw: ['MESSAGE'], time: ['__REALTIME_TIMESTAMP'], host: ['_HOSTNAME'], app: ['SYSLOG_IDENTIFIER'], pid: ['SYSLOG_PID', '_PID'] } },
  { name: 'splunk', when: ['result._raw'], fields: { raw: ['result._raw'], time: ['result._time'], host: ['result.host'], app: [], pid: [] } },
  { name: 'elastic', when: ['message', '@timestamp'], fields: { raw: ['message'], time: ['@timestamp'], host: ['host.name'], app: ['log.syslog.appname', 'process.name'], pid: ['log.syslog.procid', 'process.pid'] } },
  { name: 'graylog', when: ['message', 'source'], fields: { raw: ['message'], time: ['timestamp'], host: ['source'], app: ['application_name'], pid: ['process_id'] } },
  { name: 'splunk', when: ['_raw'], fields: { raw: ['_raw'], time: ['_time'], host: ['host'], app: [], pid: [] } },
  { name: 'message', when: ['message'], fields: { raw: ['message'], time: ['timestamp', '@timestamp'], host: ['host', 'hostname'], app: [], pid: [] } },
];

/**
 * The layout of a JSON-lines export, from its first record and the `--field` choices.
 * @throws BridgeError ERR_INPUT_FORMAT when no field holds the text and none was named.
 */
export function jsonLayout(first: Record<string, unknown>, overrides: FieldNames, file: string, line: number): ExportLayout {
  const known = JSON_LAYOUTS.find((l) => l.when.every((path) => lookup(first, path) !== undefined));
  if (known === undefined && !overrides.raw) {
    const keys = Object.keys(first).slice(0, 12).join(', ');
    throw new BridgeError(
      'ERR_INPUT_FORMAT',
      `${shown(file)}:${line}: a JSON record without a known text field (message, MESSAGE, _raw, result._raw); its fields: ${keys || 'none'}. Name the field that holds the syslog text with --field raw=NAME (and time=, host= as needed).`,
      { file, line },
    );
  }
  return withOverrides(known?.name ?? 'custom', known?.fields ?? { raw: [], time: [], host: [], app: [], pid: [] }, overrides);
}

/**
 * The layout of a CSV export from its header (Splunk's column names unless `--field` says otherwise).
 * @throws BridgeError ERR_INPUT_FORMAT when the text column is not in the header.
 */
export function csvLayout(header: readonly string[], overrides: FieldNames, file: string): ExportLayout {
  const layout = withOverrides('splunk', { raw: ['_raw'], time: ['_time'], host: ['host'], app: [], pid: [] }, overrides);
  if (!layout.fields.raw.some((name) => header.includes(name))) {
    throw new BridgeError(
      'ERR_INPUT_FORMAT',
      `${shown(file)}:1: the CSV header has no column ${layout.fields.raw.join(' or ') || '(none named)'} for the syslog text; its columns: ${header.slice(0, 12).join(', ')}. Name it with --field raw=COLUMN.`,
      { file, line: 1 },
    );
  }
  return layout;
}

function withOverrides(name: LayoutName, fields: Record<FieldRole, readonly string[]>, overrides: FieldNames): ExportLayout {
  const out = { ...fields };
  let changed = false;
  for (const [role, value] of Object.entries(overrides) as Array<[FieldRole, string | undefined]>) {
    if (value === undefined) continue;
    out[role] = value === '' ? [] : [value];
    changed = true;
  }
  return { name: changed && name === 'message' ? 'custom' : name, fields: out };
}

/**
 * A field of a parsed JSON record by name: the key itself (`host.name` as one flat key), else the
 * dotted path through nested objects (`{"host": {"name": ...}}`), mixed forms too. Own properties
 * only (a record naming `__proto__` or `constructor` reads as data, never as the prototype).
 */
export function lookup(record: unknown, path: string): unknown {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return undefined;
  const obj = record as Record<string, unknown>;
  if (Object.hasOwn(obj, path)) return obj[path];
  for (let dot = path.indexOf('.'); dot > 0; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot);
    if (!Object.hasOwn(obj, head)) continue;
    const found = lookup(obj[head], path.slice(dot + 1));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The first of `paths` present in a record. */
export function firstOf(record: unknown, paths: readonly string[]): unknown {
  for (const path of paths) {
    const v = lookup(record, path);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/**
 * The syslog text of a field: a string (JSON escapes already decoded), or journald's list of byte
 * values (what `journalctl -o json` writes for a message that is not valid UTF-8 or holds control
 * characters). Trailing LF, CR and NUL are framing and go, as they do live; any inside stay, so the
 * patterns' control-character check refuses the line as it would live (one line, never two).
 * 'bad' for any other value.
 */
export function textOf(value: unknown): Buffer | 'bad' {
  let bytes: Buffer;
  if (typeof value === 'string') {
    bytes = Buffer.from(value, 'utf8');
  } else if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)) {
    bytes = Buffer.from(value as number[]);
  } else {
    return 'bad';
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x00)) end--;
  return end === bytes.length ? bytes : bytes.subarray(0, end);
}

// `2026-03-14T09:02:11.123Z`, `2026-03-14 09:02:11,123 +01:00`, `2026-03-14 09:02:11.123 CET`, zone-less.
const RECORD_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))? ?(Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{2,5})?$/;

/**
 * An export's time value in ms since the epoch: epoch numbers (seconds, ms, us or ns, told apart
 * by size; also as digit strings: journald's `__REALTIME_TIMESTAMP` is us), ISO 8601 with or
 * without `T` and offset. A time without an offset (or with an abbreviation such as CET, which names
 * no zone for sure) is read in `zone`. Undefined for anything else.
 */
export function recordTime(value: unknown, zone: ZoneClock | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? epochMs(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (/^\d{1,19}(?:\.\d+)?$/.test(v)) return epochMs(Number(v));
  const m = RECORD_TIME.exec(v);
  if (!m) return undefined;
  const clock = m[2]!.length === 5 ? `${m[2]}:00` : m[2]!;
  const frac = (m[3] ?? '').padEnd(3, '0').slice(0, 3);
  const zoneText = m[4];
  const upper = zoneText?.toUpperCase();
  if (zoneText === 'Z' || zoneText?.startsWith('+') || zoneText?.startsWith('-')) {
    const offset = zoneText === 'Z' ? 'Z' : zoneText.length === 3 ? `${zoneText}:00` : zoneText.includes(':') ? zoneText : `${zoneText.slice(0, 3)}:${zoneText.slice(3)}`;
    return finite(Date.parse(`${m[1]}T${clock}.${frac}${offset}`));
  }
  const reading = Date.parse(`${m[1]}T${clock}.${frac}Z`);
  if (!Number.isFinite(reading)) return undefined;
  if (upper === 'UTC' || upper === 'GMT' || upper === 'UT') return reading;
  return zone === undefined ? reading : zone.toUtc(reading);
}

function epochMs(n: number): number | undefined {
  if (!(n > 0)) return undefined;
  if (n < 1e11) return Math.round(n * 1000);
  if (n < 1e14) return Math.round(n);
  if (n < 1e17) return Math.floor(n / 1000);
  return Math.floor(n / 1e6);
}

function finite(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}

/** A host name as a syslog header would carry it (no blanks, no control characters), or undefined. */
export function hostOf(value: unknown): string | undefined {
  const v = typeof value === 'number' ? String(value) : value;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  // eslint-disable-next-line no-control-regex
  return t.length > 0 && t.length <= 255 && !/[\s\u0000-\u001f\u007f]/.test(t) ? t : undefined;
}

/**
 * A daemon name from an export. One that could not stand in a syslog header is not dropped (that
 * would let `logger -t "ike d"` slip past the foreign-daemon check) but made header-safe, so it
 * still names a daemon other than iked or kmd.
 */
export function appOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  // eslint-disable-next-line no-control-regex
  const safe = value.replace(/[\s[\]:\u0000-\u001f\u007f]/g, '_').slice(0, 64);
  return safe === '' ? undefined : safe;
}

export function pidOf(value: unknown): string | undefined {
  const v = typeof value === 'number' ? String(value) : value;
  return typeof v === 'string' && /^[^\]\s]{1,32}$/.test(v) ? v : undefined;
}

/** Problems with single records: counted, the first few kept with file:line. */
export interface RecordCounts {
  /** Records read (JSON lines, CSV rows after the header). */
  read: number;
  /** Records without the text field (journald has entries with no MESSAGE): nothing to read. */
  noText: number;
  /** Records whose time field could not be read: the line's own time was used. */
  badTime: number;
  /** Lines that are not JSON objects, CSV rows with broken quoting, text fields that are not text. */
  malformed: number;
  /** The first problems, as `file:line: what`. */
  examples: string[];
}

export function emptyRecordCounts(): RecordCounts {
  return { read: 0, noText: 0, badTime: 0, malformed: 0, examples: [] };
}

/** Reads the fields of one record (JSON object or CSV row, through `get`) into what the pipeline takes. */
export function recordFields(
  layout: ExportLayout,
  get: (name: string) => unknown,
  zones: ZoneResolver | undefined,
): { text: Buffer | 'bad' | undefined; recorded: RecordedFields; timeValue: unknown; badTime: boolean } {
  const pick = (role: FieldRole): unknown => {
    for (const name of layout.fields[role]) {
      const v = get(name);
      if (v !== undefined && v !== null && v !== '') return v;
    }
    return undefined;
  };
  const rawValue = pick('raw');
  const text = rawValue === undefined ? undefined : textOf(rawValue);
  const recorded: RecordedFields = {};
  const host = hostOf(pick('host'));
  if (host !== undefined) recorded.host = host;
  const app = appOf(pick('app'));
  if (app !== undefined) recorded.app = app;
  const pid = pidOf(pick('pid'));
  if (pid !== undefined) recorded.pid = pid;
  const timeValue = pick('time');
  let badTime = false;
  if (timeValue !== undefined) {
    const t = recordTime(timeValue, zones?.zoneFor(host));
    if (t === undefined) badTime = true;
    else recorded.time = t;
  }
  return { text, recorded, timeValue, badTime };
}

function shown(file: string): string {
  return file === '-' ? 'standard input' : file;
}
