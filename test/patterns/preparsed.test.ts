import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePatternFile } from '../../src/patterns/pattern-file.js';
import { SHIPPED_PATTERNS_DIR } from '../../src/patterns/load.js';
import { preparsedLookup } from '../../src/patterns/preparsed.js';
import { preparsedTable } from '../../src/patterns/preparsed-table.js';

const shipped = readdirSync(SHIPPED_PATTERNS_DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => {
  const file = join(SHIPPED_PATTERNS_DIR, f);
  return { file, text: readFileSync(file, 'utf8') };
});

test('a pre-parsed file is what parsing it gives, with the path of the file it is read for', (t) => {
  const lookup = preparsedLookup(preparsedTable(shipped.map((s) => s.text)).content);
  for (const { file, text } of shipped) {
    t.deepEqual(lookup(text, file), parsePatternFile(text, file), file);
    // A copy elsewhere (a user folder) has the same text: its own path goes in.
    t.deepEqual(lookup(text, '/etc/ptim-bridge/patterns/copy.yaml'), parsePatternFile(text, '/etc/ptim-bridge/patterns/copy.yaml'));
  }
});

test('an edited, unknown or damaged table entry is not used: the file is parsed', (t) => {
  const { text } = shipped[0]!;
  const lookup = preparsedLookup(preparsedTable([text]).content);
  t.is(lookup(`${text}\n# edited\n`, 'x.yaml'), undefined);
  t.is(lookup('set: other\nrules: []\n', 'x.yaml'), undefined);
  t.is(preparsedLookup('{not json')(text, 'x.yaml'), undefined);
  t.is(preparsedLookup(undefined)(text, 'x.yaml'), undefined);
  t.is(preparsedLookup('{}')('__proto__', 'x.yaml'), undefined);
  t.is(preparsedLookup('null')(text, 'x.yaml'), undefined);
  const key = Object.keys((JSON.parse(preparsedTable([text]).content) as { files: object }).files)[0]!;
  t.is(preparsedLookup(JSON.stringify({ files: { [key]: '{broken' } }))(text, 'x.yaml'), undefined, 'a damaged entry');
  t.is(preparsedLookup(JSON.stringify({ files: { [key]: 7 } }))(text, 'x.yaml'), undefined, 'an entry that is no parse');
  t.is(preparsedLookup(JSON.stringify({ files: [] }))(text, 'x.yaml'), undefined, 'files that are no table');
});

test('the built bundle carries a table holding every shipped file as it is now (npm run build)', (t) => {
  const table = join(import.meta.dirname, '..', '..', 'dist', 'bundle', 'shipped-patterns.json');
  if (!existsSync(table)) {
    t.fail('dist/bundle/shipped-patterns.json is missing: run npm run build (npm ci runs it)');
    return;
  }
  const lookup = preparsedLookup(readFileSync(table, 'utf8'));
  for (const { file, text } of shipped) t.truthy(lookup(text, file), `${file} is not in the bundle's table: rebuild`);
});
