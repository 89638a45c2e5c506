import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { DeadLetter, DeadLetters } from '../delivery/dead-letters.js';
import { BridgeError } from '../errors.js';

interface StateOptions {
  state?: string;
  config?: string;
}

const EXCERPT = 60;

export function registerDlqCommand(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('Batches JIMS refused (4xx other than 408/429): list them, send them again, or delete them.')
    .addHelpText('after', `
The state file is --state, else sessions.state of --config, else ./ptim-bridge.db.
A running bridge picks up rows put back by \`dlq retry\` within a second.

Examples:
  $ ptim-bridge dlq list --state /var/lib/ptim-bridge/state.db
  $ ptim-bridge dlq retry 3 4 --config /etc/ptim-bridge.yaml
  $ ptim-bridge dlq purge --yes --state state.db`);

  withState(dlq.command('list'))
    .description('Show dead letters: id, time, HTTP status, event count and the start of JIMS\' answer.')
    .option('--json', 'print a JSON array (full bodies) instead of a table')
    .addHelpText('after', `
Examples:
  $ ptim-bridge dlq list --state state.db
  $ ptim-bridge dlq list --state state.db --json | jq '.[] | select(.status == 400) | .id'`)
    .action(async (opts: StateOptions & { json?: boolean }) => {
      await withLetters(opts, (store, file) => {
        const letters = store.list(opts.json ? {} : { bodyChars: 4 * EXCERPT });
        if (opts.json) {
          const out = letters.map((d) => ({ id: d.id, batchId: d.batchId, time: new Date(d.time).toISOString(), status: d.status, events: d.eventCount, body: d.body }));
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
          return;
        }
        process.stdout.write(letters.length === 0 ? `No dead letters in ${file}.\n` : formatTable(letters));
      });
    });

  withState(dlq.command('retry'))
    .argument('[ids...]', 'dead letter ids (default: all)')
    .description('Move dead letters back into the outbox, each event at its original place in line.')
    .addHelpText('after', `
Fix the cause first (see the body in \`dlq list\`), or JIMS refuses the batch again.

Examples:
  $ ptim-bridge dlq retry 3 --state state.db
  $ ptim-bridge dlq retry --state state.db        # all of them`)
    .action(async (ids: string[], opts: StateOptions) => {
      await withLetters(opts, (store, file) => {
        const moved = store.retry(parseIds(ids));
        process.stdout.write(moved.letters === 0
          ? `No dead letters in ${file}; nothing to retry.\n`
          : `Moved ${moved.letters} dead letter(s), ${moved.events} event(s), back to the outbox in ${file}. A running bridge sends them within a second; otherwise they go at its next start.\n`);
      });
    });

  withState(dlq.command('purge'))
    .argument('[ids...]', 'dead letter ids (default: all)')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .description('Delete dead letters for good (asks first on a terminal).')
    .addHelpText('after', `
Examples:
  $ ptim-bridge dlq purge 3 --state state.db
  $ ptim-bridge dlq purge --yes --state state.db  # all of them, no question`)
    .action(async (ids: string[], opts: StateOptions & { yes?: boolean }) => {
      await withLetters(opts, async (letters, file) => {
        const chosen = parseIds(ids);
        const preview = letters.preview(chosen);
        if (preview.letters === 0) {
          process.stdout.write(`No dead letters in ${file}; nothing to purge.\n`);
          return;
        }
        const what = `${preview.letters} dead letter(s), ${preview.events} event(s)`;
        if (!opts.yes) {
          if (!process.stdin.isTTY) {
            throw new BridgeError('ERR_USAGE', `Purging deletes ${what} from ${file} for good; there is no terminal to ask on, so pass --yes to confirm.`);
          }
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Delete ${what} from ${file} for good? [y/N] `);
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            process.stdout.write('Nothing purged.\n');
            return;
          }
        }
        const done = letters.purge(chosen);
        process.stdout.write(`Purged ${done.letters} dead letter(s), ${done.events} event(s), from ${file}.\n`);
      });
    });
}

function withState(command: Command): Command {
  return command
    .option('--state <file>', 'SQLite state file of the bridge')
    .option('-c, --config <file>', 'take the state file from this config (sessions.state)');
}

/** --state, else the config's sessions.state, else the default; never creates a file. */
async function stateFile(opts: StateOptions): Promise<string> {
  const configured = opts.state !== undefined || opts.config === undefined ? undefined : (await import('../config.js')).loadConfig(opts.config).sessions.state;
  const file = opts.state ?? configured ?? 'ptim-bridge.db';
  if (!existsSync(file)) {
    throw new BridgeError('ERR_STATE_UNREADABLE', `No state file at ${file}. Pass --state with the bridge's state file (or --config with its config).`, { file });
  }
  return file;
}

/**
 * Runs `body` on the dead letters of the state file, closed afterwards. SQLite and the config
 * schema load here, when a subcommand runs, not at start-up (src/cli.ts).
 */
async function withLetters(opts: StateOptions, body: (letters: DeadLetters, file: string) => void | Promise<void>): Promise<void> {
  const [{ DeadLetters }, { openStateDb }] = await Promise.all([import('../delivery/dead-letters.js'), import('../state-db.js')]);
  const file = await stateFile(opts);
  const db = openStateDb(file);
  try {
    await body(new DeadLetters(db), file);
  } finally {
    db.close();
  }
}

function parseIds(ids: readonly string[]): number[] {
  return ids.map((text) => {
    if (!/^[1-9]\d{0,15}$/.test(text)) throw new BridgeError('ERR_USAGE', `Expected dead letter ids as positive integers, got ${JSON.stringify(text)}; run \`ptim-bridge dlq list\` to see them.`);
    return Number(text);
  });
}

function formatTable(letters: readonly DeadLetter[]): string {
  const rows = letters.map((d) => [String(d.id), new Date(d.time).toISOString(), String(d.status), String(d.eventCount), excerpt(d.body)]);
  const header = ['ID', 'TIME', 'STATUS', 'EVENTS', 'BODY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** One line, no control characters (the body is JIMS' text, not ours), cut to a width. */
function excerpt(body: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = body.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT - 3)}...` : flat;
}
