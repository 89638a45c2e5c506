import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { BridgeError } from '../errors.js';
import { captureCoverage, formatCoverage } from '../patterns/coverage.js';
import { formatExampleFailures, runExamples } from '../patterns/examples.js';
import { formatLintFindings, lintPatterns } from '../patterns/lint.js';
import { loadPatterns } from '../patterns/load.js';
import type { PatternSet } from '../patterns/pattern-set.js';

interface PatternOptions {
  patterns: string[];
  config?: string;
  shipped: boolean;
}

/** `ptim-bridge patterns test|lint`: the regex tuning bench. */
export function registerPatternsCommand(program: Command): void {
  const patterns = program
    .command('patterns')
    .description('Check pattern files: run their inline examples, measure coverage on captures, lint their regexes.');

  withPatternOptions(patterns.command('test'))
    .description('Run every inline example (exit 1 on any failure); with capture files, also print coverage per rule.')
    .argument('[captures...]', 'capture files (plain, .gz or - for standard input) to measure coverage on')
    .option('--near-misses <n>', 'how many near misses to print verbatim', parseCount, 10)
    .addHelpText('after', `
Loads the shipped patterns (unless --no-shipped or patterns.shipped: false), then each --patterns
folder in order; a rule with the same <set>/<id> overrides the shipped one. Every example runs
against the whole set, first match wins, exactly as the bridge matches. A failure prints the
expected and the actual value of each differing field.

With captures: lines seen, matches per rule (rules that never matched included), skipped matches
and why, and near misses (lines that look like VPN events but matched no rule), the first verbatim.

Exit codes: 0 all examples pass; 1 an example failed; 2 a pattern file is invalid.

Examples:
  $ ptim-bridge patterns test
  $ ptim-bridge patterns test --patterns ./my-patterns
  $ ptim-bridge patterns test --patterns ./my-patterns /var/log/messages capture-2026-03.log.gz
  $ zcat old.gz | ptim-bridge patterns test --near-misses 50 -`)
    .action(async (captures: string[], opts: PatternOptions & { nearMisses: number }) => {
      const { set, config } = load(opts);
      const results = runExamples(set);
      const failed = results.filter((r) => r.mismatches.length > 0);
      process.stdout.write(formatExampleFailures(results));
      process.stdout.write(`patterns: ${set.rules.length} rules from ${set.files.length} files; ${results.length - failed.length} of ${results.length} examples pass\n`);
      if (captures.length > 0) {
        if (captures.filter((f) => f === '-').length > 1) throw new BridgeError('ERR_USAGE', 'Standard input (-) can be given only once.');
        const summary = await captureCoverage({ set, files: captures, vpns: config.vpns, nearMissExamples: opts.nearMisses, maxLineBytes: config.limits.maxMessageBytes });
        process.stdout.write(formatCoverage(set, summary));
      }
      if (failed.length > 0) {
        throw new BridgeError('ERR_PATTERN_TEST_FAILED', `${failed.length} of ${results.length} examples failed (see above); fix the rule's regex or the example's expectation, then run again.`);
      }
    });

  withPatternOptions(patterns.command('lint'))
    .description('Flag regexes that can backtrack catastrophically (recheck) and rules no example exercises (exit 1 on findings).')
    .option('--timeout <ms>', 'time limit for the ReDoS check of one regex', parseCount, 30_000)
    .addHelpText('after', `
Each rule's compiled regex (sub-patterns expanded) goes through recheck, a ReDoS checker; a regex it
proves super-linear, or cannot decide within --timeout, is a finding. Where recheck only fuzzes (long
regexes), its attack counts when it reproduces here: grown up to limits.maxMessageBytes, it must make
one match take over 100 ms; otherwise it is printed as a note. A rule that no inline example
expects or matches is a finding too.

Exit codes: 0 no findings; 1 findings; 2 a pattern file is invalid.

Examples:
  $ ptim-bridge patterns lint
  $ ptim-bridge patterns lint --patterns ./my-patterns --timeout 30000`)
    .action(async (opts: PatternOptions & { timeout: number }) => {
      const { set, config } = load(opts);
      const { findings, notes } = await lintPatterns(set, { timeoutMs: opts.timeout, maxAttackLength: config.limits.maxMessageBytes });
      process.stdout.write(formatLintFindings(findings));
      for (const note of notes) process.stdout.write(`note: ${note}\n`);
      process.stdout.write(`lint: ${set.rules.length} rules from ${set.files.length} files; ${findings.length} finding${findings.length === 1 ? '' : 's'}\n`);
      if (findings.length > 0) {
        throw new BridgeError('ERR_PATTERN_LINT_FAILED', `${findings.length} lint finding${findings.length === 1 ? '' : 's'} (see above).`);
      }
    });
}

function withPatternOptions(command: Command): Command {
  return command
    .option('-p, --patterns <dir>', 'extra pattern folder (repeatable; later folders override earlier ones by rule id)', collect, [])
    .option('-c, --config <file>', 'YAML config (patterns.shipped, patterns.dirs, vpns for coverage)')
    .option('--no-shipped', 'leave out the shipped patterns (as patterns.shipped: false)');
}

function load(opts: PatternOptions): { set: PatternSet; config: ReturnType<typeof loadConfig> } {
  const config = loadConfig(opts.config);
  const set = loadPatterns({ shipped: opts.shipped && config.patterns.shipped, dirs: [...config.patterns.dirs, ...opts.patterns] });
  return { set, config };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new BridgeError('ERR_USAGE', `Expected a whole number >= 0, got ${JSON.stringify(value)}.`);
  return n;
}
