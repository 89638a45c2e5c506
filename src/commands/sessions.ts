import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { BridgeError } from '../errors.js';
import type { SessionRow } from '../events/sessions.js';
import type { SessionFilter } from './session-detail.js';

/** `ptim-bridge sessions`: prints the live session table from a state file. */
export function registerSessionsCommand(program: Command): void {
  program
    .command('sessions')
    .description('Print the live VPN session table kept in a state file (device, IP, user, domain, since, last rekey, next deadline, flags).')
    .option('-c, --config <file>', 'YAML config file (its sessions.state is the default state file)')
    .option('--state <file>', 'state file to read (default: sessions.state from the config, else ptim-bridge.db)')
    .option('--json', 'one JSON object per session (NDJSON) instead of the table')
    .option('--detail', 'per session, the events sent for it (connect, rekey, disconnect) with times and delivery state, ended sessions included')
    .option('--device <name>', 'only this device (syslog host name, without case)')
    .option('--user <name>', 'only this user (without case)')
    .option('--ip <address>', 'only this client IP (IPv4 or IPv6)')
    .addHelpText('after', `
The listing is shaped like Junos' "show services user-identification authentication-table":
one block per device, a total, then one line per client IP. Flags: reconnected, rekey-missing,
domain-missing, replayed.

--detail is shaped like "show security ipsec security-associations detail": a block per session
(live ones, and ones that ended within the last 24 hours) with the events the bridge queued for
JIMS in order, each with its time and delivery state: queued (N retries), delivered, or dead letter
(HTTP status; see \`ptim-bridge dlq list\`). The history keeps the last 64 events per device and IP,
100,000 in all, and drops a session's events 24 hours after its disconnect; events held back by
push: false are not sent and so not listed (\`ptim-bridge stats\` counts them).

Examples:
  $ ptim-bridge sessions --config /etc/ptim-bridge.yaml
  $ ptim-bridge sessions --state /var/lib/ptim-bridge/ptim-bridge.db
  $ ptim-bridge sessions --state replay.db --json | jq 'select(.flags | index("rekey-missing"))'
  $ ptim-bridge sessions --detail --state /var/lib/ptim-bridge/ptim-bridge.db --user alice
  $ ptim-bridge sessions --detail --ip 10.20.0.5 --json | jq '.events[] | [.state, .delivery]'`)
    .action(async (opts: { config?: string; state?: string; json?: boolean; detail?: boolean; device?: string; user?: string; ip?: string }) => {
      // Loaded here, not at start-up: `--help` and the other commands must not pay for them (src/cli.ts).
      const [{ loadConfig }, { SessionTable }, { openStateDb }, { rowMatches, joinDetails, formatSessionDetails }] = await Promise.all([
        import('../config.js'), import('../events/sessions.js'), import('../state-db.js'), import('./session-detail.js'),
      ]);
      const config = loadConfig(opts.config);
      const path = opts.state ?? config.sessions.state;
      if (!existsSync(path)) {
        throw new BridgeError('ERR_STATE_UNREADABLE', `No state file at ${path}. Pass --state with the file the bridge or replay writes (sessions.state in the config).`, { file: path });
      }
      const db = openStateDb(path);
      try {
        const filter: SessionFilter = {};
        if (opts.device !== undefined) filter.device = opts.device;
        if (opts.user !== undefined) filter.user = opts.user;
        if (opts.ip !== undefined) filter.ip = opts.ip;
        const rows = new SessionTable({ db, config, clock: 'wall' }).list().filter((r) => rowMatches(r, filter));
        if (opts.detail) {
          const { readHistory } = await import('../delivery/event-history.js');
          const details = joinDetails(rows, readHistory(db, filter));
          process.stdout.write(opts.json ? details.map((d) => `${JSON.stringify(d)}\n`).join('') : formatSessionDetails(details));
          return;
        }
        process.stdout.write(opts.json ? rows.map((r) => `${JSON.stringify(r)}\n`).join('') : formatSessionTable(rows));
      } finally {
        db.close();
      }
    });
}

/**
 * Renders sessions as a Junos-style authentication-table listing: a block per device with its
 * total, then aligned columns. Pure; an empty table says so.
 */
export function formatSessionTable(rows: readonly SessionRow[]): string {
  if (rows.length === 0) return 'Total entries: 0\n';
  const headers = ['Source IP', 'Username', 'Domain', 'Since', 'Last rekey', 'Next deadline', 'Flags'];
  const cells = (r: SessionRow) => [r.ip, r.user, r.domain, shortTime(r.since), r.lastRekey ? shortTime(r.lastRekey) : '-', r.nextDeadline ? shortTime(r.nextDeadline) : '-', r.flags.join(',') || '-'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => cells(r)[i]!.length)));
  const line = (values: string[]) => `${values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')}\n`;
  const byDevice = new Map<string, SessionRow[]>();
  for (const r of rows) byDevice.set(r.device, [...(byDevice.get(r.device) ?? []), r]);
  let out = '';
  for (const [device, list] of byDevice) {
    out += `Device: ${device}\nTotal entries: ${list.length}\n${line(headers)}`;
    for (const r of list) out += line(cells(r));
    out += '\n';
  }
  return out;
}

/** `2026-03-14 09:02:11` (UTC): seconds are what an operator compares against a log. */
function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}
