import { check, type AttackPattern, type Diagnostics } from 'recheck';
import { runExamples } from './examples.js';
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
  /** A crafted line that takes longer than this to match (ms) confirms an attack. Default 100. */
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
 * must make this engine (V8) take longer than `slowMatchMs` on one line; otherwise it becomes a note,
 * because recheck's engine lacks V8's optimisations and its fuzzer is random (a finding that comes and
 * goes between runs would train people to ignore lint). A regex recheck cannot decide in time is a
 * finding: "not proven safe" is what an operator needs to know before deploying it.
 * Never throws for a bad regex; checker failures become `redos-unknown` findings.
 */
export async function lintPatterns(set: PatternSet, options: LintOptions = {}): Promise<LintReport> {
  const timeout = options.timeoutMs ?? 30_000;
  const checker = options.checker ?? check;
  const report: LintReport = { findings: [], notes: [] };
  for (const rule of set.rules) await checkRule(rule, checker, timeout, options, report);
  const exercised = new Set<string>();
  for (const r of runExamples(set)) {
    if (r.example.expect.kind === 'rule') exercised.add(r.example.expect.ruleId);
    if (r.match) exercised.add(r.match.ruleId);
  }
  for (const rule of set.rules) {
    if (!exercised.has(rule.id)) report.findings.push({ kind: 'unexercised', ruleId: rule.id, file: rule.file, line: rule.line });
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
        report.findings.push({
          kind: 'redos', ...where, complexity: d.complexity.summary, attack: d.attack.pattern,
          evidence: trial.slow ? `a crafted ${trial.length}-character line took ${trial.ms.toFixed(0)} ms to match` : 'proved by automaton analysis',
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

/**
 * Grows an attack string (pumps repeated n times) until a match is slow or the string reaches the
 * line limit. Exponential attacks grow one pump at a time, so the last trial costs at most about
 * twice the threshold; polynomial ones grow by half each step.
 */
function reproduce(regex: RegExp, attack: AttackPattern, exponential: boolean, options: LintOptions): { slow: boolean; length: number; ms: number } {
  const maxLength = options.maxAttackLength ?? 64 * 1024;
  const slowMs = options.slowMatchMs ?? 100;
  const build = (n: number): string => attack.pumps.map((p) => p.prefix + p.pump.repeat(Math.max(0, n + p.bias))).join('') + attack.suffix;
  const pumpChars = Math.max(1, attack.pumps.reduce((sum, p) => sum + p.pump.length, 0));
  let n = 1;
  for (;;) {
    const text = build(n);
    const ms = bestOf(3, () => RegExp.prototype.exec.call(regex, text), slowMs);
    if (ms > slowMs) return { slow: true, length: text.length, ms };
    if (text.length >= maxLength) return { slow: false, length: text.length, ms };
    const next = exponential && n < 64 ? n + 1 : Math.ceil(n * 1.5);
    n = Math.min(next, n + Math.ceil((maxLength - text.length) / pumpChars));
  }
}

/** Fastest of `runs` timings (the least disturbed by other work); stops early once a run is slow. */
function bestOf(runs: number, fn: () => unknown, slowMs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    const ms = performance.now() - t;
    best = Math.min(best, ms);
    if (ms > slowMs * 2) break;
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
          return `${at}: regex can backtrack catastrophically (${f.complexity}; ${f.evidence}); attack: ${abbreviate(f.attack, 200)}. Use negated classes ([^,]*) and literal separators instead of nested or adjacent quantifiers that can match the same text.`;
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

function abbreviate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
