import type { Command } from 'commander';
import { registerStatsCommand } from './stats.js';
import { registerTapCommand } from './tap.js';

/** The operator's views of a delivering bridge (issue 11): `stats` and `tap`. One registration for cli.ts. */
export function registerOperateCommands(program: Command): void {
  registerStatsCommand(program);
  registerTapCommand(program);
}
