import { readFileSync } from 'node:fs';

/**
 * This package's own version, from its package.json, never the npm_package_version of whoever runs
 * it. The file is the nearest package.json above this module named ptim-bridge: one level up from
 * src/ and dist/, two from the bundled CLI in dist/bundle/. Needs no dependency: `--version` answers
 * with this alone (src/main.ts).
 */
export function packageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    let manifest: { name?: string; version?: string };
    try {
      manifest = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as typeof manifest;
    } catch {
      continue;
    }
    if (manifest.name === 'ptim-bridge' && typeof manifest.version === 'string') return manifest.version;
  }
  throw new Error(`ptim-bridge: no package.json of ptim-bridge above ${import.meta.url}; reinstall the package`);
}
