import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatternError } from '../errors.js';
import { compileRule, DefinitionTable, type PrebuiltLookup } from './compile.js';
import { fieldLabels, labelSet } from './field-integrity.js';
import { isSealed } from './sealed-rule.js';
import { patternError, parsePatternFile, type DefinitionSource, type ExampleSource, type PatternFile, type RuleSource } from './pattern-file.js';
import { createPatternSet, type CompiledRule, type PatternSet } from './pattern-set.js';
import { prebuiltRegex, preparsed } from './preparsed.js';

export interface LoadPatternsOptions {
  /** Include the shipped sets in patterns/ (default true). */
  shipped?: boolean;
  /** User pattern folders, in order; a later folder overrides earlier rules and definitions by name. */
  dirs?: readonly string[];
}

/**
 * The folder of shipped pattern files. Resolved from this module so it works from src/ (tsx) and
 * from dist/ (compiled) alike: both sit two levels below the package root.
 */
export const SHIPPED_PATTERNS_DIR = fileURLToPath(new URL('../../patterns/', import.meta.url));

/**
 * Loads, validates and compiles pattern files into one PatternSet: the shipped sets (unless
 * `shipped: false`), then each user folder in order.
 *
 * Order of rules (first match wins): rules new in user folders come first, in folder and file
 * order, because a local rule is written for a local variant and is the more specific one; then
 * the shipped rules. A rule whose `<set>/<id>` already exists replaces it in place; `disabled: true`
 * removes it. Definitions are one namespace; a later folder redefines a name for every rule.
 *
 * @throws PatternError (ERR_PATTERN_INVALID) with file, line, rule id and reason: unreadable folder
 *   or file, bad YAML, unknown keys, duplicate ids within one folder, a regex that does not compile,
 *   an undefined `{{sub-pattern}}`, missing required captures.
 */
export function loadPatterns(options: LoadPatternsOptions = {}): PatternSet {
  const groups: PatternFile[][] = [];
  if (options.shipped ?? true) groups.push(readFolder(SHIPPED_PATTERNS_DIR));
  for (const dir of options.dirs ?? []) groups.push(readFolder(resolve(dir)));
  return buildPatternSet(groups);
}

/**
 * Compiles already parsed files, grouped by folder (first group = lowest precedence). Exposed for
 * tests and for tools that hold pattern text in memory. `prebuilt`: where regexes built before
 * are found (default: the bundle's table of the shipped files; none outside the bundle).
 * @throws PatternError as loadPatterns does.
 */
export function buildPatternSet(groups: readonly (readonly PatternFile[])[], prebuilt: PrebuiltLookup = prebuiltRegex): PatternSet {
  const definitions: DefinitionSource[] = [];
  /** Shipped (first group) order, then new rules of later groups. */
  const base: RuleSource[] = [];
  const added: RuleSource[] = [];
  const nearMiss: string[] = [];
  const examples: ExampleSource[] = [];
  const files: string[] = [];

  groups.forEach((group, gi) => {
    const groupDefs = new Map<string, DefinitionSource>();
    const groupRules = new Map<string, RuleSource>();
    for (const file of group) {
      files.push(file.file);
      nearMiss.push(...file.nearMiss);
      examples.push(...file.examples);
      for (const def of file.definitions) {
        const other = groupDefs.get(def.name);
        if (other) {
          throw patternError(`Sub-pattern {{${def.name}}} is defined twice in one folder (also at ${other.file}:${other.line}); keep one`, { file: def.file, line: def.line });
        }
        groupDefs.set(def.name, def);
        definitions.push(def);
      }
      for (const rule of file.rules) {
        const other = groupRules.get(rule.ruleId);
        if (other) {
          throw patternError(`Duplicate rule id \`${rule.ruleId}\` in one folder (also at ${other.file}:${other.line}); rename one, or put the override in a separate folder`, { file: rule.file, line: rule.line, ruleId: rule.ruleId });
        }
        groupRules.set(rule.ruleId, rule);
        const at = (list: RuleSource[]) => list.findIndex((r) => r.ruleId === rule.ruleId);
        const inBase = at(base);
        const inAdded = at(added);
        if (inBase >= 0) base[inBase] = rule;
        else if (inAdded >= 0) added[inAdded] = rule;
        else if (rule.kind === 'disabled') {
          throw patternError(`Rule \`${rule.ruleId}\` is disabled but no earlier folder defines it; check the set name and id (\`ptim-bridge patterns test\` lists the loaded rules)`, { file: rule.file, line: rule.line, ruleId: rule.ruleId });
        } else (gi === 0 ? base : added).push(rule);
      }
    }
  });

  const table = new DefinitionTable(definitions, prebuilt);
  const rules: CompiledRule[] = [];
  const disabled: string[] = [];
  for (const rule of [...added, ...base]) {
    if (rule.kind === 'disabled') {
      disabled.push(rule.ruleId);
      continue;
    }
    const { regex, captureNames } = compileRule(rule, table);
    const labels = labelSet(fieldLabels(rule.regex));
    rules.push({
      id: rule.ruleId, state: rule.state, tags: rule.tags, daemons: rule.daemons, labels, sealed: isSealed(rule.regex, labels.labels),
      prefilter: rule.prefilter, regex, captureNames, file: rule.file, line: rule.line,
      source: rule.regex, regexLine: rule.regexLine,
      ...(rule.description === undefined ? {} : { description: rule.description }),
    });
  }
  table.checkAll();
  return createPatternSet({ rules, nearMiss, examples, files, definitions: table, disabled });
}

/**
 * Reads every *.yaml / *.yml file of a folder, sorted by name (or the one file, given a file).
 * @throws PatternError when the folder or a file cannot be read or parsed.
 */
export function readFolder(dir: string): PatternFile[] {
  let names: string[];
  try {
    // A single file is a folder of one: handy for trying a rule without making a folder.
    if (statSync(dir).isFile()) return [readPatternFile(dir)];
    names = readdirSync(dir).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (error) {
    if (error instanceof PatternError) throw error;
    throw patternError(`Cannot read the pattern folder: ${(error as Error).message}; check --patterns / patterns.dirs`, { file: dir, cause: error });
  }
  return names.map((name) => readPatternFile(join(dir, name)));
}

/**
 * Reads and parses one pattern file.
 * @throws PatternError when it cannot be read or is invalid.
 */
export function readPatternFile(file: string): PatternFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw patternError(`Cannot read the pattern file: ${(error as Error).message}`, { file, cause: error });
  }
  return preparsed(text, file) ?? parsePatternFile(text, file);
}
