/**
 * Whether a rule is sealed: whether its own shape already guarantees what the whole-message label
 * scan of field-integrity.ts looks for, so that checking its captured values is enough.
 *
 * A rule's regex is anchored at both ends (compile.ts), so a matched message is the rule's fixed
 * text with the variable parts in between. When every variable part is a named capture, a field
 * label can only occur (1) inside the fixed text, (2) inside a captured value, or (3) across a
 * boundary between the two. (1) is the same for every line the rule matches along one path through
 * its optional groups, so it is decided here once; (2) is what `checkFields` checks on every line
 * anyway; (3) is decided here too: a label that reaches across a boundary has a piece of the fixed
 * text next to a capture as its own beginning, end or middle, and whether any label does is a
 * question about the rule's text, not the line's. A sealed rule needs no scan of the message (the
 * scan and the tail of label comparisons cost ~0.5 us of a VPN line, `node bench/field-checks.bench.js`).
 *
 * The reading is deliberately narrow: fixed characters, `\s`/`\ `/`[ ]` for a space (`?`, `*`, `+`
 * allowed on them), named captures (optional or not), and `(?: ... )` groups of the same, plain or
 * optional. Anything else outside a capture (`\S+`, `{{value}}`, a class, `|`, an unnamed group, a
 * quantified literal) is a variable part nobody checks, and the rule is not sealed: it keeps the
 * scan, which is always right, only slower. Pure; the property test in test/patterns/sealed-rule.test.ts
 * holds both readings to the same verdicts.
 */

/** A piece of a rule read as a sequence: fixed text, a capture, or an optional part. */
type Piece =
  | { kind: 'text'; variants: readonly string[] }
  | { kind: 'capture' }
  | { kind: 'optional'; pieces: readonly Piece[] };

/** A rule shape this reading does not cover (the rule keeps the scan). */
class NotSealed extends Error {}

/** Paths through optional parts beyond this are not enumerated (the rule keeps the scan). */
const MAX_PATHS = 4096;

/** Whitespace other than the four blanks the reading skips. */
const UNREAD_BLANK = /[^\S \t\n\r]/;

/** Marks a capture in an enumerated path. */
const CAPTURE = Symbol('capture');
type Path = Array<string | typeof CAPTURE>;

/**
 * True when the rule (its regex source as written, free-spacing, before `{{references}}` are
 * expanded) is sealed against these labels: every message it matches holds a label more than once
 * or inside another field exactly when one of its captured values contains a label.
 */
export function isSealed(source: string, labels: readonly string[]): boolean {
  // `\s` may match any whitespace; for a label it is a space (the worst case: the others end a label).
  if (labels.some((l) => /\s/.test(l.replace(/ /g, '')))) return false;
  // The reading below skips space, tab, CR and LF as blanks; XRegExp's free spacing drops every other
  // whitespace character too (a no-break space, U+2028, U+FEFF...), and it ends an inline comment
  // `(?#...)` at its `)`, where the reading would take a `#` inside it for a line comment. Read
  // differently, a capture's edge could sit elsewhere than this reading thinks, so neither is sealed.
  if (UNREAD_BLANK.test(source) || source.includes('(?#')) return false;
  let pieces: Piece[];
  try {
    const read = readSequence(source, 0, false);
    pieces = read.pieces;
  } catch (error) {
    if (error instanceof NotSealed) return false;
    throw error;
  }
  const paths = expand(pieces);
  if (paths === undefined) return false;
  const checked = new Set<string>();
  for (const path of paths) {
    const segments = segmentsOf(path);
    if (repeatsInFixedText(segments, labels)) return false;
    for (let k = 0; k < segments.length; k++) {
      const text = segments[k]!;
      const afterCapture = k > 0;
      const beforeCapture = k < segments.length - 1;
      const key = `${afterCapture ? 1 : 0}${beforeCapture ? 1 : 0}${text}`;
      if (checked.has(key)) continue;
      checked.add(key);
      if (afterCapture && labels.some((l) => endsAcross(l, text, beforeCapture))) return false;
      if (beforeCapture && labels.some((l) => startsAcross(l, text))) return false;
    }
  }
  return true;
}

/**
 * Whether label `l` can end in (or run through) the fixed text that follows a capture, having begun
 * before it: a start of the text, not the whole label, is the label's end; or, when another capture
 * follows, the whole text sits inside the label with label characters on both sides. An empty text
 * between two captures always can (the two values could hold the halves of a label).
 */
function endsAcross(l: string, text: string, beforeCapture: boolean): boolean {
  for (let j = 1; j <= text.length && j < l.length; j++) if (l.endsWith(text.slice(0, j))) return true;
  if (beforeCapture) {
    for (let p = 1; p + text.length < l.length; p++) if (l.startsWith(text, p)) return true;
  }
  return false;
}

/** Whether label `l` can begin in the fixed text before a capture and end beyond it: an end of the text, not the whole label, is the label's beginning. */
function startsAcross(l: string, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const rest = text.length - i;
    if (rest < l.length && l.startsWith(text.slice(i))) return true;
  }
  return false;
}

/** Whether the fixed text of one path holds a label twice: then the scan refuses every such line, and only the scan can say so. */
function repeatsInFixedText(segments: readonly string[], labels: readonly string[]): boolean {
  // Longest first, as the scan's alternation finds them.
  const ordered = [...labels].sort((a, b) => b.length - a.length);
  const seen = new Set<string>();
  for (const text of segments) {
    for (let i = 0; i < text.length; ) {
      const label = ordered.find((l) => text.startsWith(l, i));
      if (label === undefined) {
        i++;
        continue;
      }
      if (seen.has(label)) return true;
      seen.add(label);
      i += label.length;
    }
  }
  return false;
}

/** A path's fixed texts: one before the first capture, one between each two, one after the last. */
function segmentsOf(path: Path): string[] {
  const segments = [''];
  for (const part of path) {
    if (part === CAPTURE) segments.push('');
    else segments[segments.length - 1] += part;
  }
  return segments;
}

/** Every path through the pieces (each optional part taken or not, each space variant), or undefined beyond MAX_PATHS. */
function expand(pieces: readonly Piece[]): Path[] | undefined {
  let paths: Path[] = [[]];
  for (const piece of pieces) {
    let next: Path[];
    if (piece.kind === 'capture') next = paths.map((p) => [...p, CAPTURE]);
    else if (piece.kind === 'text') next = paths.flatMap((p) => piece.variants.map((v) => [...p, v]));
    else {
      const inner = expand(piece.pieces);
      if (inner === undefined) return undefined;
      next = paths.flatMap((p) => [p, ...inner.map((q) => [...p, ...q])]);
    }
    if (next.length > MAX_PATHS) return undefined;
    paths = next;
  }
  return paths;
}

/**
 * Reads a free-spacing source into pieces, from `start` to the end (or to the `)` that closes the
 * group it is in, when `inGroup`). Throws NotSealed at the first construct outside the narrow reading.
 */
function readSequence(s: string, start: number, inGroup: boolean): { pieces: Piece[]; end: number } {
  const pieces: Piece[] = [];
  let i = start;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl;
      continue;
    }
    if (c === ')') {
      if (!inGroup) throw new NotSealed();
      return { pieces, end: i + 1 };
    }
    if (c === '(') {
      if (s.startsWith('(?<', i) && /[A-Za-z_$]/.test(s[i + 3] ?? '')) {
        const end = groupEnd(s, i);
        const q = quantifierAt(s, end);
        // An optional capture is empty when absent; a repeated one keeps only its last value.
        if (q.kind !== 'none' && q.kind !== 'optional') throw new NotSealed();
        pieces.push({ kind: 'capture' });
        i = q.end;
        continue;
      }
      if (s.startsWith('(?:', i)) {
        const inner = readSequence(s, i + 3, true);
        const q = quantifierAt(s, inner.end);
        if (q.kind === 'none') pieces.push(...inner.pieces);
        else if (q.kind === 'optional') pieces.push({ kind: 'optional', pieces: inner.pieces });
        else throw new NotSealed();
        i = q.end;
        continue;
      }
      throw new NotSealed();
    }
    let text: string;
    let space = false;
    let next: number;
    if (c === '\\') {
      const n = s[i + 1];
      if (n === undefined) throw new NotSealed();
      if (n === 's' || n === ' ') space = true;
      else if (/[A-Za-z0-9]/.test(n)) throw new NotSealed();
      text = n === 's' ? ' ' : n;
      next = i + 2;
    } else if (c === '[') {
      if (!s.startsWith('[ ]', i)) throw new NotSealed();
      space = true;
      text = ' ';
      next = i + 3;
    } else if ('|.?*+{}^$'.includes(c)) {
      // `^` and `$` would be harmless, but a rule has no use for them (compile.ts anchors it).
      throw new NotSealed();
    } else {
      text = c;
      next = i + 1;
    }
    const q = quantifierAt(s, next);
    if (q.kind === 'none') pieces.push({ kind: 'text', variants: [text] });
    else if (q.kind === 'optional') pieces.push({ kind: 'text', variants: ['', text] });
    // One space stands for a run of them: a label holds single spaces, so a longer run only splits it.
    else if (space && q.kind === 'any') pieces.push({ kind: 'text', variants: ['', ' '] });
    else if (space && q.kind === 'some') pieces.push({ kind: 'text', variants: [' '] });
    else throw new NotSealed();
    i = q.end;
  }
  if (inGroup) throw new NotSealed();
  return { pieces, end: i };
}

/** The quantifier after position `i` (free-spacing: blanks and comments may come between), and where it ends. */
function quantifierAt(s: string, i: number): { kind: 'none' | 'optional' | 'any' | 'some' | 'other'; end: number } {
  let j = i;
  for (;;) {
    const c = s[j];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') j++;
    else if (c === '#') {
      const nl = s.indexOf('\n', j);
      j = nl < 0 ? s.length : nl;
    } else break;
  }
  const c = s[j];
  const kind = c === '?' ? 'optional' : c === '*' ? 'any' : c === '+' ? 'some' : c === '{' && !s.startsWith('{{', j) ? 'other' : 'none';
  if (kind === 'none') return { kind, end: i };
  // A lazy or possessive mark changes how, not what, the quantifier matches.
  const end = s[j + 1] === '?' || s[j + 1] === '+' ? j + 2 : j + 1;
  return { kind, end };
}

/** The index just past the `)` that closes the group opening at `open` (escapes, classes and comments skipped). */
function groupEnd(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      for (i++; i < s.length && s[i] !== ']'; i++) if (s[i] === '\\') i++;
    } else if (c === '#') {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new NotSealed();
}
