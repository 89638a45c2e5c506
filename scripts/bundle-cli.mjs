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
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

await build({
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
  logLevel: 'warning',
});
