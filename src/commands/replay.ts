import type { Command } from 'commander';
import { addDeliveryOptions, type DeliveryFlags } from './delivery-options.js';
import { repeatable } from './repeatable.js';
import { BridgeError } from '../errors.js';
import type { ReplayProgress } from '../replay/replay-captures.js';
import type { CaptureInput } from '../replay/replay-captures.js';
import { FIELD_ROLES, INPUT_FORMATS, parseFieldOption, parseFormatOption, type FieldNames } from '../replay/input-format.js';

interface ReplayOptions extends DeliveryFlags {
  dryRun?: boolean;
  patterns: string[];
  config?: string;
  now?: string;
  progress?: boolean;
  state?: string;
  format: string;
  field: FieldNames;
  since?: string;
  until?: string;
  finalState?: boolean;
  timezone?: string;
}

// Progress is worth a line on a terminal only when the input takes more than a moment.
const PROGRESS_INTERVAL_MS = 500;

/** Adds `ptim-bridge replay` (dry run: events as NDJSON on stdout, summary on stderr). */
export function registerReplayCommand(program: Command): void {
  const command = program
    .command('replay')
    .description('Replay captures through the pipeline and deliver their events to JIMS (flag `replayed`), or print them with --dry-run. Captures: syslog text in any line form (journalctl short-full/short-unix too), JSON-lines exports (Elastic/Filebeat, Graylog, journalctl -o json, Splunk), CSV exports (Splunk _raw), pcap/pcapng of syslog over UDP or TCP; plain or gzip/xz/bzip2/zstd; - for standard input.')
    .argument('<files...>', 'capture files; format and compression are recognised by content; - reads standard input')
    .option('--dry-run', 'print the PTIM events as NDJSON on stdout instead of delivering them')
    .option('-p, --patterns <dir>', 'extra pattern folder (repeatable; overrides shipped rules by id)', repeatable, [])
    .option('-c, --config <file>', 'YAML config (jims, vpns.<name>.domain aliases, patterns, limits)')
    .option('--now <time>', 'receipt time for text lines (ISO 8601): decides the year of RFC 3164 times and stands in for lines without one; default: the file\'s modification time (packet captures use each packet\'s time)')
    .option('--state <file>', 'with --dry-run: session state file to use and keep (a later replay with the same file continues its sessions; default: none, the table is kept in memory). Delivering: the state file whose durable outbox carries the events (default: sessions.state)')
    .option('--format <kind>', `how to read the captures: ${INPUT_FORMATS.join(', ')} (auto: from each file's content)`, 'auto')
    .option('--field <role=name>', `export field for a role (repeatable; roles: ${FIELD_ROLES.join(', ')}; JSON names may be dotted paths; an empty name turns the role off)`, (v: string, prev: FieldNames) => parseFieldOption(v, prev), {} as FieldNames)
    .option('--since <time>', 'apply only lines timed at or after this (ISO 8601; without an offset read in `timezone`)')
    .option('--until <time>', 'apply only lines timed before this (ISO 8601; without an offset read in `timezone`)')
    .option('--final-state', 'deliver (or print) only what JIMS must hold when the captures end: the connect of each session still live; nothing of sessions that ended')
    .option('--timezone <zone>', 'IANA zone for zone-less times (RFC 3164, log files, journalctl short-full) of devices without devices.<name>.timezone; overrides config `timezone`')
    .option('--no-progress', 'no progress line on a terminal');
  addDeliveryOptions(command, { state: false })
    .addHelpText('after', `
Each line goes through the session table on the capture's own clock (one per device), so UPs
become connect or rekey, and rekeys that stop end their session (flags as the live bridge sets them).

Without --dry-run the events go through the durable outbox to JIMS, flagged \`replayed\` (JIMS
ignores ids it has seen, so replaying twice is safe); the command returns when JIMS took them all,
and exits 1 (ERR_JIMS_REJECTED) when JIMS refused some: they wait in \`ptim-bridge dlq list\`.
The client secret comes from jims.clientSecret in the config or the PTIM_JIMS_CLIENT_SECRET
environment variable. Do not point --state at the file of a running bridge: it is locked.

Formats (README "Replay formats"): text lines in any syslog form; JSON lines, whose layout comes
from the first record (MESSAGE -> journalctl -o json, result._raw -> Splunk, message + @timestamp
-> Elastic/Filebeat, message + source -> Graylog); CSV whose header names _raw (Splunk). An export's
time field wins over the line's own header time; its host and daemon fill in what the line lacks.
Binary or unrecognised input stops the replay with ERR_INPUT_FORMAT (exit 1), naming the file.

Output: with --dry-run one event per line on stdout; always a summary (lines read, matches per rule,
skipped matches by reason, near misses with the first ones verbatim, events by state, lines/s) on stderr.

Examples:
  $ ptim-bridge replay --dry-run /var/log/messages
  $ ptim-bridge replay --dry-run --config ptim-bridge.yaml --patterns ./my-patterns capture-*.log.gz > events.ndjson
  $ zcat old.gz | ptim-bridge replay --dry-run - | jq -r 'select(.state=="connect") | .user'
  $ ptim-bridge replay --dry-run --now 2026-03-15T00:00:00Z fixtures/replay-iked.log
  $ ptim-bridge replay --dry-run syslog-udp514.pcapng
  $ ptim-bridge replay --dry-run --no-progress /var/log/messages.1.xz > events.ndjson
  $ journalctl -o json -t iked --since today | ptim-bridge replay --dry-run -
  $ ptim-bridge replay --dry-run --format csv --field raw=_raw --field time=_time splunk-export.csv
  $ ptim-bridge replay --dry-run --format json --field raw=msg --field host=device --field time= export.ndjson.zst
  $ ptim-bridge replay --dry-run --timezone Europe/Paris /var/log/remote/srx-hq.log.bz2
  $ ptim-bridge replay --dry-run --since 2026-03-14T08:00:00Z --until 2026-03-14T12:00:00Z messages.gz
  $ ptim-bridge replay --final-state --jims-url https://jims.example --jims-secondary-url https://jims2.example \\
      --jims-client-id bridge --state live.db outage.log
  $ ptim-bridge replay --dry-run --state day.db morning.log && ptim-bridge replay --dry-run --state day.db afternoon.log
  $ PTIM_JIMS_CLIENT_SECRET=... ptim-bridge replay --jims-url https://jims.example --jims-client-id bridge \\
      --jims-ca jims-ca.pem --state backfill.db /var/log/messages.0.gz`)
    .action(async (files: string[], opts: ReplayOptions) => {
      // Loaded here, not at start-up: `--help` and the other commands must not pay for them (src/cli.ts).
      const [{ runDryRunReplay, runReplay }, { effectiveConfig }, { createLogger }, { createRegistry }, { formatProgress, formatSummary }, { NdjsonSink }, { deliveryLine }] = await Promise.all([
        import('../bridge.js'), import('../effective-config.js'), import('../log.js'), import('../ops/metrics.js'),
        import('../replay/report.js'), import('../flow/ndjson-sink.js'), import('./delivery-line.js'),
      ]);
      let now: number | undefined;
      if (opts.now !== undefined) {
        now = Date.parse(opts.now);
        if (!Number.isFinite(now)) throw new BridgeError('ERR_USAGE', `Expected --now as an ISO 8601 time like 2026-03-15T00:00:00Z, got ${JSON.stringify(opts.now)}.`);
      }
      if (files.filter((f) => f === '-').length > 1) throw new BridgeError('ERR_USAGE', 'Standard input (-) can be given only once.');
      // The file with the flags laid over it (--timezone stands in for `timezone`; devices.<name>.timezone still wins for its device).
      const effective = effectiveConfig(opts.config, { ...opts, use: opts.dryRun ? 'dry-run' : 'deliver' });
      const { config } = effective;
      const [{ zoneClock }, { recordTime }] = await Promise.all([import('../ingest/time-zone.js'), import('../replay/export-records.js')]);
      const instant = (flag: string, value: string | undefined): number | undefined => {
        if (value === undefined) return undefined;
        const t = recordTime(value, zoneClock(config.timezone));
        if (t === undefined) throw new BridgeError('ERR_USAGE', `Expected ${flag} as an ISO 8601 time like 2026-03-14T08:00:00Z (or 2026-03-14T09:00:00, read in timezone ${config.timezone}), got ${JSON.stringify(value)}.`);
        return t;
      };
      const since = instant('--since', opts.since);
      const until = instant('--until', opts.until);
      if (since !== undefined && until !== undefined && until <= since) {
        throw new BridgeError('ERR_USAGE', `Expected --until after --since, got --since ${opts.since} and --until ${opts.until}.`);
      }
      const input: CaptureInput = { format: parseFormatOption(opts.format), fields: opts.field, since, until, finalState: opts.finalState === true };
      const progress = opts.progress !== false && process.stderr.isTTY ? progressPrinter(formatProgress) : undefined;
      if (!opts.dryRun) {
        const log = createLogger({ destination: 'stderr', level: config.log.level });
        const summary = await runReplay({
          config, log, registry: createRegistry(), files, input, now,
          onProgress: progress?.update,
          onWaiting: (backlog) => progress?.message(`waiting for JIMS to take the last ${backlog} events`),
        });
        progress?.done();
        process.stderr.write(formatSummary(summary));
        process.stderr.write(`replay: ${deliveryLine({ ...summary.delivery })}\n`);
        log.flush();
        // "Returned" must not read as "delivered": events JIMS refused sit in the dead-letter store.
        const { refused } = summary;
        if (refused > 0) {
          const file = config.sessions.state;
          throw new BridgeError(
            'ERR_JIMS_REJECTED',
            `JIMS refused ${refused} event(s); they are in the dead-letter store of ${file}. See why with \`ptim-bridge dlq list --state ${file}\`, fix the cause, then \`ptim-bridge dlq retry --state ${file}\`.`,
            { file },
          );
        }
        return;
      }
      const summary = await runDryRunReplay({
        config, log: createLogger({ destination: 'stderr', level: config.log.level }),
        files, input, now, state: effective.stateFile, sink: new NdjsonSink(process.stdout), onProgress: progress?.update,
      });
      progress?.done();
      process.stderr.write(formatSummary(summary));
      if (summary.pushDisabled > 0) process.stderr.write(`replay: ${summary.pushDisabled} event(s) not printed: push is off for their gateway, VPN or device (push-disabled)\n`);
    });
}

function progressPrinter(formatProgress: (p: ReplayProgress) => string): { update: (p: ReplayProgress) => void; message: (text: string) => void; done: () => void } {
  let last = 0;
  let shown = false;
  return {
    message(text) {
      shown = true;
      process.stderr.write(`\r\x1b[K${text}`);
    },
    update(p) {
      if (p.elapsedMs - last < PROGRESS_INTERVAL_MS) return;
      last = p.elapsedMs;
      shown = true;
      process.stderr.write(`\r\x1b[K${formatProgress(p)}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
