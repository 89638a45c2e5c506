import type { Command } from 'commander';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import type { PatternSet } from '../patterns/pattern-set.js';
import { repeatable } from './repeatable.js';

interface PatternOptions {
  patterns: string[];
  config?: string;
  shipped: boolean;
}

/** `ptim-bridge patterns test|lint`: the regex tuning bench. */
export function registerPatternsCommand(program: Command): void {
  const patterns = program
    .command('patterns')
    .description('Check pattern files: run their inline examples, measure coverage on captures, lint their regexes.')
    .addHelpText('after', `
Pattern files are YAML (format: patterns/README.md). The shipped ones live in patterns/; add yours
with --patterns DIR (repeatable) or patterns.dirs in the config.

Examples:
  $ ptim-bridge patterns test --patterns ./my-patterns /var/log/messages
  $ ptim-bridge patterns match 'KMD_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.41 is up. ...'
  $ ptim-bridge patterns lint --patterns ./my-patterns`);

  withPatternOptions(patterns.command('test'))
    .description('Run every inline example (exit 1 on any failure); with capture files, also print coverage per rule.')
    .argument('[captures...]', 'capture files (plain text, .gz, pcap/pcapng of syslog over UDP, or - for standard input) to measure coverage on')
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
      const { set, config } = await load(opts);
      const { formatExampleFailures, runExamples } = await import('../patterns/examples.js');
      const results = runExamples(set);
      const failed = results.filter((r) => r.mismatches.length > 0);
      const skipped = results.filter((r) => r.skipped).length;
      process.stdout.write(formatRules(set));
      process.stdout.write(formatExampleFailures(results));
      const run = results.length - skipped;
      process.stdout.write(`patterns: ${set.rules.length} rules from ${set.files.length} files; ${run - failed.length} of ${run} examples pass${skipped > 0 ? ` (${skipped} skipped: their rule is disabled)` : ''}\n`);
      if (captures.length > 0) {
        if (captures.filter((f) => f === '-').length > 1) throw new BridgeError('ERR_USAGE', 'Standard input (-) can be given only once.');
        const { captureCoverage, formatCoverage } = await import('../patterns/coverage.js');
        const summary = await captureCoverage({ set, files: captures, vpns: config.vpns, nearMissExamples: opts.nearMisses, maxLineBytes: config.limits.maxMessageBytes });
        process.stdout.write(formatCoverage(set, summary));
      }
      if (failed.length > 0) {
        throw new BridgeError('ERR_PATTERN_TEST_FAILED', `${failed.length} of ${results.length} examples failed (see above); fix the rule's regex or the example's expectation, then run again.`);
      }
    });

  withPatternOptions(patterns.command('match'))
    .description('Show what the patterns make of log lines: the rule and fields, or where each candidate rule stopped matching.')
    .argument('[lines...]', 'log lines (any syslog form); none: one per line from standard input')
    .addHelpText('after', `
Prints one JSON object per line: {text, ruleId, state, fields, identity} for a match, where
identity is what the bridge would map (user, domain, ip, device, vpn, and the event: connect for an
UP, or a rekey when that session is live; disconnect for a DOWN), or {skipped: reason} when the
match holds no identity (a site-to-site tunnel, a group IKE id); for no match,
{text, ruleId: null, nearMiss, misses: [{ruleId, stopsAt: file:line, regex, column, textThere}]} for
every rule whose prefilter occurs in the text. The text is what the bridge matches on (the envelope's
message, with the tag in front).

Examples:
  $ ptim-bridge patterns match 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: ...'
  $ grep VPN_UP_ALARM /var/log/messages | head -5 | ptim-bridge patterns match --patterns ./my-patterns`)
    .action(async (lines: string[], opts: PatternOptions) => {
      const [{ set, config }, { describeLine }, { createInterface }] = await Promise.all([load(opts), import('./describe-line.js'), import('node:readline')]);
      const print = (line: string): void => {
        process.stdout.write(`${JSON.stringify(describeLine(set, line, config.vpns))}\n`);
      };
      if (lines.length > 0) {
        lines.forEach(print);
        return;
      }
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) if (line !== '') print(line);
    });

  withPatternOptions(patterns.command('lint'))
    .description('Flag regexes that can backtrack catastrophically (recheck) and rules no example exercises (exit 1 on findings).')
    .option('--timeout <ms>', 'time limit for the ReDoS check of one regex', parseCount, 30_000)
    .addHelpText('after', `
Each rule's compiled regex (sub-patterns expanded) goes through recheck, a ReDoS checker; a regex it
proves super-linear, or cannot decide within --timeout, is a finding. Where recheck only fuzzes (long
regexes), its attack counts when it reproduces here: grown up to limits.maxMessageBytes, it must make
one match take over 100 ms on V8's backtracking engine; otherwise it is printed as a note. Each rule
is also checked in parts (from one repeated item to the next), where recheck can prove a nested
quantifier vulnerable. At run time such a rule cannot stall the bridge (a match that backtracks is
finished on V8's linear-time engine), but each line that triggers it is slow. A rule that no inline
example expects or matches is a finding too. A rule that is not sealed (a variable part outside a
named capture: its lines are also scanned whole for field labels) is a note.

Exit codes: 0 no findings; 1 findings; 2 a pattern file is invalid.

Examples:
  $ ptim-bridge patterns lint
  $ ptim-bridge patterns lint --patterns ./my-patterns --timeout 30000`)
    .action(async (opts: PatternOptions & { timeout: number }) => {
      const { set, config } = await load(opts);
      // Loaded here, not at start: the ReDoS checker is large, and every other command would pay for it.
      const { formatLintFindings, lintPatterns } = await import('../patterns/lint.js');
      const { findings, notes } = await lintPatterns(set, { timeoutMs: opts.timeout, maxAttackLength: config.limits.maxMessageBytes });
      process.stdout.write(formatLintFindings(findings));
      for (const note of notes) process.stdout.write(`note: ${note}\n`);
      process.stdout.write(`lint: ${set.rules.length} rules from ${set.files.length} files; ${findings.length} finding${findings.length === 1 ? '' : 's'}\n`);
      if (findings.length > 0) {
        throw new BridgeError('ERR_PATTERN_LINT_FAILED', `${findings.length} lint finding${findings.length === 1 ? '' : 's'} (see above).`);
      }
    });
}

/** The loaded rules in match order (first match wins), with where each comes from. */
function formatRules(set: PatternSet): string {
  const width = Math.max(0, ...set.rules.map((r) => r.id.length));
  const lines = set.rules.map((r, i) => `  ${String(i + 1).padStart(2)}. ${r.id.padEnd(width)}  ${r.state.padEnd(4)}  ${r.file}:${r.line}`);
  if (set.disabled.length > 0) lines.push(`  disabled: ${set.disabled.join(', ')}`);
  return `rules (first match wins):\n${lines.join('\n')}\n`;
}

function withPatternOptions(command: Command): Command {
  return command
    .option('-p, --patterns <dir>', 'extra pattern folder or file (repeatable; later ones override earlier rules by id)', repeatable, [])
    .option('-c, --config <file>', 'YAML config (patterns.shipped, patterns.dirs, vpns for coverage)')
    .option('--no-shipped', 'leave out the shipped patterns (as patterns.shipped: false)');
}

/** The config and the pattern set; their modules (YAML, the schema, XRegExp) load here, not at start-up (src/cli.ts). */
async function load(opts: PatternOptions): Promise<{ set: PatternSet; config: Config }> {
  const [{ loadConfig }, { loadPatterns }] = await Promise.all([import('../config.js'), import('../patterns/load.js')]);
  const config = loadConfig(opts.config);
  const set = loadPatterns({ shipped: opts.shipped && config.patterns.shipped, dirs: [...config.patterns.dirs, ...opts.patterns] });
  return { set, config };
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new BridgeError('ERR_USAGE', `Expected a whole number >= 0, got ${JSON.stringify(value)}.`);
  return n;
}
