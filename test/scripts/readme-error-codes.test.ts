import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { BLOCK_BEGIN, BLOCK_END, REWRITE_COMMAND, errorCodeBlockOf, renderErrorCodeTable, withErrorCodeBlock } from '../../scripts/readme-error-codes.js';
import { ERROR_CODES } from '../../src/errors.js';
import { repoRoot } from '../helpers/cli.js';

test('README.md lists exactly the error codes of src/errors.ts', (t) => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const expected = renderErrorCodeTable();
  const actual = errorCodeBlockOf(readme);
  t.true(actual === expected, `README.md's error-code table differs from ERROR_CODES in src/errors.ts. Rewrite it with:\n\n  ${REWRITE_COMMAND}\n\n--- README.md\n${actual}\n--- rendered\n${expected}`);
});

test('one row per code, in the table\'s order, with its exit status or - and pipes escaped', (t) => {
  const table = renderErrorCodeTable({
    ERR_A: { exit: 2, meaning: 'a | b', next: 'fix' },
    ERR_B: { exit: null, meaning: 'per message', next: 'counted' },
  });
  t.is(table, [
    '| code | exit | cause | what to do |',
    '|---|---|---|---|',
    '| `ERR_A` | 2 | a \\| b | fix |',
    '| `ERR_B` | - | per message | counted |',
  ].join('\n'));
  t.is(renderErrorCodeTable().split('\n').length, 2 + Object.keys(ERROR_CODES).length);
});

test('the block between the markers is what is checked and rewritten; the rest stays', (t) => {
  const readme = `# x\n\n${BLOCK_BEGIN}\n| old |\n${BLOCK_END}\n\nafter\n`;
  t.is(errorCodeBlockOf(readme), '| old |');
  const rewritten = withErrorCodeBlock(readme, '| new |\n| rows |');
  t.is(rewritten, `# x\n\n${BLOCK_BEGIN}\n| new |\n| rows |\n${BLOCK_END}\n\nafter\n`);
  t.is(errorCodeBlockOf(rewritten), '| new |\n| rows |');
});

test('a README without the markers is refused with the lines to add', (t) => {
  const error = t.throws(() => errorCodeBlockOf('# no table\n'));
  t.true(error.message.includes(BLOCK_BEGIN) && error.message.includes(BLOCK_END));
});
