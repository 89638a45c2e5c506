import { LiteralFinder } from '../flow/literal-anchors.js';
import type { ZoneResolver } from '../ingest/time-zone.js';
import { csvLayout, emptyRecordCounts, recordFields, type ExportLayout, type RecordCounts } from './export-records.js';
import type { FieldNames } from './input-format.js';
import type { ExportRecord } from './json-lines.js';

/**
 * CSV exports (Splunk's `_raw`, `_time`, `host` columns, or others named with `--field`), read as
 * RFC 4180: fields separated by commas, records by CRLF or LF, a field in double quotes may hold
 * commas, line breaks and `""` for a quote. A record is one syslog line even when its text holds a
 * line break: the break then reaches the patterns' control-character check, as a line break inside
 * a message would live; it never splits the text into two messages.
 *
 * Only the columns the layout names are kept, and a record's fields are read only when its text
 * holds a pattern literal. A row with broken quoting (a quote inside an unquoted field, text after a
 * closing quote, a quote never closed) is counted as malformed with its line, not read.
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

export class CsvReader {
  readonly records: RecordCounts = emptyRecordCounts();
  /** Physical lines seen, records whose text held a literal, records over the size limit. */
  readonly counts = { lines: 0, hits: 0, oversized: 0 };
  readonly #file: string;
  readonly #fields: FieldNames;
  readonly #zones: ZoneResolver | undefined;
  readonly #finder: LiteralFinder;
  readonly #maxRecordBytes: number;
  readonly #maxExamples: number;
  readonly #onRecord: (r: ExportRecord) => void;
  #layout: ExportLayout | undefined;
  #header: string[] | undefined;
  /** Column index -> name, for the columns the layout reads. */
  #wanted = new Map<number, string>();
  #rawColumns = new Set<number>();

  // Parser state.
  #inQuotes = false;
  /** A quote ended the previous chunk inside a quoted field: `""` or the closing quote? */
  #quoteAtEnd = false;
  #afterQuote = false;
  #fieldStarted = false;
  #column = 0;
  #pieces: Buffer[] = [];
  #values = new Map<number, Buffer>();
  #recordBytes = 0;
  #recordLine = 1;
  #line = 1;
  #malformed: string | undefined;
  #oversized = false;

  constructor(options: {
    file: string;
    fields: FieldNames;
    zones: ZoneResolver | undefined;
    literals: readonly string[];
    maxRecordBytes: number;
    maxExamples: number;
    onRecord: (r: ExportRecord) => void;
  }) {
    this.#file = options.file;
    this.#fields = options.fields;
    this.#zones = options.zones;
    this.#finder = new LiteralFinder(options.literals);
    this.#maxRecordBytes = options.maxRecordBytes;
    this.#maxExamples = options.maxExamples;
    this.#onRecord = options.onRecord;
  }

  get layout(): ExportLayout | undefined {
    return this.#layout;
  }

  /**
   * One chunk, in order.
   * @throws BridgeError ERR_INPUT_FORMAT when the header has no text column.
   */
  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    if (this.#quoteAtEnd && n > 0) {
      this.#quoteAtEnd = false;
      if (chunk[0] === QUOTE) {
        this.#append(chunk.subarray(0, 1));
        i = 1;
      } else {
        this.#inQuotes = false;
        this.#afterQuote = true;
      }
    }
    while (i < n) {
      if (this.#inQuotes) {
        const q = chunk.indexOf(QUOTE, i);
        const stop = q < 0 ? n : q;
        this.#append(chunk.subarray(i, stop));
        this.#countLines(chunk, i, stop);
        if (q < 0) return;
        if (q + 1 >= n) {
          this.#quoteAtEnd = true;
          return;
        }
        if (chunk[q + 1] === QUOTE) {
          this.#append(chunk.subarray(q, q + 1));
          i = q + 2;
        } else {
          this.#inQuotes = false;
          this.#afterQuote = true;
          i = q + 1;
        }
        continue;
      }
      const b = chunk[i]!;
      if (b === COMMA) {
        this.#endField();
        i++;
      } else if (b === LF) {
        this.#endField();
        this.#endRecord();
        this.#line++;
        this.counts.lines++;
        this.#recordLine = this.#line;
        i++;
      } else if (b === CR) {
        i++; // CRLF; a CR alone outside quotes ends nothing
      } else if (b === QUOTE) {
        if (!this.#fieldStarted && !this.#afterQuote) {
          this.#inQuotes = true;
          this.#fieldStarted = true;
        } else {
          this.#malformed ??= 'a quote inside an unquoted field';
        }
        i++;
      } else {
        let j = i + 1;
        while (j < n) {
          const c = chunk[j]!;
          if (c === COMMA || c === LF || c === CR || c === QUOTE) break;
          j++;
        }
        if (this.#afterQuote) this.#malformed ??= 'text after the closing quote of a field';
        this.#fieldStarted = true;
        this.#append(chunk.subarray(i, j));
        i = j;
      }
    }
  }

  /** The input ended: a last row without a line break counts; an open quote is malformed. */
  end(): void {
    if (this.#quoteAtEnd) {
      this.#quoteAtEnd = false;
      this.#inQuotes = false;
      this.#afterQuote = true;
    }
    if (this.#inQuotes) {
      this.#malformed ??= `a quoted field opened on line ${this.#recordLine} is never closed`;
      this.#inQuotes = false;
    }
    if (this.#column > 0 || this.#fieldStarted || this.#afterQuote || this.#malformed !== undefined) {
      this.#endField();
      this.#endRecord();
      this.counts.lines++;
    }
  }

  #countLines(chunk: Buffer, from: number, to: number): void {
    for (let p = chunk.indexOf(LF, from); p >= 0 && p < to; p = chunk.indexOf(LF, p + 1)) {
      this.#line++;
      this.counts.lines++;
    }
  }

  #append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#recordBytes += bytes.length;
    if (this.#recordBytes > this.#maxRecordBytes) {
      this.#oversized = true;
      this.#pieces = [];
      return;
    }
    // Only the columns read are kept (copied: the chunk's memory may be reused); before the header, all.
    if (this.#header === undefined || this.#wanted.has(this.#column)) this.#pieces.push(Buffer.from(bytes));
  }

  #endField(): void {
    if (!this.#oversized && (this.#header === undefined || this.#wanted.has(this.#column))) {
      this.#values.set(this.#column, this.#pieces.length === 1 ? this.#pieces[0]! : Buffer.concat(this.#pieces));
    }
    this.#pieces = [];
    this.#column++;
    this.#fieldStarted = false;
    this.#afterQuote = false;
  }

  #endRecord(): void {
    const values = this.#values;
    const columns = this.#column;
    const malformed = this.#malformed;
    const oversized = this.#oversized;
    const lineNo = this.#recordLine;
    this.#values = new Map();
    this.#column = 0;
    this.#recordBytes = 0;
    this.#malformed = undefined;
    this.#oversized = false;
    // A blank line is no record.
    if (columns === 1 && (values.get(0)?.length ?? 0) === 0 && malformed === undefined && !oversized) return;
    if (this.#header === undefined) {
      this.#takeHeader([...Array(columns).keys()].map((c) => (values.get(c) ?? Buffer.alloc(0)).toString('utf8').trim()));
      return;
    }
    this.records.read++;
    if (oversized) {
      this.counts.oversized++;
      return;
    }
    if (malformed !== undefined) return this.#problem('malformed', lineNo, malformed);
    let hit = false;
    for (const c of this.#rawColumns) {
      const v = values.get(c);
      if (v !== undefined && this.#finder.holds(v)) hit = true;
    }
    if (!hit) {
      if (![...this.#rawColumns].some((c) => (values.get(c)?.length ?? 0) > 0)) this.records.noText++;
      return;
    }
    this.counts.hits++;
    const { text, recorded, timeValue, badTime } = recordFields(this.#layout!, (name) => {
      const c = this.#header!.indexOf(name);
      const v = c < 0 ? undefined : values.get(c);
      return v === undefined ? undefined : v.toString('utf8');
    }, this.#zones);
    if (text === undefined || text === 'bad') {
      this.records.noText++;
      return;
    }
    if (badTime) this.#problem('badTime', lineNo, `time ${JSON.stringify(timeValue)} is not a time; the line's own time is used`);
    this.#onRecord({ text, recorded, lineNo });
  }

  #takeHeader(names: string[]): void {
    this.#header = names;
    this.#layout = csvLayout(names, this.#fields, this.#file);
    for (const list of Object.values(this.#layout.fields)) {
      for (const name of list) {
        const c = names.indexOf(name);
        if (c >= 0) this.#wanted.set(c, name);
      }
    }
    for (const name of this.#layout.fields.raw) {
      const c = names.indexOf(name);
      if (c >= 0) this.#rawColumns.add(c);
    }
  }

  #problem(kind: 'malformed' | 'badTime', lineNo: number, what: string): void {
    this.records[kind]++;
    if (this.records.examples.length < this.#maxExamples) this.records.examples.push(`${this.#file === '-' ? 'stdin' : this.#file}:${lineNo}: ${what}`);
  }
}
