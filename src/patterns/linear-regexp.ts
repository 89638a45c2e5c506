import v8 from 'node:v8';

/**
 * Rule regexes run on untrusted text, and V8's regex engine backtracks: a rule such as
 * `(?<aaaUser>(?:[\w.@-]+\s?)+)` takes seconds per line on a crafted one (exponential in its
 * length), and one core stalls for every listener. V8 also has a linear-time engine (automaton
 * simulation, no backtracking). With the first flag, a regex that backtracks more than
 * `--regexp-backtracks-before-fallback` times finishes that one match on the linear engine instead;
 * the second lets load time ask V8 whether a regex can run there at all (flag `l`). V8's default
 * limit, 50 000, is kept: shipped rules stay under 50 backtracks on real lines, and a lower limit
 * saved nothing measurable on crafted ones, where the linear pass (~3 µs per byte) dominates.
 *
 * V8 decides at `new RegExp` whether a regex may fall back, so these are set when this module is
 * first evaluated: compile.ts imports it before anything builds a rule regex, which covers the CLI,
 * `run`, `replay` and every test worker that loads patterns. Setting flags after V8 started is
 * allowed for these two (they are read per regex, not at startup); patterns/README.md has the
 * measurements.
 */
const FALLBACK_FLAG = '--enable-experimental-regexp-engine-on-excessive-backtracks';
v8.setFlagsFromString(FALLBACK_FLAG);
v8.setFlagsFromString('--enable-experimental-regexp-engine');

/** True when this Node.js offers V8's linear-time engine (the flags above took effect). */
export const LINEAR_ENGINE_AVAILABLE: boolean = (() => {
  try {
    new RegExp('', 'l');
    return true;
  } catch {
    return false;
  }
})();

/** The linear engine copies the body of a counted repeat; V8 refuses more than this many copies in all. */
const MAX_REPLICATION = 16;

/**
 * Why V8's linear-time engine cannot run a regex (so a line that makes it backtrack would stall the
 * bridge), naming each construct found and what to write instead; undefined when it can.
 * Never throws.
 */
export function linearTimeProblem(regex: RegExp): string | undefined {
  if (!LINEAR_ENGINE_AVAILABLE) {
    return `this Node.js (${process.version}) has no linear-time regex engine (V8 flag ${FALLBACK_FLAG}); run the bridge on Node.js 20 to 24`;
  }
  try {
    new RegExp(regex.source, `${regex.flags}l`);
    return undefined;
  } catch {
    // Classified below.
  }
  const reasons: string[] = [];
  const flags = [...regex.flags].filter((f) => f === 'i' || f === 'u' || f === 'v' || f === 'd');
  if (flags.includes('i')) reasons.push('case-insensitive matching (the i flag, `(?i)`): spell both cases, e.g. `[Dd]own`');
  if (flags.includes('u') || flags.includes('v')) reasons.push('the u/v flag: drop it');
  if (flags.includes('d')) reasons.push('the d flag: drop it');
  const found = constructsOf(regex.source);
  if (found.backreferences.length > 0) {
    reasons.push(`a backreference (${found.backreferences.join(', ')}): capture both texts and compare them after the match, or spell the text out`);
  }
  if (found.lookaheads.length > 0) {
    reasons.push(`a lookahead (${found.lookaheads.join(', ')}): match the text itself, e.g. \`[^,]*\` up to a literal separator instead of \`.*?(?=, )\``);
  }
  if (found.lookbehinds.length > 0) {
    reasons.push(`a lookbehind (${found.lookbehinds.join(', ')}): match the preceding text itself (rules are anchored at the start of the message)`);
  }
  if (found.tooLarge.length > 0) {
    reasons.push(`a counted repeat over ${MAX_REPLICATION} (${found.tooLarge.join(', ')}): use \`+\` or \`*\`, bounded by the field's separator`);
  } else if (found.worst.factor > MAX_REPLICATION) {
    reasons.push(
      `nested repeats that multiply to ${found.worst.factor} copies (${found.worst.chain.join(' around ')}; the limit is ${MAX_REPLICATION}): ` +
        'use `+` or `*` with a literal separator, or nested optional groups such as `(?: x (?: x )? )?` instead of `x{0,2}`',
    );
  }
  return reasons.length > 0 ? reasons.join('; ') : 'a construct it does not support';
}

/**
 * A copy of a regex that never falls back to the linear engine: plain backtracking, as V8 runs a
 * regex without this module. `patterns lint` times attacks on it, to tell a rule that backtracks
 * catastrophically (rescued at run time, but slowly) from one that does not.
 */
export function backtrackingCopy(regex: RegExp): RegExp {
  v8.setFlagsFromString(`--no-${FALLBACK_FLAG.slice(2)}`);
  try {
    // A different source text: V8 caches compiled regexes (and their fallback setting) by source and flags.
    return new RegExp(`(?:${regex.source})`, regex.flags);
  } finally {
    v8.setFlagsFromString(FALLBACK_FLAG);
  }
}

interface Worst {
  /** Copies of the innermost body the linear engine would make: the product of the enclosing repeats. */
  factor: number;
  /** The repeats making that product, outermost first (`{2,8}`, `{0,4}`). */
  chain: string[];
}

interface Constructs {
  backreferences: string[];
  lookaheads: string[];
  lookbehinds: string[];
  tooLarge: string[];
  worst: Worst;
}

/**
 * The constructs of a native (non-`u`) regex source that V8's linear engine refuses, found by a
 * small recursive-descent walk: lookarounds, backreferences (`\N` naming an existing group; XRegExp
 * turns `\k<name>` into that), and the copies counted repeats cost (V8 counts `x{n,m}` as m copies,
 * `x{n,}` as n + 1, nested repeats multiply).
 */
function constructsOf(source: string): Constructs {
  let i = 0;
  let groups = 0;
  let namedGroups = 0;
  const numbered: string[] = [];
  const named: string[] = [];
  const out: Constructs = { backreferences: [], lookaheads: [], lookbehinds: [], tooLarge: [], worst: { factor: 1, chain: [] } };
  const ONE: Worst = { factor: 1, chain: [] };
  const larger = (a: Worst, b: Worst): Worst => (b.factor > a.factor ? b : a);

  const alternation = (): Worst => {
    let worst = sequence();
    while (source[i] === '|') {
      i++;
      worst = larger(worst, sequence());
    }
    return worst;
  };
  const sequence = (): Worst => {
    let worst = ONE;
    while (i < source.length && source[i] !== '|' && source[i] !== ')') {
      const inner = atom();
      const q = quantifier();
      if (q === undefined) {
        worst = larger(worst, inner);
        continue;
      }
      if (q.min > MAX_REPLICATION || (q.max !== Infinity && q.max > MAX_REPLICATION)) out.tooLarge.push(q.text);
      const copies = q.max === Infinity ? q.min + 1 : q.max;
      worst = larger(worst, { factor: copies * inner.factor, chain: [q.text, ...inner.chain] });
    }
    return worst;
  };
  const atom = (): Worst => {
    const c = source[i]!;
    if (c === '(') {
      const head = /^\(\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)?/.exec(source.slice(i, i + 40))?.[0] ?? '(';
      if (head === '(?=' || head === '(?!') out.lookaheads.push(`\`${head}\``);
      else if (head === '(?<=' || head === '(?<!') out.lookbehinds.push(`\`${head}\``);
      else if (head === '(') groups++;
      else if (head.startsWith('(?<')) {
        groups++;
        namedGroups++;
      }
      i += head.length;
      const inner = alternation();
      if (source[i] === ')') i++;
      return inner;
    }
    if (c === '[') {
      i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      i++;
      return ONE;
    }
    if (c === '\\') {
      const digits = /^[1-9]\d*/.exec(source.slice(i + 1))?.[0];
      const name = /^k<[^>]*>/.exec(source.slice(i + 1))?.[0];
      if (digits !== undefined) {
        numbered.push(digits);
        i += 1 + digits.length;
      } else if (name !== undefined) {
        named.push(`\\${name}`);
        i += 1 + name.length;
      } else {
        i += 2;
      }
      return ONE;
    }
    i++;
    return ONE;
  };
  const quantifier = (): { min: number; max: number; text: string } | undefined => {
    const m = /^(?:[*+?]|\{(\d+)(?:(,)(\d*))?\})/.exec(source.slice(i, i + 24));
    if (m === null) return undefined;
    i += m[0].length;
    if (source[i] === '?') i++;
    const text = m[0];
    if (text === '*') return { min: 0, max: Infinity, text };
    if (text === '+') return { min: 1, max: Infinity, text };
    if (text === '?') return { min: 0, max: 1, text };
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max, text };
  };

  while (i < source.length) {
    out.worst = larger(out.worst, alternation());
    if (i < source.length) i++; // an unbalanced ')' cannot occur in a compiled regex; never loop on one
  }
  // In a regex without u, `\N` is a backreference only when the regex has N groups (else an escape),
  // `\k<name>` only when it has named groups.
  const refs = [...numbered.filter((n) => Number(n) <= groups).map((n) => `\\${n}`), ...(namedGroups > 0 ? named : [])];
  out.backreferences = [...new Set(refs)].map((r) => `\`${r}\``);
  return out;
}
