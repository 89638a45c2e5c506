import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BuiltRegex, CompiledRegex, PrebuiltLookup } from './compile.js';
import type { PatternFile } from './pattern-file.js';

/**
 * Pattern files parsed, and their regexes built, when the bundle was built (scripts/bundle-cli.mjs
 * writes the table beside it, preparsed-table.ts makes it): parsing the shipped files' YAML took
 * ~70 ms of every start, loading XRegExp and building their regexes ~40 ms more. A file is taken
 * from the table only when its text is the text that was parsed (SHA-256), a regex only when its
 * text and every sub-pattern it reaches are those that were built (compile.ts `buildKey`), so an
 * edited or unknown file is parsed and built as always; entries hold no path, the file's own is put
 * in. Run from src/ or dist/<folder>/ (tests, tools) there is no table and everything is built.
 */

/** Where the bundle keeps the table: beside the chunk this module is bundled into. */
export const TABLE_FILE = 'shipped-patterns.json';
const TABLE_URL = new URL(`./${TABLE_FILE}`, import.meta.url);

/** Stands for the file's path inside the table. */
export const FILE = '\u0000file';

/** The table: text digest -> the parse result as JSON (with FILE for its path); build key -> built regex. */
export interface Table {
  files: Record<string, string>;
  regexes: Record<string, BuiltRegex>;
}

let table: Table | undefined;

/** The parse of `text` (the content of pattern file `file`) from the bundle's table, undefined when it holds none. */
export function preparsed(text: string, file: string): PatternFile | undefined {
  table ??= tableOf(readTable());
  return fileFrom(table, text, file);
}

/** The bundle's build of a regex by its build key, undefined when it holds none. */
export const prebuiltRegex: PrebuiltLookup = (key) => {
  table ??= tableOf(readTable());
  return regexFrom(table, key);
};

/** Lookups of parsed files in a table's content; none for undefined or a damaged table. */
export function preparsedLookup(content: string | undefined): (text: string, file: string) => PatternFile | undefined {
  const t = tableOf(content);
  return (text, file) => fileFrom(t, text, file);
}

/** Lookups of built regexes in a table's content; none for undefined or a damaged table. */
export function prebuiltLookup(content: string | undefined): PrebuiltLookup {
  const t = tableOf(content);
  return (key) => regexFrom(t, key);
}

function tableOf(content: string | undefined): Table {
  const empty: Table = { files: {}, regexes: {} };
  try {
    const parsed: unknown = content === undefined ? {} : JSON.parse(content);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return empty;
    const { files, regexes } = parsed as Partial<Table>;
    const isRecord = (x: unknown): x is Record<string, never> => x !== null && typeof x === 'object' && !Array.isArray(x);
    return { files: isRecord(files) ? files : {}, regexes: isRecord(regexes) ? regexes : {} };
  } catch {
    // A damaged table: parse and build every file.
    return empty;
  }
}

function fileFrom(t: Table, text: string, file: string): PatternFile | undefined {
  const key = digest(text);
  const json = Object.hasOwn(t.files, key) ? t.files[key] : undefined;
  if (typeof json !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(json, (k, value: unknown) => (k === 'file' && value === FILE ? file : value));
    return parsed !== null && typeof parsed === 'object' ? (parsed as PatternFile) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A built regex that is whole, made into a regex, else undefined (the rule is then built as without a
 * table): strings where strings belong, stateless flags, a source V8 compiles, and a name (or null)
 * for each of its groups, so that no capture can be read under another's name.
 */
function regexFrom(t: Table, key: string): CompiledRegex | undefined {
  const entry: unknown = Object.hasOwn(t.regexes, key) ? t.regexes[key] : undefined;
  if (entry === null || typeof entry !== 'object') return undefined;
  const { source, flags, captureNames } = entry as Partial<BuiltRegex>;
  if (typeof source !== 'string' || typeof flags !== 'string' || !Array.isArray(captureNames)) return undefined;
  if (!/^[dimsu]*$/.test(flags) || !captureNames.every((n) => n === null || typeof n === 'string')) return undefined;
  if (capturingGroups(source) !== captureNames.length) return undefined;
  try {
    return { regex: new RegExp(source, flags), captureNames };
  } catch {
    return undefined;
  }
}

/**
 * Capturing groups in a regex source (no `v` flag): each `(` that is not escaped, not in a class and
 * not `(?` (a named group `(?<name>` counts). Read off the text: running the regex to count them
 * compiled every shipped rule at start, 3 ms.
 */
function capturingGroups(source: string): number {
  let groups = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(' && (source[i + 1] !== '?' || (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!'))) groups++;
  }
  return groups;
}

/** SHA-256 of a file's text: its key in the table. */
export function digest(text: string): string {
  return hash('sha256', text, 'hex');
}

function readTable(): string | undefined {
  try {
    return readFileSync(TABLE_URL, 'utf8');
  } catch {
    // No table (not the bundle): parse every file.
    return undefined;
  }
}
