import type { Command } from 'commander';
import { BridgeError } from '../errors.js';

interface ReloadFlags {
  config?: string;
  state?: string;
}

/** `ptim-bridge reload`: SIGHUP to the `run` holding a state file, found by the file's owner row. */
export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description('Make a running bridge read its config and pattern files again (SIGHUP to the `run` that holds the state file), without closing a listener.')
    .option('-c, --config <file>', 'the YAML config the bridge runs with: its sessions.state names the state file')
    .option('--state <file>', 'the state file the bridge runs with (instead of --config)')
    .addHelpText('after', `
The bridge holds its state file and names itself in it (process id); this sends that process
SIGHUP, as \`systemctl reload ptim-bridge\` and \`kill -HUP\` do. The bridge then logs
event "reloaded" (what took effect, and the keys that need a restart: listen, tls, limits, jims,
metrics, sessions.state) or event "reload-refused" with the errors, the running config staying.
Check the new file first: \`ptim-bridge config check --config FILE\`.

Exit codes: 0 the signal was sent; 1 (ERR_NOT_RUNNING) no live bridge holds the file; 2 bad flags.

Examples:
  $ ptim-bridge config check --config /etc/ptim-bridge/ptim-bridge.yaml --quiet && ptim-bridge reload --config /etc/ptim-bridge/ptim-bridge.yaml
  $ ptim-bridge reload --state /var/lib/ptim-bridge/state.db`)
    .action(async (flags: ReloadFlags) => {
      if ((flags.config === undefined) === (flags.state === undefined)) {
        throw new BridgeError('ERR_USAGE', 'Give --config FILE (its sessions.state is used) or --state FILE: the state file of the bridge to reload.');
      }
      const [{ loadConfig }, { openStateDbReadOnly }, { stateOwner }] = await Promise.all([import('../config.js'), import('../state-db.js'), import('../state-lock.js')]);
      const file = flags.state ?? loadConfig(flags.config).sessions.state;
      const db = openStateDbReadOnly(file);
      let owner;
      try {
        owner = stateOwner(db);
      } finally {
        db.close();
      }
      if (owner === undefined || !owner.purpose.startsWith('run')) {
        throw new BridgeError('ERR_NOT_RUNNING', `No running bridge holds ${file}${owner ? ` (process ${owner.pid} is a ${owner.purpose})` : ''}. Start it with \`ptim-bridge run\`, or name the state file it uses with --state.`);
      }
      process.kill(owner.pid, 'SIGHUP');
      process.stdout.write(`sent SIGHUP to the bridge (process ${owner.pid}, running since ${owner.since}); its log says "reloaded" or "reload-refused"\n`);
    });
}
