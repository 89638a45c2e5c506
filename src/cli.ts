import { Command, CommanderError, Option } from 'commander';
import { endQuietlyOnClosedOutput } from './closed-output.js';
import { COMMAND_INDEX, commandNamedIn, type CommandEntry } from './commands/command-index.js';
import { exitStatusFor, isBridgeError } from './errors.js';
import { packageVersion } from './package-version.js';

/**
 * The `ptim-bridge` program. Each subcommand lives in src/commands/<name>.ts and registers itself;
 * src/commands/command-index.ts lists them. This is the only module that decides exit codes: 0 ok,
 * 1 a failure at run time, 2 bad usage, config or patterns (something the operator must fix before
 * retrying).
 *
 * Start-up stays cheap (`--help`, `--version`, `<cmd> --help`: bench/startup.bench.js, under 150 ms):
 * - the top-level program lists every command from the index (name, arguments, summary) and
 *   registers in full only the command the command line names, importing that one module;
 * - `--version` alone is answered by src/main.ts from package.json, before this module loads;
 * - a command file imports only commander, node: modules and light helpers at its top, and loads
 *   what its work needs (config schema, SQLite, pino, XRegExp, got, node:http...) with
 *   `await import()` in its action.
 * test/package/ checks this by running every `--help` without those dependencies installed.
 */
export async function buildProgram(definedInFull: readonly string[]): Promise<Command> {
  const program = new Command('ptim-bridge')
    .description('Relay Juniper SRX remote-access VPN syslog to JIMS as PTIM identity events.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage and examples)')
    .addHelpText('after', `
Every command has its own --help with examples: ptim-bridge <command> --help.

Examples:
  $ ptim-bridge demo                                        # see it work, no JIMS needed
  $ ptim-bridge config check --config /etc/ptim-bridge/ptim-bridge.yaml
  $ ptim-bridge run --config /etc/ptim-bridge/ptim-bridge.yaml
  $ ptim-bridge health --config /etc/ptim-bridge/ptim-bridge.yaml --wait 30`)
    .exitOverride();
  // Imported together, registered in the index's order: the help lists commands in the order they were added.
  const registers = await Promise.all(COMMAND_INDEX.map((entry) => (definedInFull.includes(entry.name) ? entry.load() : undefined)));
  COMMAND_INDEX.forEach((entry, i) => {
    const register = registers[i];
    if (register) register(program);
    else addListing(program, entry);
  });
  return program;
}

/**
 * `entry` as the top-level help lists it, and nothing more. Never run: the command a command line
 * names is registered in full instead (main), so an action here would mean the index and main
 * disagree about which command that is.
 */
function addListing(program: Command, entry: CommandEntry): void {
  const listed = program.command(entry.name).description(entry.summary);
  if (entry.arguments !== '') listed.arguments(entry.arguments);
  // commander lists `name [options]` when a command has any option at all: a hidden one stands in for the real ones.
  if (entry.options) listed.addOption(new Option('--options').hideHelp());
  listed.action(() => {
    throw new Error(`ptim-bridge ${entry.name} was listed but not loaded (src/cli.ts)`);
  });
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedOutput();
  try {
    const named = commandNamedIn(argv.slice(2));
    const program = await buildProgram(named === undefined ? [] : [named.name]);
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version arrive here as "errors" with exit code 0; everything else commander
    // throws (unknown option or command, missing argument, no command at all) is bad usage.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (isBridgeError(error)) {
    process.stderr.write(`ptim-bridge: ${error.code}: ${error.message}\n`);
    return exitStatusFor(error.code);
  }
  // Not ours: still no stack trace for the operator unless they ask for it.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ptim-bridge: unexpected error: ${message}\n`);
  if (process.env.PTIM_BRIDGE_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
  return 1;
}
