import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { BridgeError } from '../errors.js';
import { SessionTable } from '../events/sessions.js';
import { loadPatterns } from '../patterns/load.js';
import { LinePipeline } from '../pipeline.js';
import { replayDryRun, type ReplayProgress } from '../replay/dry-run.js';
import { NdjsonWriter } from '../replay/ndjson-writer.js';
import { formatProgress, formatSummary } from '../replay/report.js';
import { openStateDb } from '../state-db.js';

interface ReplayOptions {
  dryRun?: boolean;
  patterns: string[];
  config?: string;
  now?: string;
  progress?: boolean;
  state?: string;
}

// Progress is worth a line on a terminal only when the input takes more than a moment.
const PROGRESS_INTERVAL_MS = 500;

/** Adds `ptim-bridge replay` (dry run: events as NDJSON on stdout, summary on stderr). */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('Replay captures through the pipeline: syslog text in any line form (plain, gzip, - for standard input) or pcap/pcapng of syslog over UDP.')
    .argument('<files...>', 'capture files; gzip and pcap/pcapng are recognised by content; - reads standard input')
    .option('--dry-run', 'print the PTIM events as NDJSON on stdout instead of delivering them')
    .option('-p, --patterns <dir>', 'extra pattern folder (repeatable; overrides shipped rules by id)', collect, [])
    .option('-c, --config <file>', 'YAML config (vpns.<name>.domain aliases, patterns, limits)')
    .option('--now <time>', 'receipt time for text lines (ISO 8601): decides the year of RFC 3164 times and stands in for lines without one; default: the file\'s modification time (packet captures use each packet\'s time)')
    .option('--state <file>', 'session state file to use and keep (a later replay with the same file continues its sessions); default: a temporary one')
    .option('--no-progress', 'no progress line on a terminal')
    .addHelpText('after', `
Each line goes through the session table on the capture's own clock (one per device), so UPs
become connect or rekey, and rekeys that stop end their session (flags as the live bridge sets them).

Output: one event per line on stdout; a summary (lines read, matches per rule, skipped matches by
reason, near misses with the first ones verbatim, events by state, lines/s) on stderr.

Examples:
  $ ptim-bridge replay --dry-run /var/log/messages
  $ ptim-bridge replay --dry-run --config ptim-bridge.yaml --patterns ./my-patterns capture-*.log.gz > events.ndjson
  $ zcat old.gz | ptim-bridge replay --dry-run - | jq -r 'select(.state=="connect") | .user'
  $ ptim-bridge replay --dry-run --now 2026-03-15T00:00:00Z fixtures/replay-iked.log
  $ ptim-bridge replay --dry-run syslog-udp514.pcapng
  $ ptim-bridge replay --dry-run --state day.db morning.log && ptim-bridge replay --dry-run --state day.db afternoon.log`)
    .action(async (files: string[], opts: ReplayOptions) => {
      if (!opts.dryRun) {
        throw new BridgeError('ERR_USAGE', 'Replay without --dry-run delivers to JIMS and needs --jims-url, which this build does not support yet. Add --dry-run to print the events instead.');
      }
      let now: number | undefined;
      if (opts.now !== undefined) {
        now = Date.parse(opts.now);
        if (!Number.isFinite(now)) throw new BridgeError('ERR_USAGE', `Expected --now as an ISO 8601 time like 2026-03-15T00:00:00Z, got ${JSON.stringify(opts.now)}.`);
      }
      if (files.filter((f) => f === '-').length > 1) throw new BridgeError('ERR_USAGE', 'Standard input (-) can be given only once.');
      const config = loadConfig(opts.config);
      const patterns = loadPatterns({ shipped: config.patterns.shipped, dirs: [...config.patterns.dirs, ...opts.patterns] });
      const pipeline = new LinePipeline({ patterns, vpns: config.vpns });
      const out = new NdjsonWriter(process.stdout);
      const progress = opts.progress !== false && process.stderr.isTTY ? progressPrinter() : undefined;
      const tempState = opts.state === undefined ? mkdtempSync(join(tmpdir(), 'ptim-replay-')) : undefined;
      try {
        const db = openStateDb(opts.state ?? join(tempState!, 'state.db'));
        try {
          // The session table on the capture's clock; its changes commit once per chunk read.
          const sessions = new SessionTable({ db, config, clock: 'capture' });
          sessions.begin();
          let summary;
          try {
            summary = await replayDryRun({
              files, pipeline, out, now, maxLineBytes: config.limits.maxMessageBytes, onProgress: progress?.update,
              toEvents: (candidate, receivedAt) => sessions.apply(candidate, receivedAt),
              afterChunk: () => {
                sessions.commit();
                sessions.begin();
              },
            });
            sessions.commit();
          } catch (error) {
            sessions.rollback();
            throw error;
          }
          progress?.done();
          process.stderr.write(formatSummary(summary));
        } finally {
          db.close();
        }
      } finally {
        if (tempState !== undefined) rmSync(tempState, { recursive: true, force: true });
      }
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function progressPrinter(): { update: (p: ReplayProgress) => void; done: () => void } {
  let last = 0;
  let shown = false;
  return {
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
