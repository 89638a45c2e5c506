import test from 'ava';
import fc from 'fast-check';
import { checkFields, fieldLabels, labelSet } from '../../src/patterns/field-integrity.js';

// The label checks find every label in one scan and look for a repeat by the labels' bits
// (field-integrity.ts). This holds them to the plain definition: a left-to-right scan for any label, longest first, finds each
// label at most once in the message, and no field value contains a label.
const LABELS = ['Local IKE-ID:', 'Remote IKE-ID:', 'AAA username:', 'VR id:', 'Traffic-selector:', 'Traffic-selector local ID:', 'Traffic-selector remote ID:', 'tunnel-id:', 'ID:', 'id:', 'SA Type:'];
const set = labelSet(LABELS);
const READ = new Set<string>(['user']);

function reference(body: string, fields: Record<string, string>, labels: readonly string[] = LABELS): 'ambiguous-fields' | undefined {
  const source = [...labels].sort((a, b) => b.length - a.length).map((l) => l.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|');
  const any = new RegExp(source);
  for (const value of Object.values(fields)) if (any.test(value)) return 'ambiguous-fields';
  const seen = new Set<string>();
  for (const m of body.matchAll(new RegExp(source, 'g'))) {
    if (seen.has(m[0])) return 'ambiguous-fields';
    seen.add(m[0]);
  }
  return undefined;
}

const piece = fc.oneof(fc.constantFrom(...LABELS, ' ', ', ', ':', 'IKE-', 'Traffic-selector ', 'remote ', 'x', 'D:', 'd:', 'ID', '::'), fc.string({ maxLength: 3 }));
const text = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''));

test('the colon scan finds exactly what a left-to-right scan for the labels finds', (t) => {
  fc.assert(
    fc.property(text, text, (body, value) => {
      const fields = { user: value };
      const message = `${body}${value}`;
      return checkFields(message, fields, set, READ, false) === reference(message, fields);
    }),
    { numRuns: 20_000 },
  );
  t.pass();
});

// Two labels of the same length and first letter: the repeat is found by comparing occurrences
// (labelSet keeps no bits), and must agree with the reference just the same.
const TWINS = [...LABELS, 'Axx username:', 'Sx Type:'];
const twins = labelSet(TWINS);

test('labels that share a length and first letter are told apart as well', (t) => {
  t.is(twins.bits, undefined);
  t.not(set.bits, undefined);
  const twinText = fc.array(fc.oneof(fc.constantFrom(...TWINS, ', ', 'x'), fc.string({ maxLength: 2 })), { maxLength: 10 }).map((p) => p.join(''));
  fc.assert(
    fc.property(twinText, text, (body, value) => {
      const fields = { user: value };
      const message = `${body}${value}`;
      return checkFields(message, fields, twins, READ, false) === reference(message, fields, TWINS);
    }),
    { numRuns: 10_000 },
  );
  t.is(checkFields('AAA username: a, Axx username: b', {}, twins, READ, false), undefined);
  t.is(checkFields('AAA username: a, Axx username: b, AAA username: c', {}, twins, READ, false), 'ambiguous-fields');
});

test('a label twice, a label inside a value, and the longest label at a colon', (t) => {
  t.is(checkFields('AAA username: bob, VR id: root, AAA username: eve', { user: 'bob' }, set, READ, false), 'ambiguous-fields');
  t.is(checkFields('AAA username: bob, VR id: root', { user: 'bob, VR id: x' }, set, READ, false), 'ambiguous-fields');
  // `Remote IKE-ID:` and `Local IKE-ID:` are not two `ID:`s, nor `Traffic-selector local ID:` a `Traffic-selector:`.
  t.is(checkFields('Local IKE-ID: a, Remote IKE-ID: b, Traffic-selector: t, Traffic-selector local ID: l', {}, set, READ, false), undefined);
  t.is(checkFields('Local IKE-ID: a, ID: b, ID: c', {}, set, READ, false), 'ambiguous-fields');
  t.is(checkFields(':::: : x:', {}, set, READ, false), undefined);
});

test('a rule\'s labels are its fixed `Words:`, also before the punctuation that opens a quoted or bracketed value', (t) => {
  t.deepEqual(fieldLabels('AAA \\s username: \\s (?<aaaUser>[^,]*) , \\s VR \\s id: \\s (?<vr>[^,]*)'), ['AAA username:', 'VR id:']);
  // A label before a quote was missed once: a value holding `Reason: "` went unchecked.
  t.deepEqual(fieldLabels('Reason: \\s " (?<reason>[^"]*) "'), ['Reason:']);
  t.deepEqual(fieldLabels("user: \\s ' (?<aaaUser>[^']*) '"), ['user:']);
  t.deepEqual(fieldLabels('peer \\s id: \\s \\( (?<peer>[^)]*) \\)'), ['peer id:']);
  // Fixed text after the colon that holds a word is a value, not a label's end.
  t.deepEqual(fieldLabels('remote \\s ID: \\s ipv4\\( (?<ts>[^)]*) \\)'), []);
});
