import type { LineState } from '../events/ptim-event.js';
import { parseEnvelope } from '../ingest/envelope.js';
import type { Envelope, PatternMatch } from '../flow/pipeline-records.js';
import { alarmMessage } from './alarm-message.js';
import { READ_CAPTURES, type DefinitionTable } from './compile.js';
import { explainMiss, type MissExplanation } from './explain.js';
import { breaksLines, checkFields, hasControlCharacters, type LabelSet, type RejectReason } from './field-integrity.js';
import type { ExampleSource } from './pattern-file.js';

export interface CompiledRule {
  /** "<set>/<rule>", e.g. "junos-iked/vpn-up". */
  id: string;
  state: LineState;
  /** Tags whose messages the rule reads; daemons that may write them (empty = any). */
  tags: readonly string[];
  daemons: readonly string[];
  /** Field labels of the rule (`AAA username:`...), from its regex (field-integrity.ts). */
  labels: LabelSet;
  /** Whether the rule's shape makes the whole-message label scan needless (sealed-rule.ts). */
  sealed: boolean;
  /** A literal every line this rule matches contains; the regex runs only when it occurs. */
  prefilter: string;
  regex: RegExp;
  file: string;
  /** Line of the rule in its file (for messages). */
  line: number;
  /** Name of each capturing group by position (index 0 = group 1); null for unnamed groups. */
  captureNames: ReadonlyArray<string | null>;
  /** The regex as written in the file (before sub-patterns are expanded), and the line of its key. */
  source: string;
  regexLine: number;
  description?: string;
}

export interface PatternSet {
  readonly rules: readonly CompiledRule[];
  /** Every literal worth finding in raw bytes: rule prefilters plus near-miss markers. A message containing none of them is noise. */
  readonly literals: readonly string[];
  /** Inline examples of every loaded file, in load order (for `patterns test` and lint). */
  readonly examples: readonly ExampleSource[];
  /** The files the set was loaded from, in load order. */
  readonly files: readonly string[];
  /** Ids of rules a user folder disabled (`disabled: true`); examples expecting them are skipped. */
  readonly disabled: readonly string[];
  /**
   * What the rules make of a parsed message: the first rule (in order) for the message's tag whose
   * prefilter occurs and whose anchored regex matches; `rejected` when that match fails the field
   * integrity checks or the tag came from a foreign daemon; `near-miss` when no rule matched but the
   * message contains a literal; else `none`.
   */
  recognise(envelope: Envelope): Recognition;
  /** `recognise` for a whole line of text (tools and tests): the match, or undefined. */
  match(line: string): PatternMatch | undefined;
  /** True when an unmatched text looks like a VPN up/down event (a near miss worth showing). */
  isNearMiss(text: string): boolean;
  /** Why a rule's regex does not match a text: the first regex lines that fail (slow; for tools, not the pipeline). */
  explain(ruleId: string, text: string): MissExplanation | undefined;
}

export type Recognition =
  | { kind: 'match'; match: PatternMatch }
  | { kind: 'rejected'; ruleId: string; reason: RejectReason }
  | { kind: 'near-miss' }
  | { kind: 'none' };

const NONE: Recognition = Object.freeze({ kind: 'none' });
const NEAR_MISS: Recognition = Object.freeze({ kind: 'near-miss' });

/**
 * Builds the matcher over compiled rules. Rules keep their order (first match wins); each
 * distinct prefilter is searched at most once per text, and a rule's regex runs only when its
 * prefilter occurred, so noise costs a few substring searches and no regex at all.
 */
export function createPatternSet(input: {
  rules: readonly CompiledRule[];
  nearMiss: readonly string[];
  examples?: readonly ExampleSource[];
  files?: readonly string[];
  /** The sub-patterns the rules were built with; `explain` needs them. */
  definitions?: DefinitionTable;
  disabled?: readonly string[];
}): PatternSet {
  return new CompiledPatternSet(input.rules, input.nearMiss, input.examples ?? [], input.files ?? [], input.definitions, input.disabled ?? []);
}

class CompiledPatternSet implements PatternSet {
  readonly rules: readonly CompiledRule[];
  readonly literals: readonly string[];
  readonly examples: readonly ExampleSource[];
  readonly files: readonly string[];
  readonly disabled: readonly string[];
  /** Distinct prefilters, and for each rule the index of its prefilter among them. */
  readonly #prefilters: readonly string[];
  readonly #ruleLiteral: readonly number[];
  /** Reused per call (match is synchronous): 0 = not searched yet, 1 = present, 2 = absent. */
  readonly #seen: Uint8Array;
  readonly #definitions: DefinitionTable | undefined;
  /** For each tag, the indexes of the rules that read it, in rule order. */
  readonly #byTag: ReadonlyMap<string, readonly number[]>;

  constructor(rules: readonly CompiledRule[], nearMiss: readonly string[], examples: readonly ExampleSource[], files: readonly string[], definitions: DefinitionTable | undefined, disabled: readonly string[]) {
    this.#definitions = definitions;
    this.disabled = Object.freeze([...disabled]);
    this.rules = Object.freeze([...rules]);
    this.examples = Object.freeze([...examples]);
    this.files = Object.freeze([...files]);
    const prefilters = [...new Set(rules.map((r) => r.prefilter))];
    this.#prefilters = prefilters;
    this.#ruleLiteral = rules.map((r) => prefilters.indexOf(r.prefilter));
    this.#seen = new Uint8Array(prefilters.length);
    const byTag = new Map<string, number[]>();
    rules.forEach((rule, i) => {
      for (const tag of rule.tags) byTag.set(tag, [...(byTag.get(tag) ?? []), i]);
    });
    this.#byTag = byTag;
    this.literals = Object.freeze(minimalLiterals([...prefilters, ...nearMiss]));
  }

  recognise(envelope: Envelope): Recognition {
    const message = alarmMessage(envelope);
    const rules = message === undefined ? undefined : this.#byTag.get(message.tag);
    if (rules === undefined) return this.isNearMiss(envelope.msg) ? NEAR_MISS : NONE;
    const { body, app } = message!;
    // Line breaks are control characters: the common clean message costs one test.
    const controls = hasControlCharacters(body);
    if (controls && breaksLines(body)) return { kind: 'rejected', ruleId: this.rules[rules[0]!]!.id, reason: 'control-characters' };
    const seen = this.#seen;
    seen.fill(0);
    for (const i of rules) {
      const li = this.#ruleLiteral[i]!;
      let state = seen[li]!;
      if (state === 0) {
        state = body.includes(this.#prefilters[li]!) ? 1 : 2;
        seen[li] = state;
      }
      if (state === 2) continue;
      const rule = this.rules[i]!;
      // Native exec: XRegExp compiled the named groups to plain ones and kept the names aside.
      const m = RegExp.prototype.exec.call(rule.regex, body);
      if (m === null) continue;
      if (app !== undefined && rule.daemons.length > 0 && !rule.daemons.includes(app)) return { kind: 'rejected', ruleId: rule.id, reason: 'foreign-daemon' };
      const fields: Record<string, string> = {};
      const names = rule.captureNames;
      for (let g = 0; g < names.length; g++) {
        const name = names[g];
        const value = m[g + 1];
        // Absent and empty are the same to consumers: "Traffic-selector: ," has no name.
        if (name && value !== undefined && value !== '') fields[name] = value;
      }
      const reason = checkFields(body, fields, rule.labels, READ_CAPTURES, controls, rule.sealed);
      if (reason !== undefined) return { kind: 'rejected', ruleId: rule.id, reason };
      return { kind: 'match', match: { ruleId: rule.id, state: rule.state, fields, tag: message!.tag, body } };
    }
    return NEAR_MISS;
  }

  match(line: string): PatternMatch | undefined {
    const r = this.recognise(parseEnvelope(line, Date.now()));
    return r.kind === 'match' ? r.match : undefined;
  }

  isNearMiss(text: string): boolean {
    for (const literal of this.literals) if (text.includes(literal)) return true;
    return false;
  }

  explain(ruleId: string, text: string): MissExplanation | undefined {
    const rule = this.rules.find((r) => r.id === ruleId);
    if (!rule || !this.#definitions) return undefined;
    return explainMiss(rule, text, this.#definitions);
  }
}

/**
 * Drops literals that contain another literal: any text containing the longer one contains the
 * shorter one too, so scanning for both finds nothing more and costs a second search.
 */
function minimalLiterals(literals: readonly string[]): string[] {
  const unique = [...new Set(literals)];
  return unique.filter((l) => !unique.some((o) => o !== l && l.includes(o)));
}
