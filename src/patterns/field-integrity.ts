import { escapeRegExp } from '../regexp-escape.js';

/**
 * Field integrity: the checks that keep text a VPN client chooses (its IKE id, its AAA user name)
 * from supplying the fields that follow it. A rule's regex reads each field at its place; these
 * checks refuse the lines where that reading is not the only one. Pure; used by the pattern set for
 * every line a rule matched, so a user's own rules get them without writing anything.
 */

/** Why a line that claims to be a VPN alarm is not turned into an event. */
export type RejectReason =
  /** A field label appears twice, or inside another field's value: the fields cannot be told apart. */
  | 'ambiguous-fields'
  /** CR, LF, NUL, another control character, an invisible format character (bidi override, zero-width) or a space other than U+0020 inside the message (outside fields the bridge ignores). */
  | 'control-characters'
  /** The alarm's tag came from a daemon that does not write it (`logger -t sshd IKE_VPN_...`). */
  | 'foreign-daemon'
  /** The line's host is not a device its sender is bound to (config `devices:`). */
  | 'device-not-bound';

export const REJECT_REASONS: readonly RejectReason[] = ['ambiguous-fields', 'control-characters', 'foreign-daemon', 'device-not-bound'];

/** One sentence per refusal reason, for people (patterns match, README). */
export const REJECT_WHY: Readonly<Record<RejectReason, string>> = {
  'ambiguous-fields': 'a field label appears twice or inside a field, so a client-chosen value could supply later fields',
  'control-characters': 'CR, LF, NUL, another control or invisible character, or a space other than U+0020, inside a field the bridge reads',
  'foreign-daemon': 'the tag came from a daemon that does not write it',
  'device-not-bound': 'the line names a device its sender is not bound to (config devices:)',
};

/**
 * The field labels of a rule, read from its regex source: every literal `Label:` (words joined by
 * single spaces, ending in a colon) that the regex spells out, e.g. `AAA \s username: \s` gives
 * `AAA username:`. Sub-pattern references, groups and classes end a literal, so a label is only
 * what the rule writes as fixed text. Labels of fields the rule does not capture count too
 * (`remote tunnel-ip:`): an attacker's copy of one shifts the fields just the same.
 */
export function fieldLabels(source: string): string[] {
  const labels = new Set<string>();
  for (const literal of literalRuns(source)) {
    for (const piece of literal.split(',')) {
      const m = LABEL_AT_END.exec(piece);
      if (m) labels.add(m[1]!);
    }
  }
  return [...labels];
}

// Words of letters, digits, `-`, `_`, `/`, joined by single spaces, ending in `:` at the end of a
// literal piece, or before only punctuation that opens the value (`Reason: \s "` yields `Reason:`,
// as do `user: '` and `id: \(`). `.` is not a word character, so `is up. Local-ip:` yields `Local-ip:`.
const LABEL_AT_END = /([A-Za-z][A-Za-z0-9_/-]*(?: [A-Za-z][A-Za-z0-9_/-]*)*:) ?[^A-Za-z0-9 :]*$/;

/**
 * The runs of fixed text a free-spacing regex source matches: whitespace is skipped, `\s`, `\ ` and
 * `[ ]` stand for a space, an escaped punctuation character for itself; anything else (groups,
 * classes, quantifiers, `{{references}}`, `\d`...) ends the run.
 */
function literalRuns(source: string): string[] {
  const runs: string[] = [];
  let run = '';
  const flush = (): void => {
    if (run !== '') runs.push(run);
    run = '';
  };
  const s = source;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '#') {
      // A comment runs to the end of the line (free-spacing mode).
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (c === '\\') {
      const n = s[i + 1];
      i++;
      if (n === 's' || n === ' ') run += ' ';
      else if (n !== undefined && /[^A-Za-z0-9]/.test(n)) run += n;
      else flush();
      continue;
    }
    if (c === '[' && s.startsWith('[ ]', i)) {
      run += ' ';
      i += 2;
      continue;
    }
    if (/[A-Za-z0-9:,=@'"/_-]/.test(c)) {
      // A quantifier binds to the character before it: `ab?` has only `a` as fixed text.
      const next = s[i + 1];
      if (next === '?' || next === '*' || next === '+' || next === '{') {
        flush();
        continue;
      }
      run += c;
      continue;
    }
    flush();
  }
  flush();
  return runs;
}

// C0 controls, DEL, C1 controls, the Unicode line and paragraph separators, the invisible format
// characters (zero-width, bidi embeddings and overrides) that make a user name read as another one
// in a log or a policy table, and every space but U+0020: a rule's `\s` matches them, so a user name
// holding `VR\u00a0id:\u00a0` reads like the next field, and a trim turns `alice\u3000` into alice.
const CONTROL = /[\u0000-\u001f\u007f-\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2066-\u2069\u3000\ufeff]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');
// Printable ASCII, the whole of nearly every message: testing this class first costs less than half
// of testing CONTROL, whose ranges beyond Latin-1 make every character a range search.
const OUTSIDE_PRINTABLE_ASCII = /[^ -~]/;
// Never acceptable anywhere: they end or split a line for whoever reads it next.
const LINE_BREAKING = /[\r\n\u0000\u2028\u2029]/;

/**
 * True when a message holds a line break or NUL: whatever follows it could pose as another line.
 * Checked before any regex runs (a field regex stops at the break, which would make the line a
 * mere near miss).
 */
export function breaksLines(body: string): boolean {
  return LINE_BREAKING.test(body);
}

/**
 * A rule's labels, compiled for the checks: one regex that finds them all, longest first. Every
 * label ends in `:` and holds no other colon, so a left-to-right scan with it finds at each colon
 * the longest label ending there, as a search for each label would, and two occurrences never
 * overlap. `node bench/field-checks.bench.js`: both checks 0.79 us on a VPN line (0.94 when repeats
 * were looked for pairwise); visiting every colon with a lookup of the labels ending there cost
 * more than the one scan (0.64-0.72 against 0.55 us for that part, measured).
 */
export interface LabelSet {
  readonly labels: readonly string[];
  /** Any of the labels (sticky-free, global: the scan keeps `lastIndex`); undefined when there are none. */
  readonly any: RegExp | undefined;
  /**
   * Each label's bit, at `keyOf(label)` (its length and first character), when no two labels share
   * a key; undefined otherwise. Every occurrence the scan finds is one of the labels, so its key
   * names it: a repeat is a bit already set, found without comparing the occurrences' text
   * pairwise (that comparison was a sixth of the checks' time on a VPN line: 0.94 -> 0.79 us).
   */
  readonly bits: Uint32Array | undefined;
}

export function labelSet(labels: readonly string[]): LabelSet {
  const longestFirst = [...new Set(labels)].sort((a, b) => b.length - a.length);
  const any = longestFirst.length === 0 ? undefined : new RegExp(longestFirst.map(escapeRegExp).join('|'), 'g');
  const longest = longestFirst[0]?.length ?? 0;
  let bits: Uint32Array | undefined = new Uint32Array((longest + 1) * FIRST_CHARS);
  for (let i = 0; i < longestFirst.length; i++) {
    const label = longestFirst[i]!;
    const key = keyOf(label);
    // 32 bits in one integer; a key twice cannot tell its labels apart (nor one of a label that
    // does not start with a letter, which labelSet's callers other than fieldLabels may pass).
    if (i === 32 || !/^[A-Za-z]/.test(label) || bits[key] !== 0) {
      bits = undefined;
      break;
    }
    bits[key] = 2 ** i;
  }
  return { labels, any, bits };
}

// A label starts with a letter (LABEL_AT_END): 'A' (65) to 'z' (122).
const FIRST_CHARS = 58;

function keyOf(label: string): number {
  return label.length * FIRST_CHARS + label.charCodeAt(0) - 65;
}

/**
 * Whether the message holds no control character at all: the common case, in which `checkFields`
 * need not look for them field by field. Computed once by the caller (before the regex runs, to
 * refuse line breaks early) and passed on.
 */
export function hasControlCharacters(body: string): boolean {
  return OUTSIDE_PRINTABLE_ASCII.test(body) && CONTROL.test(body);
}

/**
 * Checks one matched line (already free of line breaks: `breaksLines`). `fields` are the rule's captures (absent = did not take part), `read`
 * the captures the bridge uses (the normalizer's); garbage in a field nobody reads is tolerated
 * (kmd writes binary junk into Local IKE-ID), garbage anywhere else is not. `controls` is
 * `hasControlCharacters(body)` when the caller knows it. `sealed` is the rule's `isSealed`
 * (sealed-rule.ts): then a label can only be out of place inside a captured value, and the
 * whole-message scan for repeats is skipped.
 * Returns the reason to reject the line, or undefined when it is sound.
 */
export function checkFields(
  body: string,
  fields: Readonly<Record<string, string>>,
  labels: LabelSet,
  read: ReadonlySet<string>,
  controls = hasControlCharacters(body),
  sealed = false,
): RejectReason | undefined {
  if (controls && hasBadControl(body, fields, read)) return 'control-characters';
  const any = labels.any;
  if (any === undefined) return undefined;
  for (const name in fields) {
    const value = fields[name]!;
    // Every label ends in ':'; a value without one cannot contain a label.
    if (value.indexOf(':') < 0) continue;
    any.lastIndex = 0;
    if (any.test(value)) return 'ambiguous-fields';
  }
  if (sealed) return undefined;
  // Each label at most once in the whole message: all occurrences in one call, then a look for a
  // repeat (by the labels' bits, or pairwise when two labels share a key; a message has about fifteen).
  const found = body.match(any);
  if (found === null) return undefined;
  const bits = labels.bits;
  if (bits !== undefined) {
    let seen = 0;
    for (let i = 0; i < found.length; i++) {
      const bit = bits[keyOf(found[i]!)]!;
      if ((seen & bit) !== 0) return 'ambiguous-fields';
      seen = (seen | bit) >>> 0;
    }
    return undefined;
  }
  for (let i = 1; i < found.length; i++) {
    if (found.indexOf(found[i]!) < i) return 'ambiguous-fields';
  }
  return undefined;
}

function hasBadControl(body: string, fields: Readonly<Record<string, string>>, read: ReadonlySet<string>): boolean {
  let tolerated = 0;
  for (const name in fields) {
    const value = fields[name]!;
    if (!CONTROL.test(value)) continue;
    if (read.has(name)) return true;
    tolerated += value.match(CONTROL_ALL)!.length;
  }
  return body.match(CONTROL_ALL)!.length > tolerated;
}
