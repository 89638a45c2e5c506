import { createRequire } from 'node:module';
import type XRegExpType from 'xregexp';

/**
 * XRegExp, loaded the first time a regex is built. A start whose rules are all in the build's
 * table (the shipped files, unedited: preparsed.ts) builds none and never loads it: loading it
 * (with its core-js polyfills) and building the shipped rules was ~40 ms of every start.
 *
 * Why `require`: an ES module cannot import synchronously on demand, and compiling stays
 * synchronous. In the bundle esbuild turns this `require` into a call of its bundled copy (still
 * run only here); run from src/ or dist/ (tests, tools), an ES module has no `require`, so the
 * package is required from node_modules.
 */
let loaded: typeof XRegExpType | undefined;

export function xregexp(): typeof XRegExpType {
  loaded ??= (typeof require === 'function' ? require('xregexp') : createRequire(import.meta.url)('xregexp')) as typeof XRegExpType;
  return loaded;
}
