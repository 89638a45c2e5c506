import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type * as PromClient from 'prom-client';
import type XRegExpType from 'xregexp';

/**
 * Bundled dependencies a start may not need, loaded the first time they are asked for:
 * - XRegExp, to build a regex: a start whose rules are all in the build's table (the shipped
 *   files, unedited: patterns/preparsed.ts) builds none; loading it (with its core-js polyfills)
 *   and building the shipped rules was ~40 ms of every start.
 * - prom-client, for a metrics registry: a dry-run replay keeps none; loading it (it pulls in
 *   http, https and zlib for its push gateway) was ~10 ms.
 * - better-sqlite3, when a state file is first opened (state-db.ts): ~10 ms, and a dry run without
 *   --state opens none. Never bundled (its native addon is found from its package), so always
 *   required from node_modules.
 *
 * Why `require`: an ES module cannot import synchronously on demand, and compiling rules and
 * making metrics stay synchronous. In the bundle esbuild turns each literal `require` into a call
 * of its bundled copy (still made only here); run from src/ or dist/ (tests, tools), an ES module
 * has no `require`, so the package is required from node_modules.
 */
const fromNodeModules = createRequire(import.meta.url);

let xregexpModule: typeof XRegExpType | undefined;
let promClientModule: typeof PromClient | undefined;
let sqliteModule: typeof BetterSqlite3 | undefined;

export function xregexp(): typeof XRegExpType {
  xregexpModule ??= (typeof require === 'function' ? require('xregexp') : fromNodeModules('xregexp')) as typeof XRegExpType;
  return xregexpModule;
}

export function promClient(): typeof PromClient {
  promClientModule ??= (typeof require === 'function' ? require('prom-client') : fromNodeModules('prom-client')) as typeof PromClient;
  return promClientModule;
}

/** @throws Error when better-sqlite3 or its addon does not load (state-db.ts says what to do). */
export function betterSqlite3(): typeof BetterSqlite3 {
  sqliteModule ??= fromNodeModules('better-sqlite3') as typeof BetterSqlite3;
  return sqliteModule;
}
