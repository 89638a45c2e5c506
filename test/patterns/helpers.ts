import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The smallest regex tail that carries every capture the loader requires (REQUIRED_CAPTURES), so
 * test rules can be about one thing without repeating the whole Junos layout.
 */
export const REQUIRED_TAIL = String.raw`(?<peer>p?)(?<localIp>l?)(?<gateway>g?)(?<tunnelId>t?)(?<remoteIkeId>r?)(?<aaaUser>a?)(?<tsRemote>s?)`;

/** The tag every test rule reads: its lines are `TEST_ALARM: <word>:<name>`. */
export const TEST_TAG = 'TEST_ALARM';

/** A valid rule (YAML list item) whose regex matches `TEST_ALARM: <word>:<name>`, capturing the name as `vpn`. */
export function ruleYaml(id: string, options: { word?: string; state?: 'up' | 'down'; prefilter?: string } = {}): string {
  const word = options.word ?? 'HELLO';
  const state = options.state ?? 'up';
  const reason = state === 'down' ? '(?<reason>.*)' : '';
  return [
    `  - id: ${id}`,
    `    state: ${state}`,
    `    prefilter: '${options.prefilter ?? word}'`,
    `    regex: |`,
    `      ${word} : (?<vpn>\\w+) ${REQUIRED_TAIL} ${reason}`,
    `    tags: [${TEST_TAG}]`,
  ].join('\n');
}

/** Writes files (name -> text) into a new folder under `root` and returns the folder. */
export function writeFolder(root: string, name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}
