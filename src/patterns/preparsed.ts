import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parsePatternFile, type PatternFile } from './pattern-file.js';

/**
 * Pattern files parsed when the bundle was built (scripts/bundle-cli.mjs writes the table beside
 * it): parsing the shipped files' YAML took ~70 ms of every start, a fifth of a replay's start-up.
 * A file is taken from the table only when its text is the text that was parsed (SHA-256), so an
 * edited or unknown file is parsed as always; entries hold no path, the file's own is put in.
 * Run from src/ or dist/<folder>/ (tests, tools) there is no table and every file is parsed.
 */

/** Where the bundle keeps the table: beside the chunk this module is bundled into. */
const TABLE_FILE = 'shipped-patterns.json';
const TABLE_URL = new URL(`./${TABLE_FILE}`, import.meta.url);

/** Stands for the file's path inside the table. */
const FILE = '\u0000file';

/** Text digest -> the parse result as JSON (with FILE for its path). */
type Table = Record<string, string>;

let shipped: ((text: string, file: string) => PatternFile | undefined) | undefined;

/** The parse of `text` (the content of pattern file `file`) from the bundle's table, undefined when it holds none. */
export function preparsed(text: string, file: string): PatternFile | undefined {
  shipped ??= preparsedLookup(readTable());
  return shipped(text, file);
}

/** Lookups in a table's content (`preparsedTable`); none for undefined. */
export function preparsedLookup(content: string | undefined): (text: string, file: string) => PatternFile | undefined {
  let table: Table = {};
  try {
    const parsed: unknown = content === undefined ? {} : JSON.parse(content);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) table = parsed as Table;
  } catch {
    // A damaged table: parse every file.
  }
  return (text, file) => {
    const key = digest(text);
    const json = Object.hasOwn(table, key) ? table[key] : undefined;
    if (typeof json !== 'string') return undefined;
    try {
      const parsed: unknown = JSON.parse(json, (k, value: unknown) => (k === 'file' && value === FILE ? file : value));
      return parsed !== null && typeof parsed === 'object' ? (parsed as PatternFile) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** The table's file name and content for pattern file texts (the build; every text must parse). */
export function preparsedTable(texts: readonly string[]): { name: string; content: string } {
  const out: Table = {};
  for (const text of texts) out[digest(text)] = JSON.stringify(parsePatternFile(text, FILE));
  return { name: TABLE_FILE, content: `${JSON.stringify(out)}\n` };
}

function digest(text: string): string {
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
