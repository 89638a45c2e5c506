#!/usr/bin/env node
// The CLI as it ships: src/main.ts and what it imports, bundled by esbuild into dist/bundle/ (one
// entry, one chunk per lazily imported command or module, as `import()` splits them).
//
// Why: unbundled, every start resolves, reads and links some 550 module files (xregexp alone pulls
// 257 core-js-pure files, prom-client 51 of @opentelemetry/api): about 0.55 s of CPU before a replay
// reads its first line, more than a million noise lines take to scan. Bundled, that resolution is
// done once, here. tsc still builds dist/ module by module (benches and tools import those files);
// bin/ptim-bridge.js runs the bundle.
//
// Left outside the bundle, loaded from node_modules as before: better-sqlite3 (a native addon found
// relative to its own package) and recheck (starts its own worker/native checker from its files).
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has none.
  banner: { js: "import { createRequire as __ptimCreateRequire } from 'node:module'; const require = __ptimCreateRequire(import.meta.url);" },
  external: ['better-sqlite3', 'recheck'],
  // dist/bundle/ is two levels below the package, as dist/<folder>/ modules are: the files they find
  // through import.meta.url (patterns/, fixtures/demo/) are found from a chunk just the same.
  chunkNames: 'chunk-[hash]',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

// The shipped pattern files, parsed and their regexes built now by the code just built (dist/patterns/,
// from the same sources as the bundle): a start then reads the parse instead of the YAML and makes
// the regexes without loading XRegExp (src/patterns/preparsed.ts).
const { preparsedTable } = await import(join(root, 'dist', 'patterns', 'preparsed-table.js'));
const patternDir = join(root, 'patterns');
const table = preparsedTable(readdirSync(patternDir).filter((f) => /\.ya?ml$/i.test(f)).sort().map((f) => readFileSync(join(patternDir, f), 'utf8')));
writeFileSync(join(outdir, table.name), table.content);

// The bundled packages' licences travel with their code: most of them carry no @license comment
// that esbuild could keep, and none is installed beside the bundle any more. One file lists every
// package the bundle holds code of, with its LICENSE (and NOTICE, which Apache-2.0 asks for) text.
writeFileSync(join(outdir, 'THIRD_PARTY_LICENSES.txt'), thirdPartyLicenses(Object.keys(result.metafile.inputs)));

function thirdPartyLicenses(inputs) {
  const dirs = new Set();
  for (const input of inputs) {
    // The innermost node_modules/<name> or node_modules/@scope/<name> of each bundled file.
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const sections = [...dirs].map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    const texts = readdirSync(join(root, dir))
      .filter((f) => /^(licen[cs]e|notice|copying)/i.test(f))
      .sort()
      .map((f) => readFileSync(join(root, dir, f), 'utf8').trim());
    const license = typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license ?? pkg.licenses ?? 'unknown');
    return { name: pkg.name, text: `${pkg.name} ${pkg.version} (${license})\n\n${texts.length > 0 ? texts.join('\n\n') : `No licence file in the package; its package.json says ${license}.`}` };
  });
  sections.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header = `Third-party software bundled into ptim-bridge's dist/bundle/ (scripts/bundle-cli.mjs): ${sections.length} packages.\n`;
  return [header, ...sections.map((s) => s.text)].join(`\n\n${'-'.repeat(78)}\n\n`) + '\n';
}
