import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type XRegExpType from 'xregexp';

/**
 * Bundled dependencies a start may not need, loaded the first time they are asked for:
 * - XRegExp, to build a regex: a start whose rules are all in the build's table (the shipped
 *   files, unedited: patterns/preparsed.ts) builds none; loading it (with its core-js polyfills)
 *   and building the shipped rules was ~40 ms of every start.
 * - prom-client, for a metrics registry: a dry-run replay keeps none; loading it (it pulls in
 *   http, https and zlib for its push gateway) was ~10 ms.
 *
 * Why `require`: an ES module cannot import synchronously on demand, and compiling rules and
 * making metrics stay synchronous. In the bundle esbuild turns each literal `require` into a call
 * of its bundled copy (still made only here); run from src/ or dist/ (tests, tools), an ES module
 * has no `require`, so the package is required from node_modules.
 */
const fromNodeModules = createRequire(import.meta.url);

let xregexpModule: typeof XRegExpType | undefined;
let promClientModule: typeof PromClient | undefined;

export function xregexp(): typeof XRegExpType {
  xregexpModule ??= (typeof require === 'function' ? require('xregexp') : fromNodeModules('xregexp')) as typeof XRegExpType;
  return xregexpModule;
}

export function promClient(): typeof PromClient {
  promClientModule ??= (typeof require === 'function' ? require('prom-client') : fromNodeModules('prom-client')) as typeof PromClient;
  return promClientModule;
}
