/**
 * `show configuration | display set` output, read into statements that keep their line numbers.
 *
 * What Junos prints there, and what this accepts:
 * - `set <path...> [value]` and `deactivate <path...>` (an inactive subtree); `activate`,
 *   `protect`, `unprotect` are read too (the last two change nothing here);
 * - values in double quotes when they hold spaces or specials (`"@ra.auth"`, `match "a|b"`), with
 *   `\"` and `\\` escaped inside; other backslashes are literal (`"corp\group"`);
 * - leaf lists as `[ a b c ]`, which become one statement per value (as `display set` on other
 *   releases prints them);
 * - a trailing `## SECRET-DATA` (or any ` ## ` comment) after the statement;
 * - around it: blank lines, `#` comments, `## Last commit: ...`, the CLI prompt
 *   (`user@srx> show configuration | display set`), `{primary:node0}` and `[edit]` banners.
 */

export type SetVerb = 'set' | 'deactivate' | 'activate' | 'protect' | 'unprotect' | 'delete';

export interface SetStatement {
  /** 1-based line number in the input. */
  readonly line: number;
  readonly verb: SetVerb;
  /** The words after the verb, unquoted. */
  readonly words: readonly string[];
}

export interface SkippedLine {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

export interface ParsedSetLines {
  readonly statements: readonly SetStatement[];
  /** Lines that are neither statements nor the known decoration around them. */
  readonly skipped: readonly SkippedLine[];
  /** How many lines look like the curly-brace form (`security {`, `}`): the wrong command's output. */
  readonly curlyLines: number;
}

const VERBS: ReadonlySet<string> = new Set<SetVerb>(['set', 'deactivate', 'activate', 'protect', 'unprotect', 'delete']);

/**
 * Reads `display set` text. Never throws: a line it cannot read is returned in `skipped` with why.
 * CRLF and a UTF-8 BOM are accepted.
 */
export function parseSetLines(text: string): ParsedSetLines {
  const statements: SetStatement[] = [];
  const skipped: SkippedLine[] = [];
  let curlyLines = 0;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || isDecoration(trimmed)) return;
    if (/[{;]$/.test(trimmed) || trimmed === '}') {
      curlyLines += 1;
      skipped.push({ line, text: trimmed, reason: 'curly-brace configuration, not `display set` form' });
      return;
    }
    const tokens = tokenize(trimmed);
    if (typeof tokens === 'string') {
      skipped.push({ line, text: trimmed, reason: tokens });
      return;
    }
    const [verb, ...rest] = tokens;
    if (verb === undefined || !VERBS.has(verb.word) || verb.quoted) {
      skipped.push({ line, text: trimmed, reason: 'not a set statement' });
      return;
    }
    for (const words of expandLists(rest)) {
      if (words.length === 0) {
        skipped.push({ line, text: trimmed, reason: `\`${verb.word}\` without a path` });
        return;
      }
      statements.push({ line, verb: verb.word as SetVerb, words });
    }
  });
  return { statements, skipped, curlyLines };
}

/** The prompt and banners around pasted CLI output. */
function isDecoration(line: string): boolean {
  return /^\S+@\S+[>#%](\s|$)/.test(line) // user@srx-hq> show configuration | display set
    || /^\{[\w:-]+\}$/.test(line) // {primary:node0}, {master:0}
    || /^\[edit( [^\]]*)?\]$/.test(line);
}

interface Token {
  readonly word: string;
  readonly quoted: boolean;
}

/** Splits a line into words; a string is the reason the line cannot be read. */
function tokenize(line: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i += 1;
      continue;
    }
    if (c === '#' && line.startsWith('##', i)) break; // `## SECRET-DATA` and other trailing comments
    if (c === '"') {
      let word = '';
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\')) j += 1;
        word += line[j];
      }
      if (j >= line.length) return 'unterminated quoted string';
      tokens.push({ word, quoted: true });
      i = j + 1;
      continue;
    }
    if (c === '[' || c === ']') {
      tokens.push({ word: c, quoted: false });
      i += 1;
      continue;
    }
    let j = i;
    while (j < line.length && !' \t"[]'.includes(line[j]!)) j++;
    tokens.push({ word: line.slice(i, j), quoted: false });
    i = j;
  }
  return tokens;
}

/** `a b [ x y ] c` becomes `a b x c` and `a b y c`; without a list, the words as they are. */
function expandLists(tokens: readonly Token[]): string[][] {
  const open = tokens.findIndex((t) => t.word === '[' && !t.quoted);
  if (open < 0) return [tokens.map((t) => t.word)];
  const close = tokens.findIndex((t, i) => i > open && t.word === ']' && !t.quoted);
  const end = close < 0 ? tokens.length : close;
  const head = tokens.slice(0, open).map((t) => t.word);
  const tail = close < 0 ? [] : tokens.slice(close + 1).map((t) => t.word);
  const values = tokens.slice(open + 1, end).map((t) => t.word);
  return values.map((v) => [...head, v, ...tail]);
}
