import type { DefinitionTable } from './compile.js';
import { xregexp } from '../lazy-deps.js';

/** Where a rule's regex stopped matching a text: the tuning bench's answer to "why no match?". */
export interface MissExplanation {
  /** Lines of the rule's regex (1-based, within the regex text) that did not match, first to last. */
  fromRegexLine: number;
  toRegexLine: number;
  /** The same place in the pattern file (block scalars start on the line after `regex: |`). */
  fileLine: number;
  /** The regex text of those lines, trimmed. */
  regexText: string;
  /** Offset in the text where the part of the regex that did match ended (0: nothing matched). */
  offset: number;
}

/**
 * Explains why a rule's regex does not match a text, by matching ever longer prefixes of the regex
 * (line by line, as the free-spacing layout puts one field per line) and reporting the first lines
 * that fail and how far into the text the rest got. Prefixes that do not compile on their own (a
 * group opened on one line and closed on a later one) are extended until they do.
 * Returns undefined when the whole regex matches or the regex is a single line. Never throws.
 */
export function explainMiss(
  rule: { source: string; regexLine: number },
  text: string,
  definitions: DefinitionTable,
): MissExplanation | undefined {
  const lines = rule.source.split('\n');
  if (lines.length < 2) return undefined;
  const firstFileLine = rule.regexLine + 1;
  let good = 0;
  let offset = 0;
  for (let k = 1; k <= lines.length; k++) {
    const prefix = lines.slice(0, k).join('\n');
    if (prefix.trim() === '' || isCommentOnly(lines[k - 1]!)) {
      if (good === k - 1) good = k;
      continue;
    }
    let regex: RegExp;
    try {
      // Anchored at the start as the rule itself is (compile.ts `anchored`).
      regex = xregexp().build(`^\n${prefix}`, definitions.subpatternsFor(prefix, { file: '', line: 0 }), 'x');
    } catch {
      continue;
    }
    const m = RegExp.prototype.exec.call(regex, text);
    if (m) {
      good = k;
      offset = m.index + m[0].length;
      continue;
    }
    // Trailing comments are for the file, not for the report; an escaped \# stays.
    const failed = lines.slice(good, k).map((l) => l.replace(/(^|[^\\])#.*$/, '$1').trim()).filter((l) => l !== '');
    const first = lines.slice(good, k).findIndex((l) => l.trim() !== '' && !isCommentOnly(l));
    return {
      fromRegexLine: good + 1 + Math.max(0, first),
      toRegexLine: k,
      fileLine: firstFileLine + good + Math.max(0, first),
      regexText: failed.join(' '),
      offset,
    };
  }
  return undefined;
}

function isCommentOnly(line: string): boolean {
  return line.trim().startsWith('#');
}

/** A short view of the text around an offset: `...before|after...`, quoted for a terminal. */
export function around(text: string, offset: number, width = 40): string {
  const before = text.slice(Math.max(0, offset - width), offset);
  const after = text.slice(offset, offset + width);
  const q = (s: string): string => JSON.stringify(s).slice(1, -1);
  return `${offset > width ? '...' : ''}${q(before)}|${q(after)}${offset + width < text.length ? '...' : ''}`;
}
