import type { Command } from 'commander';
import { BridgeError } from '../errors.js';
import type { StatsReport } from '../ops/event-stats.js';

interface StatsFlags {
  config?: string;
  state?: string;
  url?: string;
  device?: string;
  gateway?: string;
  json?: boolean;
}

/** `ptim-bridge stats`: tunnel-event statistics, from a state file or a running bridge. */
export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('Tunnel-event statistics, like Junos "show security ipsec tunnel-events statistics": connect / disconnect / rekey events queued for JIMS, acknowledged, retried, dead-lettered and skipped, per device and gateway, since the start and in total.')
    .option('-c, --config <file>', 'YAML config: its sessions.state is the state file read')
    .option('--state <file>', 'state file to read (default: sessions.state from the config, else ptim-bridge.db); read-only, fine while the bridge runs')
    .option('--url <url>', "ask a running bridge instead: its metrics address (metrics.listen), e.g. http://127.0.0.1:9464 (GET /stats)")
    .option('--device <name>', 'only this device (syslog host name, without case)')
    .option('--gateway <name>', 'only this IKE gateway')
    .option('--json', 'the report as one JSON object')
    .addHelpText('after', `
Counts (per device, IKE gateway and event: connect, disconnect, rekey):
  Queued        events the session table made and the bridge committed to its outbox for JIMS
  Acknowledged  events JIMS accepted (2xx)
  Retried       events in a push that failed and was tried again (one per failed push)
  Dead letters  events JIMS refused (4xx): see \`ptim-bridge dlq list\`
  Skipped       events not sent because push is off for their gateway, VPN or device (push: false)
"Since start" counts from the start of the delivering process (\`run\`, or a delivering \`replay\`) that
last used the state file; "in total" since the file began counting. The counts live in the state file,
written in the same transactions as the outbox changes they count: a restart keeps them and a crash
cannot count an event twice. Reading the file never disturbs a running bridge.

Examples:
  $ ptim-bridge stats --state /var/lib/ptim-bridge/ptim-bridge.db
  $ ptim-bridge stats --config /etc/ptim-bridge/ptim-bridge.yaml --device srx-hq
  $ ptim-bridge stats --url http://127.0.0.1:9464 --json | jq '.totals.total'
  $ ptim-bridge stats --state state.db --json | jq -r '.rows[] | select(.total["dead-lettered"] > 0) | .device'`)
    .action(async (flags: StatsFlags) => {
      const report = flags.url !== undefined ? await fromBridge(flags) : await fromFile(flags);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      const { formatStats } = await import('../ops/event-stats.js');
      process.stdout.write(formatStats(report));
    });
}

async function fromFile(flags: StatsFlags): Promise<StatsReport> {
  // Loaded here, not at start-up: `--help` and the other commands must not pay for them (src/cli.ts).
  const [{ loadConfig }, { openStateDbReadOnly }, { readStats }] = await Promise.all([import('../config.js'), import('../state-db.js'), import('../ops/event-stats.js')]);
  const path = flags.state ?? loadConfig(flags.config).sessions.state;
  const db = openStateDbReadOnly(path);
  try {
    return readStats(db, filterOf(flags));
  } finally {
    db.close();
  }
}

async function fromBridge(flags: StatsFlags): Promise<StatsReport> {
  if (flags.state !== undefined || flags.config !== undefined) {
    throw new BridgeError('ERR_USAGE', 'Expected --url (a running bridge) or --state / --config (a state file), got both.');
  }
  // Loaded here, not at start-up: `--help` and the other commands must not pay for it (src/cli.ts).
  const { adminUrl, unreachable } = await import('./admin-url.js');
  const url = await adminUrl({ url: flags.url! }, '/stats');
  const filter = filterOf(flags);
  if (filter.device !== undefined) url.searchParams.set('device', filter.device);
  if (filter.gateway !== undefined) url.searchParams.set('gateway', filter.gateway);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw unreachable(url, cause?.code ?? (error as Error).message);
  }
  if (res.status === 404) throw unreachable(url, 'HTTP 404: this bridge serves no /stats; a dry run delivers nothing, and older versions have none');
  if (!res.ok) throw unreachable(url, `HTTP ${res.status}: ${(await res.text()).trim().slice(0, 200)}`);
  return (await res.json()) as StatsReport;
}

function filterOf(flags: StatsFlags): { device?: string; gateway?: string } {
  const filter: { device?: string; gateway?: string } = {};
  if (flags.device !== undefined) filter.device = flags.device;
  if (flags.gateway !== undefined) filter.gateway = flags.gateway;
  return filter;
}
