import { hash } from 'node:crypto';
import type { LineState } from '../events/ptim-event.js';
// First: sets the V8 flags that make a regex built after it fall back to a linear-time engine.
import { linearTimeProblem } from './linear-regexp.js';
import { xregexp } from '../lazy-deps.js';
import { patternError, type DefinitionSource } from './pattern-file.js';

/** Captures every shipped rule must yield (contracts: the normalizer reads these names). */
export const REQUIRED_CAPTURES: Readonly<Record<LineState, readonly string[]>> = {
  up: ['vpn', 'peer', 'localIp', 'gateway', 'tunnelId', 'remoteIkeId', 'aaaUser', 'tsRemote'],
  down: ['vpn', 'peer', 'localIp', 'gateway', 'tunnelId', 'remoteIkeId', 'aaaUser', 'tsRemote', 'reason'],
};

/** Every capture the normalizer reads; garbage is tolerated only in the others (field-integrity.ts). */
export const READ_CAPTURES: ReadonlySet<string> = new Set([...REQUIRED_CAPTURES.up, ...REQUIRED_CAPTURES.down]);

const REFERENCE = /\{\{([\w$]+)\}\}/g;

/** The `{{name}}` references in a regex source, in order of appearance. */
export function referencesOf(source: string): string[] {
  return [...source.matchAll(REFERENCE)].map((m) => m[1] ?? '');
}

/** A regex as XRegExp built it, as the build's table keeps it (preparsed.ts): enough to make it again without XRegExp. */
export interface BuiltRegex {
  source: string;
  flags: string;
  /** Name of each capturing group by position (index 0 = group 1); null for unnamed groups. */
  captureNames: Array<string | null>;
}

/** Looks up a build by its key (`DefinitionTable.buildKey`), made into a regex; none by default. */
export type PrebuiltLookup = (key: string) => CompiledRegex | undefined;

/**
 * Compiles sub-pattern definitions (which may reference each other) into XRegExp objects, on
 * demand and once each. Every regex is free-spacing (`x`): the one rule for everything in a pattern
 * file, so a definition pasted into a rule means the same thing there. `prebuilt` holds what the
 * build compiled from the shipped files: a regex whose text and sub-patterns are those exact texts
 * is taken from there instead of being built again.
 */
export class DefinitionTable {
  readonly #sources: ReadonlyMap<string, DefinitionSource>;
  readonly #compiled = new Map<string, RegExp>();
  readonly #prebuilt: PrebuiltLookup;

  constructor(definitions: Iterable<DefinitionSource>, prebuilt: PrebuiltLookup = () => undefined) {
    // Later entries win: a user folder redefines a shipped {{ip}} for every rule that uses it.
    this.#sources = new Map([...definitions].map((d) => [d.name, d]));
    this.#prebuilt = prebuilt;
  }

  /**
   * What building `source` depends on, as a digest: its text and the name and text of every
   * definition it reaches. Undefined when it reaches an undefined name (building says why).
   */
  buildKey(source: string): string | undefined {
    const reached = new Map<string, string>();
    const pending = referencesOf(source);
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (reached.has(name)) continue;
      const def = this.#sources.get(name);
      if (def === undefined) return undefined;
      reached.set(name, def.source);
      pending.push(...referencesOf(def.source));
    }
    const defs = [...reached].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return hash('sha256', JSON.stringify([source, defs]), 'hex');
  }

  /** The build's regex for `source` with these very definitions, if the build made it. */
  prebuilt(source: string): CompiledRegex | undefined {
    const key = this.buildKey(source);
    return key === undefined ? undefined : this.#prebuilt(key);
  }

  /**
   * Compiles every definition, so a typo in one no rule uses surfaces at load, not months later
   * (one the build compiled, with the same text and sub-patterns, is known good).
   * @throws PatternError as `subpatternsFor` does.
   */
  checkAll(): void {
    for (const def of this.#sources.values()) {
      const source = `{{${def.name}}}`;
      if (this.prebuilt(source) === undefined) this.subpatternsFor(source, { file: def.file, line: def.line });
    }
  }

  /** What the build's table keeps for each definition: its regex, keyed by `buildKey({{name}})`. */
  builtDefinitions(): Record<string, BuiltRegex> {
    const out: Record<string, BuiltRegex> = {};
    for (const def of this.#sources.values()) {
      const source = `{{${def.name}}}`;
      const regex = this.subpatternsFor(source, { file: def.file, line: def.line })[def.name]!;
      out[this.buildKey(source)!] = { source: regex.source, flags: regex.flags, captureNames: captureNamesOf(regex) };
    }
    return out;
  }

  has(name: string): boolean {
    return this.#sources.has(name);
  }

  get names(): string[] {
    return [...this.#sources.keys()];
  }

  /**
   * The compiled sub-patterns a source references (directly), keyed by name.
   * @throws PatternError for an undefined reference, a cycle, or a definition that does not compile.
   */
  subpatternsFor(source: string, where: { file: string; line: number; ruleId?: string; chain?: readonly string[] }): Record<string, RegExp> {
    const subs: Record<string, RegExp> = {};
    for (const name of referencesOf(source)) {
      if (!this.#sources.has(name)) {
        const known = this.names.sort().join(', ');
        throw patternError(`Undefined sub-pattern {{${name}}}${where.ruleId ? ` in rule \`${where.ruleId}\`` : ''}; define it under \`definitions:\` (known: ${known || 'none'})`, {
          file: where.file, line: where.line, ...(where.ruleId ? { ruleId: where.ruleId } : {}),
        });
      }
      subs[name] = this.#compile(name, where.chain ?? []);
    }
    return subs;
  }

  #compile(name: string, chain: readonly string[]): RegExp {
    const done = this.#compiled.get(name);
    if (done) return done;
    const def = this.#sources.get(name)!;
    if (chain.includes(name)) {
      throw patternError(`Sub-pattern {{${name}}} refers to itself through ${[...chain, name].map((n) => `{{${n}}}`).join(' -> ')}; break the cycle`, { file: def.file, line: def.line });
    }
    const subs = this.subpatternsFor(def.source, { file: def.file, line: def.line, chain: [...chain, name] });
    let regex: RegExp;
    try {
      regex = xregexp().build(def.source, subs, 'x');
    } catch (error) {
      throw patternError(`Sub-pattern {{${name}}} does not compile: ${(error as Error).message}`, { file: def.file, line: def.line, cause: error });
    }
    this.#compiled.set(name, regex);
    return regex;
  }
}

/**
 * A rule reads the whole message after its tag: anchored at both ends, so no prefix can be skipped
 * and no tail ignored (alarm-message.ts drops trailing blanks, which a `[ \t]*$` here would make
 * quadratic after a free-text field). The newlines keep a `#` comment on the rule's last
 * line from swallowing the closing parenthesis (free-spacing mode).
 */
export function anchored(source: string): string {
  return `^(?:\n${source}\n)$`;
}

export interface CompiledRegex {
  regex: RegExp;
  /** Name of each capturing group by position (index 0 = group 1); null for unnamed groups. */
  captureNames: ReadonlyArray<string | null>;
}

/**
 * Compiles a rule's regex with its sub-patterns and checks the captures the normalizer needs.
 * @throws PatternError naming the rule when the regex does not compile, uses the g/y flags through
 *   an inline modifier, lacks a required named capture, or cannot run on V8's linear-time engine
 *   (backreference, lookaround, i/u flag, counted repeats over 16 copies; linear-regexp.ts).
 */
export function compileRule(
  rule: { ruleId: string; state: LineState; regex: string; file: string; regexLine: number },
  definitions: DefinitionTable,
): CompiledRegex {
  const where = { file: rule.file, line: rule.regexLine, ruleId: rule.ruleId };
  const source = anchored(rule.regex);
  // The checks below run on a prebuilt regex too: the table is trusted to hold a build, not a verdict.
  const { regex, captureNames } = definitions.prebuilt(source) ?? build();
  function build(): CompiledRegex {
    const subs = definitions.subpatternsFor(rule.regex, where);
    try {
      const built = xregexp().build(source, subs, 'x');
      return { regex: built, captureNames: captureNamesOf(built) };
    } catch (error) {
      throw patternError(`The regex of rule \`${rule.ruleId}\` does not compile: ${(error as Error).message}`, { ...where, cause: error });
    }
  }
  if (regex.global || regex.sticky) {
    throw patternError(`The regex of rule \`${rule.ruleId}\` must not use the g or y flag (matching is stateless)`, where);
  }
  const missing = REQUIRED_CAPTURES[rule.state].filter((name) => !captureNames.includes(name));
  if (missing.length > 0) {
    throw patternError(
      `Rule \`${rule.ruleId}\` (state ${rule.state}) lacks the named capture${missing.length > 1 ? 's' : ''} ${missing.map((n) => `(?<${n}>...)`).join(', ')}; the normalizer needs ${REQUIRED_CAPTURES[rule.state].join(', ')}`,
      where,
    );
  }
  // A rule V8's linear-time engine cannot run would backtrack without bound on a crafted line
  // (linear-regexp.ts); refused here rather than found out by a stalled listener.
  const problem = linearTimeProblem(regex);
  if (problem !== undefined) {
    const subs = definitions.subpatternsFor(rule.regex, where);
    const inSubs = Object.entries(subs).filter(([, sub]) => linearTimeProblem(sub) !== undefined).map(([name]) => `{{${name}}}`);
    throw patternError(
      `The regex of rule \`${rule.ruleId}\` cannot run on the linear-time regex engine that keeps a crafted line from stalling the bridge${inSubs.length > 0 ? ` (the cause is in ${inSubs.join(', ')})` : ''}: it uses ${problem}`,
      where,
    );
  }
  return { regex, captureNames };
}

/** The group names XRegExp kept aside when it compiled named groups to plain ones. */
function captureNamesOf(regex: RegExp): Array<string | null> {
  const data = (regex as RegExp & { xregexp?: { captureNames?: Array<string | null> | null } }).xregexp;
  return data?.captureNames ?? [];
}
