import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { BridgeError } from '../errors.js';
import { EventPrinter } from '../ingest/event-printer.js';
import { startListeners, type ListenerSet } from '../ingest/listeners.js';
import { createLogger } from '../log.js';
import { createRegistry } from '../ops/metrics.js';
import { loadPatterns } from '../patterns/load.js';
import { LinePipeline } from '../pipeline.js';

interface RunOptions {
  config?: string;
  listen?: string[];
  patterns?: string[];
  allowSender?: string[];
  allowAnySender?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  dryRun?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Listen for syslog (UDP, TCP, TLS) and turn remote-access VPN up/down lines into PTIM events.')
    .option('-c, --config <file>', 'YAML config (listen, senders, tls, limits, patterns, vpns)')
    .option('-l, --listen <url>', 'udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (repeatable; replaces `listen` in the config)', collect)
    .option('-p, --patterns <dir>', 'extra pattern folder (repeatable; overrides shipped rules by id)', collect)
    .option('--allow-sender <cidr>', 'accept syslog from this address or network (repeatable; added to `senders.allow`)', collect)
    .option('--allow-any-sender', 'accept syslog from any address (anyone who reaches the port can inject identities)')
    .option('--tls-cert <file>', 'server certificate (PEM) for tls:// listeners')
    .option('--tls-key <file>', 'server private key (PEM) for tls:// listeners')
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mutual TLS)')
    .option('--dry-run', 'print the PTIM events as NDJSON on stdout instead of delivering them')
    .addHelpText('after', `
Output: with --dry-run, one PTIM event per line on stdout (up -> connect, down -> disconnect); logs
(JSON, one "listening on ..." line per listener with its bound port) on stderr. SIGINT or SIGTERM
stops accepting, finishes what is in hand and exits 0.

Examples:
  $ ptim-bridge run --dry-run --listen udp://0.0.0.0:5514 --allow-sender 192.0.2.0/24
  $ ptim-bridge run --dry-run --listen udp://[::]:5514 --listen tcp://[::]:5514 --allow-sender 192.0.2.10 --allow-sender 2001:db8::/64
  $ ptim-bridge run --dry-run --listen tls://0.0.0.0:6514 --tls-cert server.crt --tls-key server.key \\
      --tls-client-ca firewalls-ca.crt --allow-sender 192.0.2.0/24
  $ ptim-bridge run --dry-run --config ptim-bridge.yaml | jq -r 'select(.state=="connect") | "\\(.ip) \\(.user)"'`)
    .action(async (opts: RunOptions) => {
      if (!opts.dryRun) {
        throw new BridgeError('ERR_USAGE', 'Delivery to JIMS arrives with --jims-url, which this build does not support yet. Add --dry-run to print the events as NDJSON instead.');
      }
      // Listen for the stop request before the first listener is up: a SIGTERM right after the
      // "listening" line must still mean a clean stop, not the default kill.
      const stopRequested = new Promise<NodeJS.Signals | 'stdout-closed'>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
        // `run --dry-run | head`: when the reader goes away there is no one left to print for.
        process.stdout.once('error', () => resolve('stdout-closed'));
      });
      const config = withTlsFlags(loadConfig(opts.config), opts);
      const log = createLogger({ destination: 'stderr', level: config.log.level });
      const registry = createRegistry();
      const patterns = loadPatterns({ shipped: config.patterns.shipped, dirs: [...config.patterns.dirs, ...(opts.patterns ?? [])] });
      let listeners: ListenerSet | undefined;
      const printer = new EventPrinter({
        pipeline: new LinePipeline({ patterns, vpns: config.vpns }),
        out: process.stdout,
        log: log.child({ module: 'run' }),
        registry,
        // A slow reader of stdout slows TCP senders instead of growing this process.
        onCongestion: (congested) => (congested ? listeners?.pause() : listeners?.resume()),
      });
      listeners = await startListeners({
        urls: opts.listen ?? [],
        config,
        allowSenders: opts.allowSender,
        allowAnySender: opts.allowAnySender === true,
        onMessage: printer.onMessage,
        log,
        registry,
      });
      log.info({ listeners: listeners.bound.map((b) => b.url), rules: patterns.rules.length }, 'ready (dry run: events go to stdout)');

      const signal = await stopRequested;
      log.info({ signal }, 'stopping: no new connections, finishing what is in hand');
      await listeners.close();
      await printer.flushed();
      log.info({ ...printer.counts }, 'stopped');
      log.flush();
    });
}

/** The --tls-* flags replace the config's `tls` section. */
function withTlsFlags(config: Config, opts: RunOptions): Config {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined && opts.tlsClientCa === undefined) return config;
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new BridgeError('ERR_USAGE', 'Give --tls-cert and --tls-key together (the server certificate and its private key).');
  }
  const cert = opts.tlsCert ?? config.tls.cert;
  const key = opts.tlsKey ?? config.tls.key;
  return { ...config, tls: { cert, key, clientCa: opts.tlsClientCa ?? config.tls.clientCa } };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
