import { parseEnvelope } from '../ingest/envelope.js';
import type { PatternMatch } from '../flow/pipeline-records.js';
import { alarmMessage } from './alarm-message.js';
import { around } from './explain.js';
import type { ExampleSource } from './pattern-file.js';
import type { PatternSet, Recognition } from './pattern-set.js';

/** One difference between what an example expects and what the set produced. */
export interface ExampleMismatch {
  /** "rule", or the name of a field. */
  what: string;
  expected: string;
  got: string;
}

export interface ExampleResult {
  example: ExampleSource;
  /** What the set produced for the example's line. */
  match: PatternMatch | undefined;
  recognition: Recognition;
  mismatches: readonly ExampleMismatch[];
  /** The example expects a rule a user folder disabled: not run, not a failure. */
  skipped?: true;
}

/**
 * Runs one example against the set: first-match semantics, exactly as the pipeline matches.
 * Pure; never throws.
 */
export function runExample(set: PatternSet, example: ExampleSource): ExampleResult {
  const envelope = parseEnvelope(example.text, Date.now());
  const recognition = set.recognise(envelope);
  const match = recognition.kind === 'match' ? recognition.match : undefined;
  if (example.expect.kind === 'rule' && set.disabled.includes(example.expect.ruleId)) return { example, match, recognition, mismatches: [], skipped: true };
  // A refusal comes from the rule that reads the line; with rules disabled that one may be gone.
  if (example.expect.kind === 'rejected' && recognition.kind !== 'rejected' && set.disabled.length > 0) return { example, match, recognition, mismatches: [], skipped: true };
  const mismatches: ExampleMismatch[] = [];
  const got = describe(recognition);
  const body = alarmMessage(envelope)?.body ?? envelope.msg;
  const expect = example.expect;
  switch (expect.kind) {
    case 'rule': {
      if (!match || match.ruleId !== expect.ruleId) {
        const loaded = set.rules.some((r) => r.id === expect.ruleId);
        mismatches.push({ what: 'rule', expected: loaded ? expect.ruleId : `${expect.ruleId} (no such rule is loaded)`, got: recognition.kind === 'match' || recognition.kind === 'rejected' ? got : hintFor(set, body, envelope.tag, expect.ruleId) });
        break;
      }
      for (const [field, want] of Object.entries(example.fields)) {
        const have = match.fields[field];
        if (want === null ? have !== undefined : have !== want) {
          mismatches.push({ what: field, expected: want === null ? '(absent)' : JSON.stringify(want), got: have === undefined ? '(absent)' : JSON.stringify(have) });
        }
      }
      break;
    }
    case 'no-match':
      if (recognition.kind === 'match' || recognition.kind === 'rejected') mismatches.push({ what: 'rule', expected: 'no match', got });
      break;
    case 'near-miss':
      if (recognition.kind === 'match' || recognition.kind === 'rejected') mismatches.push({ what: 'rule', expected: 'no match (a near miss)', got });
      else if (recognition.kind === 'none') mismatches.push({ what: 'near miss', expected: 'a near miss', got: 'noise (contains no literal of the set)' });
      break;
    case 'rejected':
      if (recognition.kind !== 'rejected' || (expect.reason !== undefined && recognition.reason !== expect.reason)) {
        mismatches.push({ what: 'rule', expected: `rejected${expect.reason ? ` (${expect.reason})` : ''}`, got });
      }
      break;
    default:
      expect satisfies never;
  }
  return { example, match, recognition, mismatches };
}

function describe(r: Recognition): string {
  switch (r.kind) {
    case 'match':
      return r.match.ruleId;
    case 'rejected':
      return `rejected (${r.reason}) by ${r.ruleId}`;
    case 'near-miss':
    case 'none':
      return 'no match';
    default:
      return r satisfies never;
  }
}

/** Runs every inline example of the set, in load order. */
export function runExamples(set: PatternSet): ExampleResult[] {
  return set.examples.map((e) => runExample(set, e));
}

/**
 * The readable report of failed examples: where each example is, what was expected and what came,
 * one line per differing field. Empty string when all passed.
 */
export function formatExampleFailures(results: readonly ExampleResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.mismatches.length === 0) continue;
    const e = r.example;
    out.push(`FAIL ${e.file}:${e.line}${e.name ? ` ${JSON.stringify(e.name)}` : ''}`);
    out.push(`  line: ${abbreviate(e.text, 160)}`);
    const width = Math.max(...r.mismatches.map((m) => m.what.length));
    for (const m of r.mismatches) {
      out.push(`  ${m.what.padEnd(width)}  expected ${m.expected}`);
      const pad = ' '.repeat(width + 13);
      out.push(`  ${''.padEnd(width)}       got ${m.got.split('\n').join(`\n${pad}`)}`);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/**
 * When a line matched no rule, say whether any prefilter occurred (the first thing to tune) and
 * where the expected rule's regex stopped matching (the second).
 */
function hintFor(set: PatternSet, text: string, tag: string | undefined, expected: string): string {
  const rule = set.rules.find((r) => r.id === expected);
  if (rule && (tag === undefined || !rule.tags.includes(tag))) {
    return `no match (${tag === undefined ? 'the message does not start with a tag' : `the message's tag is ${tag}`}; ${expected} reads ${rule.tags.join(', ')})`;
  }
  const withLiteral = set.rules.filter((r) => tag !== undefined && r.tags.includes(tag) && text.includes(r.prefilter)).map((r) => r.id);
  if (withLiteral.length === 0) return 'no match (no rule\'s prefilter occurs in the line)';
  const lines = [`no match (prefilter found for ${withLiteral.join(', ')}, but the regex did not match)`];
  const why = rule ? set.explain(rule.id, text) : undefined;
  if (rule && why) {
    const at = why.fromRegexLine === why.toRegexLine ? `line ${why.fromRegexLine}` : `lines ${why.fromRegexLine}-${why.toRegexLine}`;
    lines.push(`${expected} stops at regex ${at} (${rule.file}:${why.fileLine}): ${why.regexText}`);
    lines.push(`text at that point (column ${why.offset + 1}): ${around(text, why.offset)}`);
  }
  return lines.join('\n');
}

function abbreviate(text: string, max: number): string {
  const shown = JSON.stringify(text).slice(1, -1);
  return shown.length <= max ? shown : `${shown.slice(0, max - 3)}...`;
}
