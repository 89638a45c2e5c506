import test from 'ava';
import type { Diagnostics } from 'recheck';
import { formatLintFindings, lintPatterns } from '../../src/patterns/lint.js';
import { readFileSync } from 'node:fs';
import { loadPatterns } from '../../src/patterns/load.js';
import { tempDir } from '../helpers/tmp.js';
import { REQUIRED_TAIL, ruleYaml, writeFolder } from './helpers.js';

// recheck's engine can be slow to start on a busy machine; a time limit here is about not hanging.
const timeoutMs = 120_000;

test('the shipped sets lint clean: no ReDoS, every rule exercised', async (t) => {
  const report = await lintPatterns(loadPatterns(), { timeoutMs });
  t.deepEqual(report.findings, [], formatLintFindings(report.findings));
});

test('a regex with nested quantifiers is a finding, with rule, place and attack', async (t) => {
  const dir = writeFolder(tempDir(t), 'p', {
    'bad.yaml': [
      'set: bad',
      'rules:',
      '  - id: nested',
      '    state: up',
      '    tags: [TEST_ALARM]',
      "    prefilter: 'HELLO:'",
      `    regex: 'HELLO : (?<vpn> (?: a+ )+ ) ! ${REQUIRED_TAIL}'`,
      'examples:',
      "  - line: 'TEST_ALARM: HELLO:aa!'",
      '    expect: nested',
      '',
    ].join('\n'),
  });
  const report = await lintPatterns(loadPatterns({ shipped: false, dirs: [dir] }), { timeoutMs });
  t.is(report.findings.length, 1);
  const f = report.findings[0]!;
  t.is(f.kind, 'redos');
  t.is(f.ruleId, 'bad/nested');
  t.is(f.line, 3);
  t.regex(formatLintFindings(report.findings), /bad\.yaml:3: bad\/nested: regex can backtrack catastrophically \(exponential/);
});

test('a rule no example exercises is a finding', async (t) => {
  const dir = writeFolder(tempDir(t), 'p', { 'x.yaml': `set: s\nrules:\n${ruleYaml('lonely')}\n` });
  const report = await lintPatterns(loadPatterns({ shipped: false, dirs: [dir] }), { timeoutMs });
  t.deepEqual(report.findings.map((f) => [f.kind, f.ruleId]), [['unexercised', 's/lonely']]);
  t.regex(formatLintFindings(report.findings), /add one under `examples:` with `expect: s\/lonely`/);
});

test('a fuzzer suspicion that does not reproduce in V8 is a note, not a finding', async (t) => {
  const fuzzed = (source: string, flags: string): Promise<Diagnostics> =>
    Promise.resolve({
      source, flags, status: 'vulnerable', checker: 'fuzz',
      complexity: { type: 'polynomial', degree: 2, summary: '2nd degree polynomial (fuzz)', isFuzz: true },
      attack: { pumps: [{ prefix: 'VPN x from ', pump: '1.1.1.1 is up. ', bias: 0 }], suffix: '\n', base: 10, string: '', pattern: "'VPN x from ' + '1.1.1.1 is up. '.repeat(10) + '\\n'" },
      hotspot: [],
    });
  const report = await lintPatterns(loadPatterns(), { checker: fuzzed, maxAttackLength: 16 * 1024 });
  t.deepEqual(report.findings, []);
  t.is(report.notes.length, 4);
  t.regex(report.notes[0]!, /junos-iked\/vpn-up: recheck's fuzzer suspected 2nd degree polynomial \(fuzz\) backtracking, but its attack grown to \d+ characters matched/);
});

test('an undecided or failing check is a finding', async (t) => {
  const undecided = (source: string, flags: string): Promise<Diagnostics> =>
    Promise.resolve({ source, flags, status: 'unknown', error: { kind: 'timeout' } } as Diagnostics);
  const report = await lintPatterns(loadPatterns(), { checker: undecided, timeoutMs: 5 });
  t.deepEqual(report.findings.map((f) => f.kind), ['redos-unknown', 'redos-unknown', 'redos-unknown', 'redos-unknown']);
  t.regex(formatLintFindings(report.findings), /not decided within 5 ms/);
  const failing = (): Promise<Diagnostics> => Promise.reject(new Error('engine missing'));
  const report2 = await lintPatterns(loadPatterns(), { checker: failing });
  t.regex(formatLintFindings(report2.findings), /the checker failed: engine missing/);
});

test('a rule that is not sealed is a note (the slower scan), not a finding; the shipped rules are sealed', async (t) => {
  const clean: () => Promise<Diagnostics> = () => Promise.resolve({ source: '', flags: '', status: 'safe', checker: 'automaton', complexity: { type: 'linear', summary: 'linear', isFuzz: false }, hotspot: [] } as unknown as Diagnostics);
  const shipped = await lintPatterns(loadPatterns(), { checker: clean });
  t.deepEqual(shipped.notes.filter((n) => /not sealed/.test(n)), []);
  // The shipped iked file with its leading VPN name read by \S+ outside a capture, as it was before.
  const shippedFile = (name: string): string => readFileSync(new URL(`../../patterns/${name}`, import.meta.url), 'utf8');
  const dir = writeFolder(tempDir(t), 'p', {
    'common.yaml': shippedFile('common.yaml'),
    'junos-iked.yaml': shippedFile('junos-iked.yaml').replaceAll('(?<leadVpn>\\S+)', '\\S+'),
  });
  const report = await lintPatterns(loadPatterns({ shipped: false, dirs: [dir] }), { checker: clean });
  t.deepEqual(report.findings, []);
  const notes = report.notes.filter((n) => /not sealed/.test(n));
  t.is(notes.length, 2, notes.join('\n'));
  t.regex(notes[0]!, /junos-iked\.yaml:\d+: junos-iked\/vpn-up: not sealed: each line it matches is also scanned whole for its field labels/);
});
