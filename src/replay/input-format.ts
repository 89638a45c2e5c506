import { BridgeError } from '../errors.js';
import { parseEnvelope } from '../ingest/envelope.js';
import { isPacketCapture } from './pcap.js';

/**
 * What a capture is, decided from its first bytes (after decompression) or by `--format`:
 *
 * - `pcap`: pcap or pcapng (magic number);
 * - `json`: JSON lines (the first non-blank byte is `{`): Elastic/Filebeat, Graylog, `journalctl -o
 *   json`, Splunk's JSON export, or any other with `--field raw=NAME`;
 * - `csv`: a CSV export whose header names a text column (Splunk's `_raw`, or `--field raw=NAME`);
 * - `syslog`: text lines in any syslog form, `journalctl -o short-full` / `short-unix` included.
 *
 * Anything else is refused with ERR_INPUT_FORMAT: binary data (with a hint when its magic number
 * is a known kind: zip, a journald file, SQLite, UTF-16 text, ...), or text where none of the first
 * lines looks like syslog. A replay that reads nothing must say so, not print "0 events".
 */
export type InputFormat = 'auto' | 'syslog' | 'json' | 'csv' | 'pcap';
export type DetectedFormat = Exclude<InputFormat, 'auto'>;

export const INPUT_FORMATS: readonly InputFormat[] = ['auto', 'syslog', 'json', 'csv', 'pcap'];

/** The roles an export's fields play; each names a field (JSON: a dotted path, `host.name`). */
export type FieldRole = 'raw' | 'time' | 'host' | 'app' | 'pid';
export const FIELD_ROLES: readonly FieldRole[] = ['raw', 'time', 'host', 'app', 'pid'];

/** `--field role=NAME` choices; an empty name turns the role off (`--field time=`: the line's own time). */
export type FieldNames = Partial<Record<FieldRole, string>>;

/**
 * Parses one `--field` value (`raw=message`, `host=host.hostname`, `time=`).
 * @throws BridgeError ERR_USAGE naming what was expected.
 */
export function parseFieldOption(spec: string, previous: FieldNames = {}): FieldNames {
  const eq = spec.indexOf('=');
  const role = (eq < 0 ? spec : spec.slice(0, eq)).trim();
  if (eq < 0 || !(FIELD_ROLES as readonly string[]).includes(role)) {
    throw new BridgeError('ERR_USAGE', `Expected --field as ROLE=NAME with ROLE one of ${FIELD_ROLES.join(', ')} (e.g. --field raw=message --field host=host.hostname), got ${JSON.stringify(spec)}.`);
  }
  return { ...previous, [role]: spec.slice(eq + 1).trim() };
}

/**
 * Parses `--format`.
 * @throws BridgeError ERR_USAGE.
 */
export function parseFormatOption(value: string): InputFormat {
  if ((INPUT_FORMATS as readonly string[]).includes(value)) return value as InputFormat;
  throw new BridgeError('ERR_USAGE', `Expected --format one of ${INPUT_FORMATS.join(', ')}, got ${JSON.stringify(value)}.`);
}

/** Lines of the head looked at to tell syslog text from anything else. */
const SAMPLE_LINES = 64;

/**
 * The format of a capture from its first bytes (at most one read chunk).
 * @throws BridgeError ERR_INPUT_FORMAT for binary or unknown input, naming the file and what it looks like.
 */
export function detectFormat(head: Buffer, file: string, fields: FieldNames = {}): DetectedFormat {
  if (isPacketCapture(head)) return 'pcap';
  const binary = binaryKind(head);
  if (binary !== undefined) {
    throw new BridgeError('ERR_INPUT_FORMAT', `${shown(file)} is not a capture the bridge can read: ${binary}`, { file });
  }
  const text = head.toString('utf8', 0, Math.min(head.length, 256 * 1024));
  const start = text.search(/\S/);
  if (start < 0) return 'syslog'; // empty or blank: nothing to read, and nothing wrong
  if (text[start] === '{') return 'json';
  if (text[start] === '[') {
    throw new BridgeError('ERR_INPUT_FORMAT', `${shown(file)} is one JSON document (an array), not JSON lines: make it one record per line, e.g. jq -c '.[]' ${shown(file)} | ptim-bridge replay --dry-run -`, { file, line: 1 });
  }
  const lines = text.slice(start).split('\n').slice(0, SAMPLE_LINES + 1);
  // The last piece may be cut by the chunk: judge it only when it is all there is.
  if (lines.length > 1 && !text.endsWith('\n')) lines.pop();
  const firstLine = lines[0]!.replace(/\r$/, '');
  if (looksLikeCsvHeader(firstLine, fields.raw)) return 'csv';
  // Blank lines and `#` comments (hand-kept captures have them) say nothing either way.
  const sample = lines.filter((l) => l.trim() !== '' && !l.startsWith('#')).slice(0, SAMPLE_LINES);
  const now = Date.now();
  if (sample.length === 0 || sample.some((l) => looksLikeSyslog(l.replace(/\r$/, ''), now))) return 'syslog';
  const lineNo = text.slice(0, start).split('\n').length;
  throw new BridgeError(
    'ERR_INPUT_FORMAT',
    `${shown(file)}:${lineNo}: ${sample.length === 1 ? 'its one line does not look' : `none of the first ${sample.length} lines looks`} like syslog (a time, a host and daemon, or a Junos TAG:), nor like JSON lines, CSV with a _raw column, or pcap. First line: ${JSON.stringify(firstLine.slice(0, 120))}. If it is syslog after all, read it with --format syslog; a CSV export with another text column: --format csv --field raw=COLUMN.`,
    { file, line: lineNo },
  );
}

/** A header row that names the text column (`_raw`, or `--field raw`). */
function looksLikeCsvHeader(line: string, raw: string | undefined): boolean {
  if (!line.includes(',')) return false;
  const names = line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  return names.includes(raw || '_raw');
}

function looksLikeSyslog(line: string, now: number): boolean {
  const env = parseEnvelope(line, now);
  return env.format !== 'bare' || env.tag !== undefined;
}

/**
 * What a binary head is, as a sentence with what to do, or undefined for text. Text may hold some
 * garbage bytes (kmd writes them into IKE ids) but not many control characters.
 */
function binaryKind(head: Buffer): string | undefined {
  const starts = (magic: string | readonly number[]) => {
    const bytes = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : Buffer.from(magic);
    return head.length >= bytes.length && head.subarray(0, bytes.length).equals(bytes);
  };
  if (starts('LPKSHHRH')) return 'it is a systemd journal file. Export it first: journalctl --file FILE -o json | ptim-bridge replay --dry-run - (or -o short-full).';
  if (starts('PK\u0003\u0004')) return 'it is a zip archive. Unpack it (unzip) and replay the files inside.';
  if (starts([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return 'it is a 7-Zip archive. Unpack it (7z x) and replay the files inside.';
  if (starts([0x04, 0x22, 0x4d, 0x18])) return 'it is lz4-compressed. Decompress it: lz4 -dc FILE | ptim-bridge replay --dry-run -';
  if (starts('SQLite format 3\u0000')) return 'it is an SQLite database (a state file?). Replay reads syslog captures; `ptim-bridge sessions --state FILE` reads state files.';
  if (starts('ustar') || (head.length > 262 && head.toString('latin1', 257, 262) === 'ustar')) return 'it is a tar archive. Unpack it (tar xf) and replay the files inside.';
  if (starts([0xff, 0xfe]) || starts([0xfe, 0xff])) return 'it is UTF-16 text. Convert it: iconv -f UTF-16 -t UTF-8 FILE | ptim-bridge replay --dry-run -';
  if (starts('\u007fELF')) return 'it is a program (ELF), not a capture.';
  const n = Math.min(head.length, 64 * 1024);
  if (n === 0) return undefined;
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    // Tab, LF, VT, FF, CR and ESC occur in text; the other C0 bytes and DEL hardly ever.
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0b && b !== 0x0c && b !== 0x0d && b !== 0x1b) || b === 0x7f) control++;
  }
  // Random or compressed bytes have ~10 % of these; a log with kmd garbage in some lines far fewer.
  if (control > Math.max(4, n * 0.05)) {
    return `${control} of its first ${n} bytes are control characters: it is binary data (compressed in a format other than gzip, xz, bzip2 or zstd, or not a log at all).`;
  }
  return undefined;
}

function shown(file: string): string {
  return file === '-' ? 'standard input' : file;
}
