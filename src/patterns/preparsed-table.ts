import { anchored, DefinitionTable, type BuiltRegex } from './compile.js';
import { buildPatternSet } from './load.js';
import { parsePatternFile } from './pattern-file.js';
import { digest, FILE, TABLE_FILE, type Table } from './preparsed.js';

/**
 * The table preparsed.ts reads, for the pattern file texts given (the build, with the shipped
 * files): each file's parse, and the regex of each rule and definition as XRegExp builds it when
 * these files are loaded alone, as a start without user folders loads them.
 * @throws PatternError when a text does not parse or its rules do not compile (the build must fail).
 */
export function preparsedTable(texts: readonly string[]): { name: string; content: string } {
  const files = texts.map((text) => parsePatternFile(text, FILE));
  const table: Table = { files: {}, regexes: {} };
  texts.forEach((text, i) => (table.files[digest(text)] = JSON.stringify(files[i])));
  // Built here, not taken from a table (an earlier build's, when this runs from the bundle).
  const set = buildPatternSet([files], () => undefined);
  // The definitions as buildPatternSet sees them for one folder (later entries win).
  const definitions = new DefinitionTable(files.flatMap((f) => f.definitions));
  Object.assign(table.regexes, definitions.builtDefinitions());
  for (const rule of set.rules) {
    const built: BuiltRegex = { source: rule.regex.source, flags: rule.regex.flags, captureNames: [...rule.captureNames] };
    table.regexes[definitions.buildKey(anchored(rule.source))!] = built;
  }
  return { name: TABLE_FILE, content: `${JSON.stringify(table)}\n` };
}
