import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePatternFile } from '../../src/patterns/pattern-file.js';
import { buildPatternSet, SHIPPED_PATTERNS_DIR } from '../../src/patterns/load.js';
import { prebuiltLookup, preparsedLookup } from '../../src/patterns/preparsed.js';
import type { BuiltRegex, PrebuiltLookup } from '../../src/patterns/compile.js';
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

/** The shipped files parsed, their table's regex lookup, and a lookup that counts its hits. */
function shippedWithTable(): { files: ReturnType<typeof parsePatternFile>[]; lookup: PrebuiltLookup; hits: () => number } {
  const files = shipped.map(({ file, text }) => parsePatternFile(text, file));
  const table = prebuiltLookup(preparsedTable(shipped.map((s) => s.text)).content);
  let hits = 0;
  return {
    files,
    lookup: (key) => {
      const built = table(key);
      if (built !== undefined) hits++;
      return built;
    },
    hits: () => hits,
  };
}

const asBuilt = (r: { regex: RegExp; captureNames: readonly (string | null)[] }) => ({ source: r.regex.source, flags: r.regex.flags, captureNames: [...r.captureNames] });

test('prebuilt regexes: every shipped rule comes from the table, as XRegExp builds it, and no definition is built again', (t) => {
  const { files, lookup, hits } = shippedWithTable();
  const fromTable = buildPatternSet([files], lookup);
  const built = buildPatternSet([files], () => undefined);
  t.deepEqual(fromTable.rules.map(asBuilt), built.rules.map(asBuilt));
  // One hit per rule, one per definition (checkAll): nothing was built.
  const definitions = new Set(files.flatMap((f) => f.definitions.map((d) => d.name)));
  t.is(hits(), fromTable.rules.length + definitions.size);
  for (const line of ['<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic']) {
    t.deepEqual(fromTable.match(line), built.match(line));
    t.is(fromTable.match(line)?.fields.aaaUser, 'alice');
  }
});

test('prebuilt regexes: a user folder that redefines a sub-pattern gets its rules built again, with the new text', (t) => {
  const { files, lookup } = shippedWithTable();
  // A narrower {{ip}}: IPv4 only. Every rule that reaches it must change.
  const user = parsePatternFile('set: local\ndefinitions:\n  ip: |\n    (?:\\d{1,3}(?:\\.\\d{1,3}){3})\n', '/etc/ptim-bridge/patterns/local.yaml');
  const redefined = buildPatternSet([files, [user]], lookup);
  const expected = buildPatternSet([files, [user]], () => undefined);
  t.deepEqual(redefined.rules.map(asBuilt), expected.rules.map(asBuilt));
  const shippedRules = buildPatternSet([files], () => undefined).rules.map(asBuilt);
  t.notDeepEqual(redefined.rules.map(asBuilt), shippedRules, 'the rules changed with {{ip}}');
});

test('prebuilt regexes: a damaged entry is not used (the rule is built), and a broken definition no rule uses still fails the load', (t) => {
  const { files } = shippedWithTable();
  const content = JSON.parse(preparsedTable(shipped.map((s) => s.text)).content) as { regexes: Record<string, BuiltRegex> };
  const keys = Object.keys(content.regexes);
  const damage: Array<(b: BuiltRegex) => unknown> = [
    (b) => ({ ...b, flags: 'g' }),
    (b) => ({ ...b, captureNames: [...b.captureNames, 'extra'] }),
    (b) => ({ ...b, source: '(' }),
    (b) => ({ ...b, captureNames: [7] }),
    () => null,
  ];
  const built = buildPatternSet([files], () => undefined).rules.map(asBuilt);
  for (const [i, spoil] of damage.entries()) {
    const spoilt = { regexes: Object.fromEntries(keys.map((k) => [k, spoil(content.regexes[k]!)])) };
    const lookup = prebuiltLookup(JSON.stringify(spoilt));
    t.is(keys.filter((k) => lookup(k) !== undefined).length, 0, `damage ${i}: no entry is taken`);
    t.deepEqual(buildPatternSet([files], lookup).rules.map(asBuilt), built, `damage ${i}: the rules are built as without a table`);
  }
  const broken = parsePatternFile('set: local\ndefinitions:\n  unused: |\n    (?<x>a\n', '/etc/ptim-bridge/patterns/broken.yaml');
  t.throws(() => buildPatternSet([files, [broken]], shippedWithTable().lookup), { code: 'ERR_PATTERN_INVALID' as never, message: /unused/ });
});

test('prebuilt regexes: an entry is taken only when it names each of its groups (escaped and class parentheses, lookarounds and (?: are none)', (t) => {
  const entry = (source: string, captureNames: Array<string | null>) => prebuiltLookup(JSON.stringify({ regexes: { k: { source, flags: '', captureNames } } }))('k');
  const source = String.raw`^(a)\((?:b)[(x)](?=c)(?!d)(?<=e)(?<!f)(?<g>h)\\(i)$`;
  // Groups: (a), (?<g>h) and (i) after an escaped backslash; not \(, [(x)], (?:, the lookarounds.
  t.is(new RegExp(`${source}|`).exec('')!.length - 1, 3);
  const taken = entry(source, ['a', 'g', 'i']);
  t.truthy(taken);
  t.deepEqual(taken?.captureNames, ['a', 'g', 'i']);
  t.true(taken?.regex instanceof RegExp && taken.regex.source === source);
  t.is(entry(source, ['a', 'g']), undefined, 'one name short');
  t.is(entry(source, ['a', 'g', 'i', null]), undefined, 'one name too many');
  t.is(entry('(a', ['a']), undefined, 'a source V8 refuses');
});
