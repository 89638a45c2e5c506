import { Command, CommanderError } from 'commander';
import { isBridgeError } from './errors.js';
import { registerConfigCommand } from './commands/config.js';
import { registerReplayCommand } from './commands/replay.js';
import { registerPatternsCommand } from './commands/patterns.js';
import { registerSessionsCommand } from './commands/sessions.js';
import { registerDlqCommand } from './commands/dlq.js';
import { registerJimsSimCommand } from './commands/jims-sim.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerRunCommand } from './commands/run.js';

/**
 * The `ptim-bridge` program. Each subcommand lives in src/commands/<name>.ts and registers itself
 * here. This is the only module that decides exit codes: 0 ok, 1 a failure at run time,
 * 2 bad usage, config or patterns (something the operator must fix before retrying).
 */
export function buildProgram(): Command {
  const program = new Command('ptim-bridge')
    .description('Relay Juniper SRX remote-access VPN syslog to JIMS as PTIM identity events.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage and examples)')
    .exitOverride();
  registerConfigCommand(program);
  registerReplayCommand(program);
  registerPatternsCommand(program);
  registerSessionsCommand(program);
  registerDlqCommand(program);
  registerJimsSimCommand(program);
  registerDemoCommand(program);
  registerRunCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
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
    return ['ERR_CONFIG_INVALID', 'ERR_PATTERN_INVALID', 'ERR_USAGE', 'ERR_LISTEN_URL_INVALID'].includes(error.code) ? 2 : 1;
  }
  // Not ours: still no stack trace for the operator unless they ask for it.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ptim-bridge: unexpected error: ${message}\n`);
  if (process.env.PTIM_BRIDGE_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
  return 1;
}
