import { BridgeError } from '../errors.js';
import type { ZoneResolver } from '../ingest/time-zone.js';
import type { RecordedFields } from '../flow/pipeline-records.js';
import { emptyRecordCounts, jsonLayout, lookup, recordFields, type ExportLayout, type RecordCounts } from './export-records.js';
import type { FieldNames } from './input-format.js';
import { ChunkScanner } from './scan-chunk.js';

/**
 * JSON-lines exports (one JSON object per line: Elastic/Filebeat, Graylog, `journalctl -o json`,
 * Splunk JSON). The layout comes from the first record (src/replay/export-records.ts).
 *
 * The fast path holds as for text (DESIGN.md §7): a line is JSON-parsed only when its raw bytes
 * hold a pattern literal (or journald's byte-list form of the text field, which hides the text);
 * the rest are counted as records unread. Encoders write ASCII letters as they are, so a literal is
 * never hidden by an escape in a genuine export.
 */
export interface ExportRecord {
  text: Buffer;
  recorded: RecordedFields;
  lineNo: number;
}

export class JsonLinesReader {
  readonly records: RecordCounts = emptyRecordCounts();
  readonly #file: string;
  readonly #fields: FieldNames;
  readonly #zones: ZoneResolver | undefined;
  readonly #literals: readonly string[];
  readonly #maxLineBytes: number;
  readonly #maxExamples: number;
  readonly #onRecord: (r: ExportRecord) => void;
  #scanner: ChunkScanner | undefined;
  #layout: ExportLayout | undefined;
  #head: Buffer[] = [];
  #headBytes = 0;

  constructor(options: {
    file: string;
    fields: FieldNames;
    zones: ZoneResolver | undefined;
    literals: readonly string[];
    maxLineBytes: number;
    maxExamples: number;
    onRecord: (r: ExportRecord) => void;
  }) {
    this.#file = options.file;
    this.#fields = options.fields;
    this.#zones = options.zones;
    this.#literals = options.literals;
    this.#maxLineBytes = options.maxLineBytes;
    this.#maxExamples = options.maxExamples;
    this.#onRecord = options.onRecord;
  }

  /** The layout found in the first record (undefined before the first chunk). */
  get layout(): ExportLayout | undefined {
    return this.#layout;
  }

  /** Lines seen, lines parsed, lines over the limit. */
  get counts(): ChunkScanner['counts'] {
    return this.#scanner?.counts ?? { lines: 0, hits: 0, oversized: 0 };
  }

  /**
   * One chunk, in order. The first decides the layout.
   * @throws BridgeError ERR_INPUT_FORMAT when the first record is not a JSON object or holds no known text field.
   */
  push(chunk: Buffer): void {
    if (this.#scanner !== undefined) {
      this.#scanner.push(chunk);
      return;
    }
    // The layout needs the whole first record: hold chunks until it is there.
    this.#head.push(Buffer.from(chunk));
    this.#headBytes += chunk.length;
    const head = Buffer.concat(this.#head);
    if (!hasFirstLine(head) && this.#headBytes <= this.#maxLineBytes) return;
    this.#head = [];
    this.#start(head);
    this.#scanner!.push(head);
  }

  end(): void {
    if (this.#scanner === undefined && this.#headBytes > 0) {
      const head = Buffer.concat(this.#head);
      this.#head = [];
      this.#start(head);
      this.#scanner!.push(head);
    }
    this.#scanner?.end();
    this.records.read = this.counts.lines;
  }

  #start(head: Buffer): void {
    const { record, lineNo } = firstRecord(head, this.#file);
    this.#layout = jsonLayout(record, this.#fields, this.#file, lineNo);
    const literals = new Set<string>();
    for (const l of this.#literals) {
      literals.add(l);
      literals.add(JSON.stringify(l).slice(1, -1));
    }
    // journald writes a text that is not clean UTF-8 as a list of byte values: no literal shows.
    for (const name of this.#layout.fields.raw) {
      const key = JSON.stringify(name.split('.').at(-1));
      literals.add(`${key}:[`);
      literals.add(`${key} : [`); // older journalctl spaced its JSON
    }
    this.#scanner = new ChunkScanner([...literals], (line, n) => this.#line(line, n), { maxLineBytes: this.#maxLineBytes });
  }

  #line(line: Buffer, lineNo: number): void {
    let record: unknown;
    try {
      record = JSON.parse(line.toString('utf8'));
    } catch (error) {
      return this.#problem('malformed', lineNo, `not JSON (${(error as Error).message})`);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return this.#problem('malformed', lineNo, 'not a JSON object');
    const { text, recorded, timeValue, badTime } = recordFields(this.#layout!, (name) => lookup(record, name), this.#zones);
    if (text === undefined) {
      this.records.noText++;
      return;
    }
    if (text === 'bad') return this.#problem('malformed', lineNo, `the text field (${this.#layout!.fields.raw.join(' or ')}) is neither a string nor a list of bytes`);
    if (badTime) this.#problem('badTime', lineNo, `time ${JSON.stringify(timeValue)} is not a time; the line's own time is used`);
    this.#onRecord({ text, recorded, lineNo });
  }

  #problem(kind: 'malformed' | 'badTime', lineNo: number, what: string): void {
    this.records[kind]++;
    if (this.records.examples.length < this.#maxExamples) this.records.examples.push(`${this.#file === '-' ? 'stdin' : this.#file}:${lineNo}: ${what}`);
  }
}

/** True when the head holds a non-blank line ended by LF. */
function hasFirstLine(head: Buffer): boolean {
  for (let pos = 0, lf = head.indexOf(0x0a); lf >= 0; pos = lf + 1, lf = head.indexOf(0x0a, pos)) {
    if (head.toString('utf8', pos, lf).trim() !== '') return true;
  }
  return false;
}

/** The first non-blank line of the head, parsed. */
function firstRecord(head: Buffer, file: string): { record: Record<string, unknown>; lineNo: number } {
  let pos = 0;
  let lineNo = 1;
  for (;;) {
    const lf = head.indexOf(0x0a, pos);
    const end = lf < 0 ? head.length : lf;
    const text = head.toString('utf8', pos, end).trim();
    if (text !== '') {
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (error) {
        throw formatError(file, lineNo, `starts like JSON lines, but its first record is not JSON (${(error as Error).message})${lf < 0 ? '; if the record goes on past the first 1 MiB, it is too long for a log line' : ''}`);
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) throw formatError(file, lineNo, 'starts like JSON lines, but its first record is not a JSON object');
      return { record: record as Record<string, unknown>, lineNo };
    }
    if (lf < 0) throw formatError(file, lineNo, 'holds no JSON record');
    pos = lf + 1;
    lineNo++;
  }
}

function formatError(file: string, line: number, what: string): BridgeError {
  return new BridgeError('ERR_INPUT_FORMAT', `${file === '-' ? 'standard input' : file}:${line}: ${what}.`, { file, line });
}
