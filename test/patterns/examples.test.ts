import test from 'ava';
import { formatExampleFailures, runExample, runExamples } from '../../src/patterns/examples.js';
import { loadPatterns } from '../../src/patterns/load.js';
import type { ExampleSource } from '../../src/patterns/pattern-file.js';
import { tempDir } from '../helpers/tmp.js';
import { writeFolder } from './helpers.js';

const set = loadPatterns();
const LINE = 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';

const example = (over: Partial<ExampleSource>): ExampleSource => ({
  text: LINE, expect: { kind: 'rule', ruleId: 'junos-iked/vpn-up' }, fields: {}, file: 'mine.yaml', line: 7, ...over,
});

test('a passing example has no mismatches', (t) => {
  t.deepEqual(runExample(set, example({ fields: { aaaUser: 'alice', reason: null } })).mismatches, []);
});

test('wrong and unexpected fields are each reported with expected and actual values', (t) => {
  const r = runExample(set, example({ name: 'fields', fields: { aaaUser: 'bob', tsName: null, serviceOffload: 'No' } }));
  t.deepEqual(r.mismatches, [
    { what: 'aaaUser', expected: '"bob"', got: '"alice"' },
    { what: 'tsName', expected: '(absent)', got: '"ts1"' },
    { what: 'serviceOffload', expected: '"No"', got: '(absent)' },
  ]);
  const text = formatExampleFailures([r]);
  t.true(text.startsWith('FAIL mine.yaml:7 "fields"\n'));
  t.regex(text, /aaaUser\s+expected "bob"\n\s+got "alice"/);
});

test('a line that matches no rule says whether the prefilter was found', (t) => {
  const r = runExample(set, example({ text: LINE.replace('gateway name', 'gw name') }));
  t.is(r.mismatches[0]?.what, 'rule');
  t.regex(r.mismatches[0]!.got, /prefilter found for junos-iked\/vpn-up, but the regex did not match/);
  const noLiteral = runExample(set, example({ text: 'IKE_VPN_UP_ALARM_USER: hello' }));
  t.regex(noLiteral.mismatches[0]!.got, /no rule's prefilter occurs/);
  const untagged = runExample(set, example({ text: 'hello' }));
  t.regex(untagged.mismatches[0]!.got, /the message does not start with a tag; junos-iked\/vpn-up reads IKE_VPN_UP_ALARM_USER/);
  const otherTag = runExample(set, example({ text: LINE.replace('IKE_VPN_UP_ALARM_USER', 'UI_CMDLINE_READ_LINE') }));
  t.regex(otherTag.mismatches[0]!.got, /the message's tag is UI_CMDLINE_READ_LINE/);
});

test('expecting a rule that is not loaded says so', (t) => {
  const r = runExample(set, example({ expect: { kind: 'rule', ruleId: 'nope/vpn-up' } }));
  t.is(r.mismatches[0]?.expected, 'nope/vpn-up (no such rule is loaded)');
  t.is(r.mismatches[0]?.got, 'junos-iked/vpn-up');
});

test('no-match and near-miss expectations', (t) => {
  t.is(runExample(set, example({ expect: { kind: 'no-match' } })).mismatches[0]?.got, 'junos-iked/vpn-up');
  t.deepEqual(runExample(set, example({ text: 'sshd: hello', expect: { kind: 'no-match' } })).mismatches, []);
  t.is(runExample(set, example({ text: 'sshd: hello', expect: { kind: 'near-miss' } })).mismatches[0]?.what, 'near miss');
  t.deepEqual(runExample(set, example({ text: 'IKE_VPN_UP_ALARM_USER: ?', expect: { kind: 'near-miss' } })).mismatches, []);
});

test('a miss is explained: the regex line where the expected rule stops, and the text at that point', (t) => {
  // explain reads the text after the tag, as the rule does.
  const text = LINE.replace('AAA username: alice', 'AAA user: alice').slice('IKE_VPN_UP_ALARM_USER: '.length);
  const why = set.explain('junos-iked/vpn-up', text);
  t.truthy(why);
  t.is(why!.fromRegexLine, 11);
  t.is(why!.regexText, 'AAA \\s username: \\s (?<aaaUser>{{value}}) , \\s');
  t.is(text.slice(why!.offset).slice(0, 15), 'AAA user: alice');
  const rule = set.rules.find((r) => r.id === 'junos-iked/vpn-up')!;
  t.is(why!.fileLine, rule.regexLine + 11);
  const report = formatExampleFailures([runExample(set, example({ text: `IKE_VPN_UP_ALARM_USER: ${text}`, name: 'renamed field' }))]);
  t.regex(report, /junos-iked\/vpn-up stops at regex line 11 \(.*junos-iked\.yaml:\d+\): AAA \\s username:/);
  t.regex(report, /text at that point \(column \d+\): .*\|AAA user: alice/);
  t.is(set.explain('junos-iked/vpn-up', LINE.slice('IKE_VPN_UP_ALARM_USER: '.length)), undefined, 'nothing to explain when it matches');
});

test('examples expecting a rule a user folder disabled are skipped, not failed', (t) => {
  const dir = writeFolder(tempDir(t), 'mine', { 'off.yaml': 'set: junos-iked\nrules:\n  - id: vpn-down\n    disabled: true\n' });
  const withOff = loadPatterns({ dirs: [dir] });
  t.deepEqual(withOff.disabled, ['junos-iked/vpn-down']);
  const results = runExamples(withOff);
  t.is(formatExampleFailures(results), '');
  const skipped = results.filter((r) => r.skipped);
  t.true(skipped.length >= 5);
  // ...and those expecting a refusal that no loaded rule gives any more (the refusing rule is gone).
  t.true(skipped.every((r) => (r.example.expect.kind === 'rule' && r.example.expect.ruleId === 'junos-iked/vpn-down') || (r.example.expect.kind === 'rejected' && r.recognition.kind !== 'rejected')));
  t.true(skipped.some((r) => r.example.expect.kind === 'rejected'));
});
