import { readFileSync } from 'node:fs';

/**
 * This package's own version, from its package.json (one level above src/ and dist/ alike), never
 * the npm_package_version of whoever runs it. Needs no dependency: `--version` answers with this
 * alone (src/main.ts).
 */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
