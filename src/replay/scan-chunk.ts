import { LiteralFinder } from '../flow/literal-anchors.js';

/**
 * The fast path for captures (DESIGN.md §7): find the pattern literals in the raw bytes of a whole
 * read chunk with Buffer.indexOf, cut out only the lines around a hit, and count the rest by their
 * newlines. A noise line never becomes a JS string.
 */

const LF = 0x0a;
const CR = 0x0d;

export interface ScanCounts {
  /** Lines seen (a final line without LF counts once the input ends). */
  lines: number;
  /** Lines that contained at least one literal (handed to the callback). */
  hits: number;
  /** Lines longer than the limit, dropped without a look. */
  oversized: number;
}

/**
 * Stateful scanner over the chunks of one input. Feed chunks in order with `push`, then `end`.
 * `onHit` gets each line (without LF/CRLF) that contains a literal, in input order, with its line
 * number (1-based, for `file:line` in reports); the buffer is a view into the chunk, valid only
 * during the call (copy it to keep it).
 */
export class ChunkScanner {
  readonly #literals: readonly string[];
  readonly #maxLineBytes: number;
  readonly #onHit: (line: Buffer, lineNo: number) => void;
  // Bytes of the current unfinished line from earlier chunks.
  #carry: Buffer[] = [];
  #carryBytes = 0;
  // The current line overran the limit: drop bytes until its LF.
  #skipping = false;
  readonly counts: ScanCounts = { lines: 0, hits: 0, oversized: 0 };
  // The chunks are searched for its anchors, chosen from the first bytes scanned; a line holding one
  // is then checked for the literals themselves.
  #finder: LiteralFinder | undefined;
  // Per anchor: next known occurrence in the current chunk (-1 none left).
  #next: number[] = [];

  constructor(literals: readonly string[], onHit: (line: Buffer, lineNo: number) => void, options: { maxLineBytes?: number } = {}) {
    this.#literals = literals;
    this.#maxLineBytes = options.maxLineBytes ?? 64 * 1024;
    this.#onHit = onHit;
  }

  /** Scans one chunk. Never throws (the callback's own errors aside). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    let start = 0;
    if (this.#carryBytes > 0 || this.#skipping) {
      // Finish the line begun in an earlier chunk; it is the only line ever copied.
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        this.#hold(chunk);
        return;
      }
      this.#hold(chunk.subarray(0, lf));
      this.#finishCarried();
      start = lf + 1;
    }
    const lastLf = chunk.lastIndexOf(LF);
    if (lastLf < start) {
      this.#hold(chunk.subarray(start));
      return;
    }
    this.#scanLines(chunk, start, lastLf + 1);
    if (lastLf + 1 < chunk.length) this.#hold(chunk.subarray(lastLf + 1));
  }

  /** Ends the input: a last line without LF is scanned too. */
  end(): void {
    if (this.#carryBytes > 0 || this.#skipping) this.#finishCarried();
  }

  /** Complete lines in chunk[from, to) (to is just past an LF). */
  #scanLines(chunk: Buffer, from: number, to: number): void {
    // Lines are counted as the hits go (LFs up to each hit's line), then to the end: one pass.
    let lines = this.counts.lines;
    let counted = from;
    const finder = this.#finderFor(chunk.subarray(from, Math.min(to, from + SAMPLE_BYTES)));
    const anchors = finder.anchors;
    const next = this.#next;
    for (let i = 0; i < anchors.length; i++) next[i] = chunk.indexOf(anchors[i]!, from);
    let pos = from;
    for (;;) {
      // Earliest hit among the anchors, re-searching only those left behind by the last line.
      let hit = -1;
      for (let i = 0; i < anchors.length; i++) {
        let at = next[i]!;
        if (at >= 0 && at < pos) {
          at = chunk.indexOf(anchors[i]!, pos);
          next[i] = at;
        }
        if (at >= 0 && at < to && (hit < 0 || at < hit)) hit = at;
      }
      if (hit < 0) break;
      const lineStart = hit === 0 ? 0 : chunk.lastIndexOf(LF, hit - 1) + 1;
      const lf = chunk.indexOf(LF, hit);
      const lineEnd = lf < 0 || lf >= to ? to : lf;
      pos = lineEnd + 1;
      if (lineStart < from) continue; // cannot happen: from is a line start; kept as a guard
      const line = chunk.subarray(lineStart, lineEnd);
      // An anchor is only a piece of a literal: the line must hold a whole one.
      if (!finder.holdsLiteral(line)) continue;
      lines += countLf(chunk, counted, lineStart);
      counted = lineStart;
      this.#emit(line, lines + 1);
    }
    this.counts.lines = lines + countLf(chunk, counted, to);
  }

  #emit(line: Buffer, lineNo: number): void {
    let end = line.length;
    if (end > 0 && line[end - 1] === CR) end--;
    if (end > this.#maxLineBytes) {
      this.counts.oversized++;
      return;
    }
    this.counts.hits++;
    this.#onHit(end === line.length ? line : line.subarray(0, end), lineNo);
  }

  #hold(bytes: Buffer): void {
    if (this.#skipping) return;
    if (this.#carryBytes + bytes.length > this.#maxLineBytes + 1) {
      // Memory stays bounded: an endless line is dropped, not buffered.
      this.#skipping = true;
      this.#carry = [];
      this.#carryBytes = 0;
      return;
    }
    if (bytes.length === 0) return;
    // Copy: the caller may reuse the chunk's memory after push returns.
    this.#carry.push(Buffer.from(bytes));
    this.#carryBytes += bytes.length;
  }

  #finishCarried(): void {
    this.counts.lines++;
    if (this.#skipping) {
      this.#skipping = false;
      this.counts.oversized++;
      return;
    }
    const line = this.#carry.length === 1 ? this.#carry[0]! : Buffer.concat(this.#carry, this.#carryBytes);
    this.#carry = [];
    this.#carryBytes = 0;
    if (this.#finderFor(line).holdsLiteral(line)) this.#emit(line, this.counts.lines);
  }

  /** The finder, its anchors chosen from `sample` the first time: the first bytes the scanner sees. */
  #finderFor(sample: Buffer): LiteralFinder {
    return (this.#finder ??= new LiteralFinder(this.#literals, sample));
  }
}

/** Bytes of the first chunk whose byte counts choose the anchors. */
const SAMPLE_BYTES = 256 * 1024;

/** Number of LF bytes in buf[from, to). */
export function countLf(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let i = buf.indexOf(LF, from);
  while (i >= 0 && i < to) {
    n++;
    i = buf.indexOf(LF, i + 1);
  }
  return n;
}
