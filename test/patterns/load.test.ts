import test from 'ava';
import { join } from 'node:path';
import { isBridgeError, type PatternError } from '../../src/errors.js';
import { loadPatterns, SHIPPED_PATTERNS_DIR } from '../../src/patterns/load.js';
import { tempDir } from '../helpers/tmp.js';
import { REQUIRED_TAIL, ruleYaml, writeFolder } from './helpers.js';

test('shipped sets load: kmd and iked, up and down, iked first', (t) => {
  const set = loadPatterns();
  t.deepEqual(set.rules.map((r) => r.id), ['junos-iked/vpn-up', 'junos-iked/vpn-down', 'junos-kmd/vpn-up', 'junos-kmd/vpn-down']);
  t.deepEqual(set.rules.map((r) => r.state), ['up', 'down', 'up', 'down']);
  t.true(set.files.every((f) => f.startsWith(SHIPPED_PATTERNS_DIR)));
  t.true(set.examples.length >= 30);
  // Near-miss markers and prefilters, minus those another literal already covers.
  t.true(set.literals.includes('VPN_UP_ALARM'));
  t.true(set.literals.includes('VPN_DOWN_ALARM'));
  t.true(set.literals.includes(' is up. Local-ip:'));
  for (const rule of set.rules) t.true(set.literals.some((l) => rule.prefilter.includes(l)), rule.id);
});

test('shipped: false with no folders gives an empty set that matches nothing', (t) => {
  const set = loadPatterns({ shipped: false });
  t.is(set.rules.length, 0);
  t.is(set.match('anything'), undefined);
  t.false(set.isNearMiss('IKE_VPN_UP_ALARM_USER'));
});

test('a user folder overrides a shipped rule in place, adds new rules before the shipped ones, and can disable one', (t) => {
  const root = tempDir(t);
  const dir = writeFolder(root, 'mine', {
    'override.yaml': `set: junos-iked\nrules:\n${ruleYaml('vpn-up', { word: 'OVERRIDDEN' })}\n  - id: vpn-down\n    disabled: true\n`,
    'extra.yaml': `set: site\nrules:\n${ruleYaml('custom-up', { word: 'CUSTOM' })}\nexamples:\n  - line: 'TEST_ALARM: CUSTOM:x'\n    expect: custom-up\n    fields: { vpn: x }\n`,
  });
  const set = loadPatterns({ dirs: [dir] });
  t.deepEqual(set.rules.map((r) => r.id), ['site/custom-up', 'junos-iked/vpn-up', 'junos-kmd/vpn-up', 'junos-kmd/vpn-down']);
  t.is(set.rules[1]!.file, join(dir, 'override.yaml'));
  t.deepEqual(set.match('TEST_ALARM: OVERRIDDEN:abc'), { ruleId: 'junos-iked/vpn-up', state: 'up', fields: { vpn: 'abc' }, tag: 'TEST_ALARM', body: 'OVERRIDDEN:abc' });
  t.is(set.match('TEST_ALARM: CUSTOM:zz')?.ruleId, 'site/custom-up');
});

test('a later folder overrides an earlier one; definitions are one namespace a later folder can redefine', (t) => {
  const root = tempDir(t);
  const a = writeFolder(root, 'a', {
    'defs.yaml': `set: defs\ndefinitions:\n  word: 'AAA'\n`,
    'r.yaml': `set: s\nrules:\n  - id: r\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: ':vp'\n    regex: '{{word}} : (?<vpn>\\w+) ${REQUIRED_TAIL}'\n`,
  });
  const b = writeFolder(root, 'b', { 'defs.yaml': `set: defs\ndefinitions:\n  word: 'BBB'\n` });
  t.is(loadPatterns({ shipped: false, dirs: [a] }).match('TEST_ALARM: AAA:vpn1')?.ruleId, 's/r');
  const both = loadPatterns({ shipped: false, dirs: [a, b] });
  t.is(both.match('TEST_ALARM: AAA:vpn1'), undefined);
  t.is(both.match('TEST_ALARM: BBB:vpn1')?.fields.vpn, 'vpn1');
});

test('sub-patterns from common.yaml are usable in a user folder', (t) => {
  const root = tempDir(t);
  const dir = writeFolder(root, 'mine', {
    'r.yaml': `set: mine\nrules:\n  - id: addr\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: 'ADDR '\n    regex: 'ADDR \\s (?<vpn>{{ip}}) ${REQUIRED_TAIL}'\n`,
  });
  const set = loadPatterns({ dirs: [dir] });
  t.is(set.match('TEST_ALARM: ADDR 2001:db8::1')?.fields.vpn, '2001:db8::1');
  t.is(set.match('TEST_ALARM: ADDR 192.0.2.1')?.fields.vpn, '192.0.2.1');
});

interface BadCase {
  title: string;
  files: Record<string, string>;
  file: string;
  line: number;
  ruleId?: string;
  message: RegExp;
}

const bad: BadCase[] = [
  { title: 'bad YAML', files: { 'x.yaml': 'set: s\nrules:\n  - id: [unclosed\n' }, file: 'x.yaml', line: 4, message: /Invalid YAML/ },
  { title: 'duplicate YAML key', files: { 'x.yaml': 'set: s\nset: t\n' }, file: 'x.yaml', line: 2, message: /Invalid YAML/ },
  { title: 'unknown top-level key', files: { 'x.yaml': `set: s\nrulez: []\nrules:\n${ruleYaml('r')}\n` }, file: 'x.yaml', line: 2, message: /Unknown key `rulez`/ },
  { title: 'unknown rule key', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r')}\n    flags: i\n` }, file: 'x.yaml', line: 9, message: /Unknown key `flags`/ },
  { title: 'unknown example key', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r')}\nexamples:\n  - line: 'TEST_ALARM: HELLO:x'\n    expect: r\n    feilds: {}\n` }, file: 'x.yaml', line: 12, message: /Unknown key `feilds`/ },
  { title: 'missing set', files: { 'x.yaml': `rules:\n${ruleYaml('r')}\n` }, file: 'x.yaml', line: 1, message: /`set`/ },
  { title: 'bad state', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r').replace('state: up', 'state: sideways')}\n` }, file: 'x.yaml', line: 4, ruleId: 's/r', message: /up or down, got "sideways"/ },
  { title: 'regex that does not compile', files: { 'x.yaml': `set: s\nrules:\n  - id: r\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: abc\n    regex: '(?<vpn>abc'\n` }, file: 'x.yaml', line: 7, ruleId: 's/r', message: /does not compile/ },
  { title: 'missing required captures', files: { 'x.yaml': `set: s\nrules:\n  - id: r\n    state: down\n    tags: [TEST_ALARM]\n    prefilter: abc\n    regex: '(?<vpn>abc)'\n` }, file: 'x.yaml', line: 7, ruleId: 's/r', message: /\(\?<peer>\.\.\.\).*\(\?<reason>\.\.\.\)/ },
  { title: 'duplicate rule id in a file', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r')}\n${ruleYaml('r')}\n` }, file: 'x.yaml', line: 9, ruleId: 's/r', message: /Duplicate rule id `s\/r`/ },
  { title: 'duplicate rule id across files of one folder', files: { 'a.yaml': `set: s\nrules:\n${ruleYaml('r')}\n`, 'b.yaml': `set: s\nrules:\n${ruleYaml('r')}\n` }, file: 'b.yaml', line: 3, ruleId: 's/r', message: /Duplicate rule id `s\/r` in one folder/ },
  { title: 'undefined sub-pattern', files: { 'x.yaml': `set: s\nrules:\n  - id: r\n    state: up\n    tags: [TEST_ALARM]\n    prefilter: abc\n    regex: '{{nope}} (?<vpn>x) ${REQUIRED_TAIL}'\n` }, file: 'x.yaml', line: 7, ruleId: 's/r', message: /Undefined sub-pattern \{\{nope\}\}/ },
  { title: 'cyclic sub-patterns', files: { 'x.yaml': `set: s\ndefinitions:\n  a: '{{b}}'\n  b: 'x{{a}}'\n` }, file: 'x.yaml', line: 3, message: /refers to itself/ },
  { title: 'sub-pattern that does not compile', files: { 'x.yaml': `set: s\ndefinitions:\n  a: '[x'\n` }, file: 'x.yaml', line: 3, message: /does not compile/ },
  { title: 'prefilter too short', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r', { prefilter: 'a' })}\n` }, file: 'x.yaml', line: 5, ruleId: 's/r', message: /at least 3 characters/ },
  { title: 'disabling a rule nobody defined', files: { 'x.yaml': `set: s\nrules:\n  - id: ghost\n    disabled: true\n` }, file: 'x.yaml', line: 3, ruleId: 's/ghost', message: /no earlier folder defines it/ },
  { title: 'neither rules nor definitions', files: { 'x.yaml': 'set: s\n' }, file: 'x.yaml', line: 1, message: /neither `rules` nor `definitions`/ },
  { title: 'example with a bad expectation', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r')}\nexamples:\n  - line: 'TEST_ALARM: HELLO:x'\n    expect: 'Not A Rule'\n` }, file: 'x.yaml', line: 11, message: /Expected `expect`/ },
  { title: 'a rule without tags', files: { 'x.yaml': `set: s\nrules:\n  - id: r\n    state: up\n    prefilter: abc\n    regex: '(?<vpn>abc) ${REQUIRED_TAIL}'\n` }, file: 'x.yaml', line: 3, ruleId: 's/r', message: /has no `tags`/ },
  { title: 'a tag that is not upper case', files: { 'x.yaml': `set: s\nrules:\n${ruleYaml('r').replace('[TEST_ALARM]', '[vpn_up]')}\n` }, file: 'x.yaml', line: 8, ruleId: 's/r', message: /Expected a tag in upper case/ },
  { title: 'a top level that is a list', files: { 'x.yaml': '- a\n- b\n' }, file: 'x.yaml', line: 1, message: /Expected a mapping/ },
];

for (const c of bad) {
  test(`invalid pattern folder: ${c.title} -> ERR_PATTERN_INVALID with file, line, rule and reason`, (t) => {
    const dir = writeFolder(tempDir(t), 'p', c.files);
    const error = t.throws(() => loadPatterns({ shipped: false, dirs: [dir] }));
    t.true(isBridgeError(error));
    const e = error as PatternError;
    t.is(e.code, 'ERR_PATTERN_INVALID');
    t.is(e.file, join(dir, c.file));
    t.is(e.line, c.line, e.message);
    t.is(e.ruleId, c.ruleId);
    t.regex(e.message, c.message);
    // The CLI prints only the message: it must say where, like the config loader does.
    t.true(e.message.startsWith(`${join(dir, c.file)}:${c.line}: `), e.message);
  });
}

test('a folder that does not exist is ERR_PATTERN_INVALID naming it', (t) => {
  const missing = join(tempDir(t), 'nope');
  const error = t.throws(() => loadPatterns({ dirs: [missing] })) as PatternError;
  t.is(error.code, 'ERR_PATTERN_INVALID');
  t.is(error.file, missing);
  t.regex(error.message, /--patterns/);
});

test('a single file can stand in for a folder', (t) => {
  const dir = writeFolder(tempDir(t), 'p', { 'one.yaml': `set: one\nrules:\n${ruleYaml('r', { word: 'SOLO' })}\n` });
  const set = loadPatterns({ shipped: false, dirs: [join(dir, 'one.yaml')] });
  t.is(set.match('TEST_ALARM: SOLO:x')?.ruleId, 'one/r');
});
