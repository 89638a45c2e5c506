import type { Command } from 'commander';

/**
 * One top-level command as the top-level help lists it, and where its full definition lives.
 * The help list is built from these fields alone, so `--help` loads no command module; the one
 * command named on the command line is registered in full from its module (src/cli.ts).
 */
export interface CommandEntry {
  name: string;
  /** Its arguments as usage shows them (`<files...>`); '' when it takes none. */
  arguments: string;
  /** Whether it has options of its own (the list then shows `[options]`); a command with subcommands has none. */
  options: boolean;
  /** Its description, word for word: the list prints it. */
  summary: string;
  /** Loads its module only: the function that registers the full definition on the program. */
  load: () => Promise<(program: Command) => void>;
}

/**
 * Every top-level command, in the order the help lists them. A copy of what each module registers:
 * test/commands/command-index.test.ts fails when this table and the modules disagree.
 */
export const COMMAND_INDEX: readonly CommandEntry[] = [
  {
    name: 'config',
    arguments: '',
    options: false,
    summary: 'Check a config file, or print its JSON Schema.',
    load: async () => (await import('./config.js')).registerConfigCommand,
  },
  {
    name: 'replay',
    arguments: '<files...>',
    options: true,
    summary: 'Replay captures through the pipeline and deliver their events to JIMS (flag `replayed`), or print them with --dry-run. Captures: syslog text in any line form (journalctl short-full/short-unix too), JSON-lines exports (Elastic/Filebeat, Graylog, journalctl -o json, Splunk), CSV exports (Splunk _raw), pcap/pcapng of syslog over UDP or TCP; plain or gzip/xz/bzip2/zstd; - for standard input.',
    load: async () => (await import('./replay.js')).registerReplayCommand,
  },
  {
    name: 'patterns',
    arguments: '',
    options: false,
    summary: 'Check pattern files: run their inline examples, measure coverage on captures, lint their regexes.',
    load: async () => (await import('./patterns.js')).registerPatternsCommand,
  },
  {
    name: 'sessions',
    arguments: '',
    options: true,
    summary: 'Print the live VPN session table kept in a state file (device, IP, user, domain, since, last rekey, next deadline, flags).',
    load: async () => (await import('./sessions.js')).registerSessionsCommand,
  },
  {
    name: 'dlq',
    arguments: '',
    options: false,
    summary: 'Batches JIMS refused (4xx other than 408/429): list them, send them again, or delete them.',
    load: async () => (await import('./dlq.js')).registerDlqCommand,
  },
  {
    name: 'jims-sim',
    arguments: '',
    options: true,
    summary: 'Run a JIMS simulator: an HTTPS server speaking the PTIM contract (OAuth2 token, events), keeping the identity table JIMS would.',
    load: async () => (await import('./jims-sim.js')).registerJimsSimCommand,
  },
  {
    name: 'demo',
    arguments: '',
    options: true,
    summary: 'See the bridge work with no JIMS at hand: start an embedded JIMS simulator on loopback (random port, fresh certificate), replay a bundled SRX capture through the bridge to it, and print the identity table JIMS ends with.',
    load: async () => (await import('./demo.js')).registerDemoCommand,
  },
  {
    name: 'run',
    arguments: '',
    options: true,
    summary: 'Listen for syslog (UDP, TCP, TLS), turn remote-access VPN up/down lines into PTIM events and deliver them to JIMS (or print them with --dry-run).',
    load: async () => (await import('./run.js')).registerRunCommand,
  },
  {
    name: 'health',
    arguments: '',
    options: true,
    summary: 'Ask a running bridge whether it is up: GET /healthz on its metrics address (metrics.listen of --config, or --url); with --wait, keep asking until it answers.',
    load: async () => (await import('./health.js')).registerHealthCommand,
  },
  {
    name: 'reload',
    arguments: '',
    options: true,
    summary: 'Make a running bridge read its config and pattern files again (SIGHUP to the `run` that holds the state file), without closing a listener.',
    load: async () => (await import('./reload.js')).registerReloadCommand,
  },
  {
    name: 'stats',
    arguments: '',
    options: true,
    summary: 'Tunnel-event statistics, like Junos "show security ipsec tunnel-events statistics": connect / disconnect / rekey events queued for JIMS, acknowledged, retried, dead-lettered and skipped, per device and gateway, since the start and in total.',
    load: async () => (await import('./stats.js')).registerStatsCommand,
  },
  {
    name: 'tap',
    arguments: '',
    options: true,
    summary: 'Watch a running bridge deliver, like `vector tap`: each event as it is queued for JIMS, skipped (push: false), retried, acknowledged or refused (GET /tap on its metrics address). Delivery never waits for the viewer.',
    load: async () => (await import('./tap.js')).registerTapCommand,
  },
  {
    name: 'junos',
    arguments: '',
    options: false,
    summary: 'Derive bridge settings from a Junos configuration (import), or print the syslog lines a firewall needs (config).',
    load: async () => (await import('./junos.js')).registerJunosCommand,
  },
];

/**
 * The top-level command a command line names (arguments after `node script`): its first operand,
 * or the one after `help` (`ptim-bridge help dlq`). Undefined when it names none, or one not in
 * the index (commander then says "unknown command" with the index's names to choose from).
 */
export function commandNamedIn(args: readonly string[]): CommandEntry | undefined {
  // As commander reads them: `-` alone is an operand, not an option.
  const operands = args.filter((arg) => arg === '-' || !arg.startsWith('-'));
  const name = operands[0] === 'help' ? operands[1] : operands[0];
  return COMMAND_INDEX.find((entry) => entry.name === name);
}
