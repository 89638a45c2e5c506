import type { Command } from 'commander';
import { BridgeError } from '../errors.js';

interface HealthFlags {
  config?: string;
  url?: string;
  wait: string;
}

/** Between two asks while waiting: short enough that systemd sees "started" soon after the bridge is up. */
const RETRY_MS = 200;
/** One ask: the metrics server answers at once or not at all. */
const ASK_TIMEOUT_MS = 2000;

/** `ptim-bridge health`: is a running bridge up? The readiness wait of deploy/ptim-bridge.service. */
export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('Ask a running bridge whether it is up: GET /healthz on its metrics address (metrics.listen of --config, or --url); with --wait, keep asking until it answers.')
    .option('-c, --config <file>', 'the YAML config the bridge runs with: its metrics.listen is asked')
    .option('--url <url>', 'the metrics address instead, e.g. http://127.0.0.1:9464')
    .option('--wait <seconds>', 'keep asking for up to this long before giving up (0: ask once)', '0')
    .addHelpText('after', `
The bridge answers /healthz only once every listener is bound and delivery has started, so an
answer means "ready": systemd's ExecStartPost runs this with --wait, and the unit counts as started
only then (deploy/ptim-bridge.service). The answer (JSON) goes to stdout.
A metrics.listen on 0.0.0.0 or [::] is asked on loopback.

Exit codes: 0 it answered 200; 1 (ERR_NOT_READY) no answer, or another status, within --wait;
2 no address to ask (neither --url nor metrics.listen) or a bad flag.

Examples:
  $ ptim-bridge health --config /etc/ptim-bridge/ptim-bridge.yaml
  $ ptim-bridge health --url http://127.0.0.1:9464 --wait 30
  $ ptim-bridge health --config ptim-bridge.yaml --wait 30 && echo ready`)
    .action(async (flags: HealthFlags) => {
      const waitSeconds = Number(flags.wait);
      if (flags.wait.trim() === '' || !Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > 3600) {
        throw new BridgeError('ERR_USAGE', `Expected --wait a number of seconds 0-3600, got ${JSON.stringify(flags.wait)}.`);
      }
      // Loaded here, not at start-up: `--help` and the other commands must not pay for it (src/cli.ts).
      const { adminUrl } = await import('./admin-url.js');
      const url = await adminUrl(flags, '/healthz');
      const answer = await askUntil(url, Date.now() + waitSeconds * 1000);
      process.stdout.write(answer.endsWith('\n') ? answer : `${answer}\n`);
    });
}


/**
 * Asks until a 200 or the deadline; at least once.
 * @throws BridgeError ERR_NOT_READY with the last reason (connection refused, status) after the deadline.
 */
async function askUntil(url: URL, deadline: number): Promise<string> {
  let last = '';
  for (;;) {
    const result = await ask(url);
    if (result.status === 200) return result.body;
    last = result.status === undefined ? result.body : `HTTP ${result.status}${result.body ? `: ${result.body.trim().slice(0, 200)}` : ''}`;
    if (Date.now() + RETRY_MS > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  throw new BridgeError('ERR_NOT_READY', `${url.href} did not answer 200 in time (last: ${last}). Is the bridge running (\`systemctl status ptim-bridge\`, its log), and does it serve metrics on this address (metrics.listen)?`);
}

/** One GET; a network error comes back as `{ body: code }`, never thrown. */
async function ask(url: URL): Promise<{ status?: number; body: string }> {
  const { get } = await import('node:http');
  return new Promise((resolve) => {
    const req = get(url, { timeout: ASK_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ body: error.code ?? error.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: `no answer within ${ASK_TIMEOUT_MS} ms` })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ body: error.code ?? error.message }));
  });
}
