import { anchored, compileRule, DefinitionTable } from './compile.js';
import { parsePatternFile } from './pattern-file.js';
import { digest, FILE, TABLE_FILE, type Table } from './preparsed.js';

/**
 * The table preparsed.ts reads, for the pattern file texts given (the build, with the shipped
 * files): each file's parse, and the regex of each rule and definition as XRegExp builds it when
 * these files are loaded alone (one folder: later definitions win), as a start without user folders
 * loads them. Built here, never taken from an earlier build's table.
 * @throws PatternError when a text does not parse or its rules do not compile (the build must fail).
 */
export function preparsedTable(texts: readonly string[]): { name: string; content: string } {
  const files = texts.map((text) => parsePatternFile(text, FILE));
  const table: Table = { files: {}, regexes: {} };
  texts.forEach((text, i) => (table.files[digest(text)] = JSON.stringify(files[i])));
  const definitions = new DefinitionTable(files.flatMap((f) => f.definitions));
  Object.assign(table.regexes, definitions.builtDefinitions());
  for (const rule of files.flatMap((f) => f.rules)) {
    if (rule.kind === 'disabled') continue;
    const { regex, captureNames } = compileRule(rule, definitions);
    table.regexes[definitions.buildKey(anchored(rule.regex))!] = { source: regex.source, flags: regex.flags, captureNames: [...captureNames] };
  }
  return { name: TABLE_FILE, content: `${JSON.stringify(table)}\n` };
}
