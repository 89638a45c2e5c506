/**
 * The README's error-code table, rendered from ERROR_CODES (src/errors.ts) so the two cannot drift:
 * test/readme-error-codes.test.ts fails when they differ, and this script rewrites the block.
 *
 *   npx tsx scripts/readme-error-codes.ts            # rewrites the block in README.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCodeInfo } from '../src/errors.js';

export const REWRITE_COMMAND = 'npx tsx scripts/readme-error-codes.ts';
export const BLOCK_BEGIN = `<!-- error-codes:begin (generated from ERROR_CODES in src/errors.ts: edit it there, then run \`${REWRITE_COMMAND}\`) -->`;
export const BLOCK_END = '<!-- error-codes:end -->';

/** The markdown table, one row per code in the table's order; `-` for a code that never ends a command. */
export function renderErrorCodeTable(codes: Readonly<Record<string, ErrorCodeInfo>> = ERROR_CODES): string {
  const rows = Object.entries(codes).map(([code, info]) =>
    `| \`${code}\` | ${info.exit ?? '-'} | ${cell(info.meaning)} | ${cell(info.next)} |`);
  return ['| code | exit | cause | what to do |', '|---|---|---|---|', ...rows].join('\n');
}

/** The text between the markers of `readme`, without the newlines next to them. Throws when a marker is missing. */
export function errorCodeBlockOf(readme: string): string {
  const { start, end } = blockBounds(readme);
  return readme.slice(start, end);
}

/** `readme` with the text between the markers replaced by `table`. Throws when a marker is missing. */
export function withErrorCodeBlock(readme: string, table: string): string {
  const { start, end } = blockBounds(readme);
  return `${readme.slice(0, start)}${table}${readme.slice(end)}`;
}

function blockBounds(readme: string): { start: number; end: number } {
  const begin = readme.indexOf(BLOCK_BEGIN);
  const end = readme.indexOf(BLOCK_END);
  if (begin === -1 || end === -1 || end < begin) {
    throw new Error(`README.md needs the lines\n${BLOCK_BEGIN}\n${BLOCK_END}\naround its error-code table.`);
  }
  return { start: begin + BLOCK_BEGIN.length + 1, end: end - 1 };
}

/** A pipe inside a cell would end it (`show configuration | display set`). */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = fileURLToPath(new URL('../README.md', import.meta.url));
  const before = readFileSync(path, 'utf8');
  const after = withErrorCodeBlock(before, renderErrorCodeTable());
  if (after !== before) writeFileSync(path, after);
  process.stdout.write(after === before ? 'README.md: error-code table already up to date\n' : 'README.md: error-code table rewritten\n');
}
