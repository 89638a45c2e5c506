import test from 'ava';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli.js';
import { COMMAND_INDEX, commandNamedIn } from '../../src/commands/command-index.js';
import { runCli } from '../helpers/cli.js';

const everyCommand = COMMAND_INDEX.map((entry) => entry.name);

/**
 * What `command --help` prints through a pipe (80 columns, whatever terminal runs the tests), the
 * texts added before and after included.
 */
function helpOf(command: Command): string {
  let out = '';
  command.configureOutput({ writeOut: (text) => (out += text), getOutHelpWidth: () => 80, getOutHasColors: () => false });
  command.outputHelp();
  return out;
}

function subcommand(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (found === undefined) throw new Error(`no command ${name}`);
  return found;
}

// The index is a copy of what the command modules register: this is what keeps it from drifting.
test('the top-level help built from the index alone is the help with every command registered in full', async (t) => {
  const indexOnly = await buildProgram([]);
  const full = await buildProgram(everyCommand);
  t.is(helpOf(indexOnly), helpOf(full));
  t.deepEqual(indexOnly.commands.map((c) => c.name()), full.commands.map((c) => c.name()));
});

test('naming one command registers it in full, in its place, and the top-level help stays the same', async (t) => {
  const full = await buildProgram(everyCommand);
  const expected = helpOf(await buildProgram([]));
  for (const name of everyCommand) {
    const program = await buildProgram([name]);
    t.is(helpOf(program), expected, `top-level help with ${name} loaded`);
    t.is(helpOf(subcommand(program, name)), helpOf(subcommand(full, name)), `${name} --help`);
  }
});

test('the command a command line names: its first operand, or the one after help', (t) => {
  const cases: Array<[string[], string | undefined]> = [
    [['run', '--dry-run'], 'run'],
    [['--dry-run', 'run'], 'run'],
    [['dlq', 'list', '--json'], 'dlq'],
    [['help', 'dlq', 'list'], 'dlq'],
    [['-h', 'junos', 'import'], 'junos'],
    [['--', 'replay', 'x.log'], 'replay'],
    [['help'], undefined],
    [['--help'], undefined],
    [['--version'], undefined],
    [[], undefined],
    [['no-such-command', 'run'], undefined],
    // commander reads a lone `-` as a (unknown) command name, not as an option.
    [['-', 'run'], undefined],
  ];
  for (const [args, expected] of cases) t.is(commandNamedIn(args)?.name, expected, args.join(' '));
});

// Through the real entry (src/main.ts): the module of the named command is what gets loaded.
for (const name of everyCommand) {
  test(`${name} --help prints the command's full help`, async (t) => {
    const r = await runCli([name, '--help']);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, helpOf(subcommand(await buildProgram([name]), name)));
  });
}

test('help <command> prints what <command> --help prints', async (t) => {
  const [viaHelp, viaFlag] = await Promise.all([runCli(['help', 'replay']), runCli(['replay', '--help'])]);
  t.is(viaHelp.code, 0, viaHelp.stderr);
  t.is(viaHelp.stdout, viaFlag.stdout);
  t.regex(viaHelp.stdout, /^Usage: ptim-bridge replay \[options\] <files\.\.\.>/);
});

test('--version and -V alone, and run --version, print the same version', async (t) => {
  const [long, short, parsed] = await Promise.all([runCli(['--version']), runCli(['-V']), runCli(['run', '--version'])]);
  t.is(long.code, 0, long.stderr);
  t.regex(long.stdout, /^\d+\.\d+\.\d+\S*\n$/);
  t.is(short.stdout, long.stdout);
  // Not alone on the command line: commander answers, with the same text.
  t.is(parsed.code, 0, parsed.stderr);
  t.is(parsed.stdout, long.stdout);
});
