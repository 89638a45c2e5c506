import { createContext, Script } from 'node:vm';
import { check, type AttackPattern, type Diagnostics } from 'recheck';
import { runExamples } from './examples.js';
import { backtrackingCopy } from './linear-regexp.js';
import type { CompiledRule, PatternSet } from './pattern-set.js';

/** A problem `patterns lint` reports; any finding makes the command exit 1. */
export type LintFinding =
  | { kind: 'redos'; ruleId: string; file: string; line: number; complexity: string; attack: string; evidence: string }
  | { kind: 'redos-unknown'; ruleId: string; file: string; line: number; reason: string }
  | { kind: 'unexercised'; ruleId: string; file: string; line: number };

export interface LintReport {
  findings: LintFinding[];
  /** Things worth knowing that are not findings (a fuzzer suspicion this engine did not reproduce). */
  notes: string[];
}

export interface LintOptions {
  /** Time limit for the ReDoS check of one regex (ms). Default 30 s: the first call starts recheck's engine. */
  timeoutMs?: number;
  /** Longest crafted line used to reproduce a fuzzer's attack (bytes); the bridge's line limit. Default 64 KiB. */
  maxAttackLength?: number;
  /** A crafted line that takes longer than this to match on the backtracking engine (ms) confirms an attack. Default 100. */
  slowMatchMs?: number;
  /** Replaced in tests; the default is recheck's `check`. */
  checker?: (source: string, flags: string, params: { timeout: number }) => Promise<Diagnostics>;
}

/**
 * Lints a loaded pattern set: every rule's compiled regex goes through recheck (a maintained ReDoS
 * checker), and every rule must be exercised by at least one inline example.
 *
 * recheck proves a regex safe or vulnerable with an automaton where it can, and fuzzes where the
 * automaton is too large (the shipped rules are). A proof is reported as is. A fuzzer's attack is
 * reported only when it reproduces here: the attack string, grown up to the bridge's line limit,
 * must make V8's backtracking engine take longer than `slowMatchMs` on one line; otherwise it
 * becomes a note, because recheck's engine lacks V8's optimisations and its fuzzer is random (a
 * finding that comes and goes between runs would train people to ignore lint). The trial runs on a
 * copy of the regex that cannot fall back to the linear-time engine (linear-regexp.ts): with the
 * fallback every attack finishes, slowly, and the question is whether the regex backtracks, not
 * whether the bridge survives it. Each trial is cut off at twice `slowMatchMs`, so an attack that
 * reproduces cannot hang lint. A regex recheck cannot decide in time is a finding: "not proven
 * safe" is what an operator needs to know before deploying it.
 *
 * A whole rule is too large for recheck's automaton, and its fuzzer misses even a nested
 * `(?:[\w.@-]+\s?)+` in the middle of one. So each rule is also checked in parts: from each
 * repeated or optional top-level item of its regex to the next one, literals between included,
 * each anchored on its own (`^(?:part)$`). Parts are small enough for the automaton, and two items
 * that can match the same text (nested quantifiers, adjacent overlapping fields) share a part.
 * A part proved vulnerable, or whose fuzzed attack reproduces, is a finding; parts recheck cannot
 * decide or only suspects add nothing (the whole-rule check already speaks for the rule).
 * Never throws for a bad regex; checker failures become `redos-unknown` findings.
 */
export async function lintPatterns(set: PatternSet, options: LintOptions = {}): Promise<LintReport> {
  const timeout = options.timeoutMs ?? 30_000;
  const checker = options.checker ?? check;
  const report: LintReport = { findings: [], notes: [] };
  // Rules share sub-patterns, so they share parts: each distinct part is checked once.
  const parts = new Map<string, Promise<Diagnostics | undefined>>();
  for (const rule of set.rules) {
    const before = report.findings.length;
    await checkRule(rule, checker, timeout, options, report);
    if (!report.findings.slice(before).some((f) => f.kind === 'redos')) await checkParts(rule, checker, timeout, options, report, parts);
  }
  const exercised = new Set<string>();
  for (const r of runExamples(set)) {
    if (r.example.expect.kind === 'rule') exercised.add(r.example.expect.ruleId);
    if (r.match) exercised.add(r.match.ruleId);
  }
  for (const rule of set.rules) {
    if (!exercised.has(rule.id)) report.findings.push({ kind: 'unexercised', ruleId: rule.id, file: rule.file, line: rule.line });
  }
  // Not a finding: an unsealed rule gets the same verdicts, only by the slower scan (sealed-rule.ts).
  for (const rule of set.rules) {
    if (!rule.sealed) report.notes.push(`${rule.file}:${rule.line}: ${rule.id}: not sealed: each line it matches is also scanned whole for its field labels (the same verdicts, ~0.75 us more a line); capture every variable part by name to seal it (patterns/README.md, "Sealed rules are checked faster")`);
  }
  return report;
}

async function checkRule(rule: CompiledRule, checker: NonNullable<LintOptions['checker']>, timeout: number, options: LintOptions, report: LintReport): Promise<void> {
  const where = { ruleId: rule.id, file: rule.file, line: rule.line };
  let d: Diagnostics;
  try {
    d = await checker(rule.regex.source, rule.regex.flags, { timeout });
  } catch (error) {
    report.findings.push({ kind: 'redos-unknown', ...where, reason: `the checker failed: ${(error as Error).message}` });
    return;
  }
  switch (d.status) {
    case 'safe':
      return;
    case 'vulnerable': {
      const trial = reproduce(rule.regex, d.attack, d.complexity.type === 'exponential', options);
      if (!d.complexity.isFuzz || trial.slow) {
        const took = trial.interrupted ? `did not finish within ${trial.ms.toFixed(0)} ms` : `took ${trial.ms.toFixed(0)} ms`;
        report.findings.push({
          kind: 'redos', ...where, complexity: d.complexity.summary, attack: d.attack.pattern,
          evidence: trial.slow ? `a crafted ${trial.length}-character line ${took} to match on the backtracking engine` : 'proved by automaton analysis',
        });
      } else {
        report.notes.push(`${rule.file}:${rule.line}: ${rule.id}: recheck's fuzzer suspected ${d.complexity.summary} backtracking, but its attack grown to ${trial.length} characters matched in ${trial.ms.toFixed(1)} ms here; not a finding`);
      }
      return;
    }
    case 'unknown': {
      const e = d.error as { kind?: string; message?: string };
      const reason = e.kind === 'timeout' ? `not decided within ${timeout} ms (raise --timeout, or simplify the regex)` : `${e.kind ?? 'error'}${e.message ? `: ${e.message}` : ''}`;
      report.findings.push({ kind: 'redos-unknown', ...where, reason });
      return;
    }
    default:
      d satisfies never;
  }
}

async function checkParts(
  rule: CompiledRule,
  checker: NonNullable<LintOptions['checker']>,
  timeout: number,
  options: LintOptions,
  report: LintReport,
  cache: Map<string, Promise<Diagnostics | undefined>>,
): Promise<void> {
  for (const part of ruleParts(rule.regex.source)) {
    const source = `^(?:${part})$`;
    const key = `${rule.regex.flags}/${source}`;
    let pending = cache.get(key);
    if (pending === undefined) {
      pending = checker(source, rule.regex.flags, { timeout }).catch(() => undefined);
      cache.set(key, pending);
    }
    const d = await pending;
    if (d?.status !== 'vulnerable') continue;
    const trial = reproduce(new RegExp(source, rule.regex.flags), d.attack, d.complexity.type === 'exponential', options);
    if (d.complexity.isFuzz && !trial.slow) continue;
    const shown = abbreviate(part.replace(/(?<!\\)\(\?:\)/g, ''), 160);
    const took = trial.interrupted ? `did not finish within ${trial.ms.toFixed(0)} ms` : `took ${trial.ms.toFixed(0)} ms`;
    report.findings.push({
      kind: 'redos', ruleId: rule.id, file: rule.file, line: rule.line, complexity: d.complexity.summary, attack: d.attack.pattern,
      evidence: `${d.complexity.isFuzz ? `a crafted ${trial.length}-character text ${took} to match` : 'proved by automaton analysis'} for the part \`${shown}\``,
    });
    return;
  }
}

/**
 * The parts of a compiled rule regex that `checkParts` checks. The body inside the rule's anchors
 * and wrapping groups is cut into top-level items (atom plus quantifier); each part runs from one
 * variable item (quantified, or a group with a quantifier inside) to the next, both included, or to
 * the end. Top-level alternatives are cut up each on their own. Exported for tests.
 */
export function ruleParts(source: string): string[] {
  const items = topLevelItems(source);
  if (items.some((it) => it.alternation)) {
    const alternatives: string[] = [''];
    for (const it of items) {
      if (it.alternation) alternatives.push('');
      else alternatives[alternatives.length - 1] += it.text;
    }
    return alternatives.flatMap((alternative) => ruleParts(alternative));
  }
  const solid = items.filter((it) => it.text !== '^' && it.text !== '$' && it.text !== '(?:)');
  if (solid.length === 1 && solid[0]!.text.startsWith('(?:') && !solid[0]!.quantified) return ruleParts(solid[0]!.text.slice(3, -1));
  const variable = items.flatMap((it, k) => (it.variable ? [k] : []));
  return variable.map((k, j) => items.slice(k, (variable[j + 1] ?? items.length - 1) + 1).map((it) => it.text).join(''));
}

interface Item {
  text: string;
  quantified: boolean;
  /** Quantified, or a group with a quantifier inside: can match texts of different lengths. */
  variable: boolean;
  /** A top-level `|` (its own item). */
  alternation: boolean;
}

const QUANTIFIER = /^(?:[*+?]|\{\d+(?:,\d*)?\})\??/;
// Escapes, classes and group openers hide their `?`/`*`; what is left is a quantifier.
const HAS_QUANTIFIER = /\\.|\[(?:\\.|[^\]\\])*\]|\(\?(?:[:=!]|<[=!]|<[\w$]+>)|([*+?]|\{\d)/g;

function topLevelItems(source: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  while (i < source.length) {
    if (source[i] === '|') {
      items.push({ text: '|', quantified: false, variable: false, alternation: true });
      i++;
      continue;
    }
    const end = atomEnd(source, i);
    const q = QUANTIFIER.exec(source.slice(end, end + 24))?.[0] ?? '';
    const text = source.slice(i, end + q.length);
    const inner = text.startsWith('(') && [...text.matchAll(HAS_QUANTIFIER)].some((m) => m[1] !== undefined);
    items.push({ text, quantified: q !== '', variable: q !== '' || inner, alternation: false });
    i = end + q.length;
  }
  return items;
}

/** End of the atom at `i`: a group (with what it contains), a class, an escape or one character. */
function atomEnd(source: string, i: number): number {
  const c = source[i];
  if (c === '\\') return i + 2;
  if (c === '[') {
    i++;
    while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
    return i + 1;
  }
  if (c !== '(') return i + 1;
  let depth = 0;
  while (i < source.length) {
    const d = source[i];
    if (d === '\\') {
      i += 2;
      continue;
    }
    if (d === '[') {
      i = atomEnd(source, i);
      continue;
    }
    if (d === '(') depth++;
    if (d === ')' && --depth === 0) return i + 1;
    i++;
  }
  return i;
}

/**
 * Grows an attack string (pumps repeated n times) until a match is slow or the string reaches the
 * line limit, matching on a backtracking-only copy of the regex. Exponential attacks grow one pump
 * at a time, polynomial ones by half each step; either way a trial is interrupted at twice the
 * threshold (a step can multiply the cost of an exponential attack many times over).
 */
function reproduce(regex: RegExp, attack: AttackPattern, exponential: boolean, options: LintOptions): { slow: boolean; interrupted: boolean; length: number; ms: number } {
  const maxLength = options.maxAttackLength ?? 64 * 1024;
  const slowMs = options.slowMatchMs ?? 100;
  const build = (n: number): string => attack.pumps.map((p) => p.prefix + p.pump.repeat(Math.max(0, n + p.bias))).join('') + attack.suffix;
  const pumpChars = Math.max(1, attack.pumps.reduce((sum, p) => sum + p.pump.length, 0));
  const trial = boundedExec(backtrackingCopy(regex), Math.ceil(slowMs * 2));
  let n = 1;
  for (;;) {
    const text = build(n);
    const { ms, interrupted } = bestOf(3, () => trial(text), slowMs);
    if (ms > slowMs) return { slow: true, interrupted, length: text.length, ms };
    if (text.length >= maxLength) return { slow: false, interrupted, length: text.length, ms };
    const next = exponential && n < 64 ? n + 1 : Math.ceil(n * 1.5);
    n = Math.min(next, n + Math.ceil((maxLength - text.length) / pumpChars));
  }
}

/**
 * `regex.exec(text)` cut off after `limitMs`: V8 interrupts a running match when a vm script's
 * timeout expires. Returns the time taken, or `limitMs` when interrupted.
 */
function boundedExec(regex: RegExp, limitMs: number): (text: string) => { ms: number; interrupted: boolean } {
  const context = createContext({ exec: RegExp.prototype.exec, regex, text: '' });
  const script = new Script('exec.call(regex, text), undefined');
  return (text) => {
    context.text = text;
    const t = performance.now();
    try {
      script.runInContext(context, { timeout: limitMs });
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw error;
      return { ms: Math.max(limitMs, performance.now() - t), interrupted: true };
    }
    return { ms: performance.now() - t, interrupted: false };
  };
}

/** Fastest of `runs` timings (the least disturbed by other work); stops early once a run is slow. */
function bestOf(runs: number, fn: () => { ms: number; interrupted: boolean }, slowMs: number): { ms: number; interrupted: boolean } {
  let best = { ms: Infinity, interrupted: false };
  for (let i = 0; i < runs; i++) {
    const r = fn();
    if (r.ms < best.ms) best = r;
    if (r.ms > slowMs * 2 || r.interrupted) break;
  }
  return best;
}

/** One line per finding, `file:line: rule: what and what to do`. */
export function formatLintFindings(findings: readonly LintFinding[]): string {
  return findings
    .map((f) => {
      const at = `${f.file}:${f.line}: ${f.ruleId}`;
      switch (f.kind) {
        case 'redos':
          return `${at}: regex can backtrack catastrophically (${f.complexity}; ${f.evidence}); attack: ${abbreviate(f.attack, 200)}. ${RUN_TIME_COST} Use negated classes ([^,]*) and literal separators instead of nested or adjacent quantifiers that can match the same text.`;
        case 'redos-unknown':
          return `${at}: ReDoS check inconclusive: ${f.reason}`;
        case 'unexercised':
          return `${at}: no example exercises this rule; add one under \`examples:\` with \`expect: ${f.ruleId}\``;
        default:
          f satisfies never;
          return '';
      }
    })
    .map((l) => `${l}\n`)
    .join('');
}

/** What a rule that backtracks costs at run time (linear-regexp.ts; figures in patterns/README.md). */
const RUN_TIME_COST =
  'At run time the bridge cannot stall on it: a line that makes it backtrack is finished on V8\'s linear-time engine, but each such line costs about 3 µs per byte (some 0.2 s for a 64 KiB line) instead of a few µs per line.';

function abbreviate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
