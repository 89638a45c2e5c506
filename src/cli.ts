import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { exitStatusFor, isBridgeError } from './errors.js';
import { registerConfigCommand } from './commands/config.js';
import { registerReplayCommand } from './commands/replay.js';
import { registerPatternsCommand } from './commands/patterns.js';
import { registerSessionsCommand } from './commands/sessions.js';
import { registerDlqCommand } from './commands/dlq.js';
import { registerJimsSimCommand } from './commands/jims-sim.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerRunCommand } from './commands/run.js';
import { registerHealthCommand } from './commands/health.js';
import { registerReloadCommand } from './commands/reload.js';
import { registerOperateCommands } from './commands/operate.js';
import { registerJunosCommand } from './commands/junos.js';

/**
 * The `ptim-bridge` program. Each subcommand lives in src/commands/<name>.ts and registers itself
 * here. This is the only module that decides exit codes: 0 ok, 1 a failure at run time,
 * 2 bad usage, config or patterns (something the operator must fix before retrying).
 *
 * Start-up stays cheap (`--help`, `--version`, `<cmd> --help`: bench/startup.bench.js): a command
 * file imports only commander, node: modules and light helpers at its top, and loads what its work
 * needs (config schema, SQLite, pino, XRegExp, got...) with `await import()` in its action.
 * test/package/ checks this by running every `--help` without those dependencies installed.
 */
export function buildProgram(): Command {
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
  registerConfigCommand(program);
  registerReplayCommand(program);
  registerPatternsCommand(program);
  registerSessionsCommand(program);
  registerDlqCommand(program);
  registerJimsSimCommand(program);
  registerDemoCommand(program);
  registerRunCommand(program);
  registerHealthCommand(program);
  registerReloadCommand(program);
  registerOperateCommands(program);
  registerJunosCommand(program);
  return program;
}

/** This package's own version, from its package.json (one level above src/ and dist/ alike). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}

/**
 * A reader that goes away (`ptim-bridge ... | head -1`) is not an error: without a listener the
 * EPIPE of the next write would end the process with a stack trace. Output stops; the command ends
 * as it would otherwise (those that write in a loop notice by themselves: replay's NdjsonWriter,
 * `run --dry-run`). Any other write error on stdout (a full disk under `> file`) is a failure.
 */
function endQuietlyOnClosedOutput(): void {
  const closed = (error: NodeJS.ErrnoException) => error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED';
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (closed(error)) return;
    process.stderr.write(`ptim-bridge: cannot write to standard output: ${error.code ?? error.message}\n`);
    process.exitCode = 1;
  });
  // Nowhere left to say anything: keep the exit code the command chose, or 1.
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (!closed(error)) process.exitCode ||= 1;
  });
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
