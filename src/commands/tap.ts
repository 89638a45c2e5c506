import type { IncomingMessage } from 'node:http';
import type { Command } from 'commander';
import { BridgeError } from '../errors.js';
import type { TapRecord } from '../ops/tap.js';

interface TapFlags {
  config?: string;
  url?: string;
  json?: boolean;
  count?: string;
  device?: string;
  user?: string;
  ip?: string;
}

/** `ptim-bridge tap`: the live event stream of a running bridge, like `vector tap`. */
export function registerTapCommand(program: Command): void {
  program
    .command('tap')
    .description("Watch a running bridge deliver, like `vector tap`: each event as it is queued for JIMS, skipped (push: false), retried, acknowledged or refused (GET /tap on its metrics address). Delivery never waits for the viewer.")
    .option('-c, --config <file>', "the bridge's YAML config: its metrics.listen is asked")
    .option('--url <url>', 'the metrics address instead, e.g. http://127.0.0.1:9464')
    .option('--json', 'the records as NDJSON, as the bridge sends them')
    .option('--count <n>', 'stop after this many records')
    .option('--device <name>', 'only events of this device (without case)')
    .option('--user <name>', 'only events of this user (without case)')
    .option('--ip <address>', 'only events of this client IP')
    .addHelpText('after', `
One line per record: when, what (queued, skipped, retry, acked, dead-lettered), the event (state,
user@domain, client IP, device/gateway) and its outbox seq; "retry" says the attempt and JIMS'
status, "dead-lettered" the status, "skipped" the reason. With --json each record is the bridge's
JSON object: {at, what, seq, batch, status, reason, attempt, event: {id, state, user, domain, ip,
time, device, vpn, gateway, tunnelId, flags}}.

A viewer that reads too slowly misses records (at most 1000 are held for it), never slows delivery;
it is told how many with a {"notice":"dropped","count":N} record (on stderr without --json).
The tap shows user names and addresses: a bridge serves it only on a loopback metrics.listen unless
its config sets metrics.tap: true. Ctrl-C stops watching (exit 0); so does the bridge stopping.

Examples:
  $ ptim-bridge tap --config /etc/ptim-bridge/ptim-bridge.yaml
  $ ptim-bridge tap --url http://127.0.0.1:9464 --ip 10.20.0.5
  $ ptim-bridge tap --url http://127.0.0.1:9464 --json | jq -c 'select(.what == "dead-lettered")'
  $ ptim-bridge tap --url http://127.0.0.1:9464 --count 2   # the next two records, then exit`)
    .action(async (flags: TapFlags) => {
      let limit: number | undefined;
      if (flags.count !== undefined) {
        limit = Number(flags.count);
        if (!Number.isInteger(limit) || limit < 1) throw new BridgeError('ERR_USAGE', `Expected --count a whole number >= 1, got ${JSON.stringify(flags.count)}.`);
      }
      // Loaded here, not at start-up: `--help` and the other commands must not pay for it (src/cli.ts).
      const { adminUrl } = await import('./admin-url.js');
      const url = await adminUrl(flags, '/tap');
      const res = await open(url);
      await follow(res, flags, limit);
    });
}

async function open(url: URL): Promise<IncomingMessage> {
  const [{ get }, { unreachable }] = await Promise.all([import('node:http'), import('./admin-url.js')]);
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      if (res.statusCode === 200) {
        resolve(res);
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => reject(unreachable(url, `HTTP ${res.statusCode}${body ? `: ${body.trim().slice(0, 300)}` : ''}${res.statusCode === 404 ? ' (a dry run delivers nothing and serves no /tap)' : ''}`)));
    });
    req.on('error', (error: NodeJS.ErrnoException) => reject(unreachable(url, error.code ?? error.message)));
  });
}

/** Reads NDJSON records until the stream ends, --count is reached, Ctrl-C, or stdout closes. */
function follow(res: IncomingMessage, flags: TapFlags, limit: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    let shown = 0;
    let rest = '';
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      res.destroy();
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    process.stdout.once('error', done);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        let record: TapRecord | { notice: string; count?: number; at?: string };
        try {
          record = JSON.parse(line) as typeof record;
        } catch {
          continue;
        }
        if ('notice' in record) {
          if (flags.json) process.stdout.write(`${line}\n`);
          else process.stderr.write(record.notice === 'dropped' ? `tap: ${record.count} record(s) dropped: this viewer read too slowly (delivery went on)\n` : `tap: ${record.notice}\n`);
          continue;
        }
        if (!matches(record, flags)) continue;
        process.stdout.write(flags.json ? `${line}\n` : formatTapRecord(record));
        if (limit !== undefined && ++shown >= limit) {
          done();
          return;
        }
      }
    });
    res.on('end', () => {
      if (!flags.json) process.stderr.write('tap: the bridge closed the stream (stopped?)\n');
      done();
    });
    res.on('error', done);
  });
}

function matches(r: TapRecord, flags: TapFlags): boolean {
  if (flags.device !== undefined && r.event.device.toLowerCase() !== flags.device.toLowerCase()) return false;
  if (flags.user !== undefined && r.event.user.toLowerCase() !== flags.user.toLowerCase()) return false;
  if (flags.ip !== undefined && r.event.ip !== flags.ip) return false;
  return true;
}

/** One readable line per record. Pure. */
export function formatTapRecord(r: TapRecord): string {
  const e = r.event;
  let what: string = r.what;
  if (r.what === 'retry') what = `retry #${r.attempt ?? '?'}${r.status !== undefined ? ` (HTTP ${r.status})` : r.reason ? ` (${r.reason.slice(0, 60)})` : ''}`;
  else if (r.what === 'dead-lettered') what = `dead-lettered${r.status !== undefined ? ` (HTTP ${r.status})` : ''}`;
  else if (r.what === 'skipped') what = `skipped (${r.reason ?? '?'})`;
  const where = e.gateway !== undefined ? `${e.device}/${e.gateway}` : e.device;
  const flags = e.flags.length > 0 ? `  [${e.flags.join(',')}]` : '';
  const seq = r.seq !== undefined ? `  seq ${r.seq}` : '';
  return `${r.at}  ${what.padEnd(14)}  ${e.state.padEnd(10)}  ${e.user}@${e.domain}  ${e.ip}  ${where}${seq}${flags}\n`;
}
