import { LineCounter, isMap, isNode, parseDocument, type Document } from 'yaml';
import { describeValue, PatternError } from '../errors.js';
import type { LineState } from '../events/ptim-event.js';
import { isTagName } from './alarm-message.js';
import { REJECT_REASONS, type RejectReason } from './field-integrity.js';

/**
 * One pattern file, parsed and shape-checked but not yet compiled: the format documented in
 * patterns/README.md. Every piece remembers its file and line so later stages (regex compile,
 * capture checks, examples) can point the operator at the exact place to fix.
 */
export interface PatternFile {
  file: string;
  set: string;
  description?: string;
  nearMiss: readonly string[];
  definitions: readonly DefinitionSource[];
  rules: readonly RuleSource[];
  examples: readonly ExampleSource[];
}

export interface DefinitionSource {
  name: string;
  source: string;
  file: string;
  line: number;
}

export type RuleSource =
  | {
    kind: 'rule'; id: string; ruleId: string; state: LineState;
    /** The tags whose messages the rule reads (the message must start with one). */
    tags: readonly string[];
    /** The daemons that write them; a line naming another daemon is refused. Empty = any. */
    daemons: readonly string[];
    prefilter: string; regex: string; description?: string; file: string; line: number; regexLine: number;
  }
  | { kind: 'disabled'; id: string; ruleId: string; file: string; line: number };

/** What an example expects: a rule (by full id), no rule at all, or no rule but a near miss. */
export type ExampleExpectation =
  | { kind: 'rule'; ruleId: string }
  | { kind: 'no-match' }
  | { kind: 'near-miss' }
  /** A rule matched but the line is refused (field integrity, foreign daemon); `reason` when given. */
  | { kind: 'rejected'; reason?: RejectReason };

export interface ExampleSource {
  name?: string;
  text: string;
  expect: ExampleExpectation;
  /** Field -> expected value; `null` means the field must be absent. */
  fields: Readonly<Record<string, string | null>>;
  file: string;
  line: number;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const DEFINITION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOP_KEYS = ['set', 'description', 'nearMiss', 'definitions', 'rules', 'examples'] as const;
const RULE_KEYS = ['id', 'state', 'tags', 'daemons', 'prefilter', 'regex', 'description', 'disabled'] as const;
const DAEMON = /^[^\s[\]:]{1,64}$/;
const EXAMPLE_KEYS = ['name', 'line', 'expect', 'reason', 'fields'] as const;

type Path = ReadonlyArray<string | number>;

/**
 * Parses and validates the text of one pattern file.
 * @throws PatternError (ERR_PATTERN_INVALID) naming the file, the line and what to change, on bad
 *   YAML, duplicate or unknown keys, wrong types, bad ids, or rules missing `state`/`prefilter`/`regex`.
 */
export function parsePatternFile(text: string, file: string): PatternFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0].line;
    const reason = first.message.split('\n')[0] ?? first.message;
    throw patternError(`Invalid YAML: ${reason}`, { file, ...(line === undefined ? {} : { line }) });
  }
  const v = new Validator(doc, lineCounter, file);
  const root: unknown = doc.toJS();
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw v.fail([], `Expected a mapping with \`set\` and \`rules\` or \`definitions\` at the top level, got ${describeValue(root)}`);
  }
  const top = root as Record<string, unknown>;
  v.keys(top, [], TOP_KEYS, 'the top level');

  const set = v.name(top.set, ['set'], 'a set name');
  const description = v.optionalString(top.description, ['description']);
  const nearMiss = v.list(top.nearMiss, ['nearMiss']).map((item, i) => {
    const s = v.string(item, ['nearMiss', i], 'a literal text (at least 3 characters)');
    if (s.length < 3) throw v.fail(['nearMiss', i], `Expected a near-miss literal of at least 3 characters, got ${describeValue(s)}: shorter ones would flag ordinary lines`);
    return s;
  });

  const definitions: DefinitionSource[] = [];
  if (top.definitions !== undefined) {
    if (top.definitions === null || typeof top.definitions !== 'object' || Array.isArray(top.definitions)) {
      throw v.fail(['definitions'], `Expected \`definitions\` to map names to regex sources, got ${describeValue(top.definitions)}`);
    }
    for (const [name, source] of Object.entries(top.definitions as Record<string, unknown>)) {
      if (!DEFINITION_NAME.test(name)) {
        throw v.failKey(['definitions'], name, `Expected a definition name of letters, digits and _ (used as {{${name}}}), got ${JSON.stringify(name)}`);
      }
      const src = v.string(source, ['definitions', name], 'a regex source');
      definitions.push({ name, source: src, file, line: v.line(['definitions', name]) });
    }
  }

  const seen = new Map<string, number>();
  const rules = v.list(top.rules, ['rules']).map((item, i): RuleSource => {
    const path = ['rules', i];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw v.fail(path, `Expected a rule (a mapping with id, state, prefilter, regex), got ${describeValue(item)}`);
    }
    const r = item as Record<string, unknown>;
    v.keys(r, path, RULE_KEYS, `rule ${i + 1}`);
    const id = v.name(r.id, [...path, 'id'], 'a rule id');
    const ruleId = `${set}/${id}`;
    const line = v.line(path);
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      throw patternError(`Duplicate rule id \`${ruleId}\` (first defined at line ${earlier}); give one of them another id`, { file, line, ruleId });
    }
    seen.set(id, line);
    if (r.disabled !== undefined && typeof r.disabled !== 'boolean') {
      throw v.fail([...path, 'disabled'], `Expected \`disabled\` true or false, got ${describeValue(r.disabled)}`, ruleId);
    }
    if (r.disabled === true) {
      const extra = ['state', 'tags', 'daemons', 'prefilter', 'regex'].filter((k) => r[k] !== undefined);
      if (extra.length > 0) throw v.fail(path, `Rule \`${ruleId}\` is disabled but also sets ${extra.join(', ')}; drop them or drop \`disabled\``, ruleId);
      return { kind: 'disabled', id, ruleId, file, line };
    }
    if (r.state !== 'up' && r.state !== 'down') {
      throw v.fail(r.state === undefined ? path : [...path, 'state'], `Expected \`state\` of rule \`${ruleId}\` to be up or down, got ${describeValue(r.state)}`, ruleId);
    }
    if (r.tags === undefined) {
      throw v.fail(path, `Rule \`${ruleId}\` has no \`tags\`: list the tags whose messages it reads (e.g. tags: [IKE_VPN_UP_ALARM_USER]); a rule only sees messages that start with one of them (patterns/README.md)`, ruleId);
    }
    const tags = v.list(r.tags, [...path, 'tags']).map((tag, k) => {
      if (typeof tag === 'string' && isTagName(tag)) return tag;
      throw v.fail([...path, 'tags', k], `Expected a tag in upper case with underscores (IKE_VPN_UP_ALARM_USER), got ${describeValue(tag)}`, ruleId);
    });
    if (tags.length === 0) throw v.fail([...path, 'tags'], `Rule \`${ruleId}\` lists no tags; name at least one`, ruleId);
    const daemons = v.list(r.daemons, [...path, 'daemons']).map((daemon, k) => {
      if (typeof daemon === 'string' && DAEMON.test(daemon)) return daemon;
      throw v.fail([...path, 'daemons', k], `Expected a daemon name as syslog writes it (iked, kmd), got ${describeValue(daemon)}`, ruleId);
    });
    const prefilter = v.string(r.prefilter, [...path, 'prefilter'], 'a literal text that every matching line contains', ruleId);
    if (prefilter.length < 3) {
      throw v.fail([...path, 'prefilter'], `Expected the prefilter of \`${ruleId}\` to be at least 3 characters, got ${describeValue(prefilter)}: a short one lets noise reach the regex`, ruleId);
    }
    const regex = v.string(r.regex, [...path, 'regex'], 'an XRegExp source (free-spacing)', ruleId);
    const desc = v.optionalString(r.description, [...path, 'description'], ruleId);
    return {
      kind: 'rule', id, ruleId, state: r.state, tags, daemons, prefilter, regex, file, line,
      regexLine: v.line([...path, 'regex']),
      ...(desc === undefined ? {} : { description: desc }),
    };
  });

  const examples = v.list(top.examples, ['examples']).map((item, i): ExampleSource => {
    const path = ['examples', i];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw v.fail(path, `Expected an example (a mapping with line and expect), got ${describeValue(item)}`);
    }
    const e = item as Record<string, unknown>;
    v.keys(e, path, EXAMPLE_KEYS, `example ${i + 1}`);
    const name = v.optionalString(e.name, [...path, 'name']);
    const text = v.string(e.line, [...path, 'line'], 'the text of a log line');
    const expectRaw = v.string(e.expect, [...path, 'expect'], 'a rule id, "no-match", "near-miss" or "rejected"');
    let expect: ExampleExpectation;
    if (e.reason !== undefined && expectRaw !== 'rejected') throw v.fail([...path, 'reason'], `\`reason\` goes with \`expect: rejected\`; drop it or expect rejected`);
    if (expectRaw === 'no-match' || expectRaw === 'near-miss') expect = { kind: expectRaw };
    else if (expectRaw === 'rejected') {
      if (e.reason === undefined) expect = { kind: 'rejected' };
      else if (typeof e.reason === 'string' && (REJECT_REASONS as readonly string[]).includes(e.reason)) expect = { kind: 'rejected', reason: e.reason as RejectReason };
      else throw v.fail([...path, 'reason'], `Expected \`reason\` to be one of ${REJECT_REASONS.join(', ')}, got ${describeValue(e.reason)}`);
    } else {
      const full = expectRaw.includes('/') ? expectRaw : `${set}/${expectRaw}`;
      if (!/^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/.test(full)) {
        throw v.fail([...path, 'expect'], `Expected \`expect\` to be a rule id (\`vpn-up\` or \`set/vpn-up\`), no-match, near-miss or rejected, got ${describeValue(expectRaw)}`);
      }
      expect = { kind: 'rule', ruleId: full };
    }
    const fields: Record<string, string | null> = {};
    if (e.fields !== undefined) {
      if (expect.kind !== 'rule') throw v.fail([...path, 'fields'], `An example that expects ${expect.kind} yields no fields; drop \`fields\``);
      if (e.fields === null || typeof e.fields !== 'object' || Array.isArray(e.fields)) {
        throw v.fail([...path, 'fields'], `Expected \`fields\` to map capture names to values, got ${describeValue(e.fields)}`);
      }
      for (const [k, value] of Object.entries(e.fields as Record<string, unknown>)) {
        if (value === null) fields[k] = null;
        else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[k] = String(value);
        else throw v.fail([...path, 'fields', k], `Expected field \`${k}\` to be a text (or ~ for "absent"), got ${describeValue(value)}`);
      }
    }
    return { text, expect, fields, file, line: v.line(path), ...(name === undefined ? {} : { name }) };
  });

  if (rules.length === 0 && definitions.length === 0) {
    throw v.fail([], `The file defines neither \`rules\` nor \`definitions\`; add one, or move the file out of the pattern folder`);
  }
  return { file, set, nearMiss, definitions, rules, examples, ...(description === undefined ? {} : { description }) };
}

/** Checks values against the format and turns a YAML path into the line an editor should jump to. */
class Validator {
  readonly #doc: Document;
  readonly #lines: LineCounter;
  readonly #file: string;

  constructor(doc: Document, lines: LineCounter, file: string) {
    this.#doc = doc;
    this.#lines = lines;
    this.#file = file;
  }

  line(path: Path): number {
    for (let p = [...path]; ; p = p.slice(0, -1)) {
      const node = p.length === 0 ? this.#doc.contents : this.#doc.getIn(p, true);
      if (isNode(node) && node.range) return this.#lines.linePos(node.range[0]).line;
      if (p.length === 0) return 1;
    }
  }

  fail(path: Path, reason: string, ruleId?: string): PatternError {
    return patternError(reason, { file: this.#file, line: this.line(path), ...(ruleId === undefined ? {} : { ruleId }) });
  }

  /** An error about a key itself (unknown or badly named), pointing at the key's line. */
  failKey(path: Path, key: string, reason: string, ruleId?: string): PatternError {
    const parent = path.length === 0 ? this.#doc.contents : this.#doc.getIn(path, true);
    let line = this.line(path);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === key);
      if (pair && isNode(pair.key) && pair.key.range) line = this.#lines.linePos(pair.key.range[0]).line;
    }
    return patternError(reason, { file: this.#file, line, ...(ruleId === undefined ? {} : { ruleId }) });
  }

  keys(value: Record<string, unknown>, path: Path, allowed: readonly string[], where: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        throw this.failKey(path, key, `Unknown key \`${key}\` in ${where}; expected one of ${allowed.join(', ')} (see patterns/README.md)`);
      }
    }
  }

  string(value: unknown, path: Path, expected: string, ruleId?: string): string {
    if (typeof value === 'string' && value.length > 0) return value;
    throw this.fail(path, `Expected \`${path.join('.')}\` to be ${expected}, got ${describeValue(value)}`, ruleId);
  }

  optionalString(value: unknown, path: Path, ruleId?: string): string | undefined {
    return value === undefined ? undefined : this.string(value, path, 'a text', ruleId);
  }

  name(value: unknown, path: Path, what: string): string {
    if (typeof value === 'string' && NAME.test(value)) return value;
    throw this.fail(path, `Expected \`${path.join('.')}\` to be ${what} (lower case letters, digits, . _ -), got ${describeValue(value)}`);
  }

  list(value: unknown, path: Path): unknown[] {
    if (value === undefined) return [];
    if (Array.isArray(value)) return value;
    throw this.fail(path, `Expected \`${path.join('.')}\` to be a list, got ${describeValue(value)}`);
  }
}

/**
 * A PatternError whose message starts with `file:line:` like the config loader's, so the CLI's
 * one-line error (which prints the message) tells the operator where to look. The same place is
 * also on the error's `file`, `line` and `ruleId` for programs and tests.
 */
export function patternError(reason: string, where: { file?: string; line?: number; ruleId?: string; cause?: unknown } = {}): PatternError {
  const at = where.file === undefined ? '' : `${where.file}${where.line === undefined ? '' : `:${where.line}`}: `;
  return new PatternError(`${at}${reason}`, {
    ...(where.file === undefined ? {} : { file: where.file }),
    ...(where.line === undefined ? {} : { line: where.line }),
    ...(where.ruleId === undefined ? {} : { ruleId: where.ruleId }),
    ...(where.cause === undefined ? {} : { cause: where.cause }),
  });
}
