import type { Command } from 'commander';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import { addDeliveryOptions, type DeliveryFlags } from './delivery-options.js';
import { repeatable } from './repeatable.js';
// Not loaded in the action like the rest: the stop request is listened for before anything is awaited.
import { untilSignal } from './until-signal.js';

interface RunOptions extends DeliveryFlags {
  config?: string;
  listen?: string[];
  patterns?: string[];
  allowSender?: string[];
  allowAnySender?: boolean;
  allowUnboundDevices?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  dryRun?: boolean;
  logEvents?: boolean;
}

export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description('Listen for syslog (UDP, TCP, TLS), turn remote-access VPN up/down lines into PTIM events and deliver them to JIMS (or print them with --dry-run).')
    .option('-c, --config <file>', 'YAML config (listen, senders, tls, limits, patterns, vpns)')
    .option('-l, --listen <url>', 'udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (repeatable; replaces `listen` in the config)', repeatable)
    .option('-p, --patterns <dir>', 'extra pattern folder (repeatable; overrides shipped rules by id)', repeatable)
    .option('--allow-sender <cidr>', 'accept syslog from this address or network (repeatable; added to `senders.allow`)', repeatable)
    .option('--allow-any-sender', 'accept syslog from any address (anyone who reaches the port can inject identities)')
    .option('--allow-unbound-devices', 'accept lines for firewalls not bound to their senders under `devices:` (as senders.allowUnboundDevices)')
    .option('--tls-cert <file>', 'server certificate (PEM) for tls:// listeners')
    .option('--tls-key <file>', 'server private key (PEM) for tls:// listeners')
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mutual TLS)')
    .option('--log-events', 'log each event as it is queued for JIMS, skipped (push: false), retried, acknowledged or refused (as `ptim-bridge tap` shows them)')
    .option('--dry-run', 'print the PTIM events as NDJSON on stdout instead of delivering them (state in a temporary file unless --state)');
  addDeliveryOptions(command)
    .addHelpText('after', `
Delivering (the default): events are committed to the state file's outbox before a line counts as
accepted, then pushed to JIMS in batches (OAuth2 client credentials; the secret comes from
jims.clientSecret in the config, env:NAME or file:PATH, or the PTIM_JIMS_CLIENT_SECRET environment
variable). JIMS' certificate is verified (--jims-ca for a private CA). Logs are JSON on stdout.

Devices: a line speaks for the firewall named in its host field only when its sender is bound to
that name under \`devices:\` in the config (addresses, or TLS client-certificate names); other lines
are rejected as device-not-bound unless --allow-unbound-devices (or senders.allowUnboundDevices).

Dry run: one PTIM event per line on stdout (connect, rekey, disconnect with flags, as delivered);
logs on stderr. Either way one "listening" log line per listener names its bound port; SIGINT or
SIGTERM stops accepting, commits what is in hand and exits 0 (undelivered events stay in the outbox).

Examples:
  $ export PTIM_JIMS_CLIENT_SECRET=...   # never on the command line: ps would show it
  $ ptim-bridge run --listen udp://0.0.0.0:5514 --allow-sender 192.0.2.0/24 \\
      --jims-url https://jims.example.com --jims-client-id srx-bridge --jims-ca jims-ca.pem --state /var/lib/ptim-bridge/state.db
  $ ptim-bridge run --config /etc/ptim-bridge/ptim-bridge.yaml   # devices: binds each firewall to its senders
  $ ptim-bridge run --dry-run --listen udp://0.0.0.0:5514 --allow-sender 192.0.2.0/24 --allow-unbound-devices
  $ ptim-bridge run --dry-run --listen udp://[::]:5514 --listen tcp://[::]:5514 --allow-sender 192.0.2.10 --allow-sender 2001:db8::/64
  $ ptim-bridge run --dry-run --listen tls://0.0.0.0:6514 --tls-cert server.crt --tls-key server.key \\
      --tls-client-ca firewalls-ca.crt --allow-sender 192.0.2.0/24
  $ ptim-bridge run --dry-run --config ptim-bridge.yaml | jq -r 'select(.state=="connect") | "\\(.ip) \\(.user)"'`)
    .action(async (opts: RunOptions) => {
      // Listen for the stop request before the first listener is up: a SIGTERM right after the
      // "listening" line must still mean a clean stop, not the default kill.
      const stopRequested = untilSignal({ stdoutClosed: opts.dryRun === true });
      // Loaded here, not at start-up: `--help` and the other commands must not pay for them (src/cli.ts).
      const [{ effectiveConfig }, { startBridge }, { createLogger }, { createRegistry }, { preflight, preflightError }, { deliveryLine }] = await Promise.all([
        import('../effective-config.js'), import('../bridge.js'), import('../log.js'), import('../ops/metrics.js'), import('../preflight.js'), import('./delivery-line.js'),
      ]);
      // The file with the flags laid over it, built the same way at start and at each reload.
      const build = () => effectiveConfig(opts.config, { ...opts, use: opts.dryRun ? 'dry-run' : 'deliver' });
      const effective = build();
      const { config } = effective;
      // The checks `config check` runs, all at once, before a state file or a port is touched.
      const problems = await preflight(effective);
      if (problems.length > 0) throw preflightError(problems, effective);
      const log = createLogger({ destination: opts.dryRun ? 'stderr' : 'stdout', level: config.log.level });
      const bridge = await startBridge({
        config,
        log,
        registry: createRegistry({ defaults: true }),
        dryRun: opts.dryRun ? process.stdout : undefined,
        state: effective.stateFile,
        ...(opts.logEvents && !opts.dryRun ? { onTapRecord: (record: import('../ops/tap.js').TapRecord) => log.info({ event: 'tap', tap: record }, `event ${record.what}`) } : {}),
      });
      log.info({ event: 'ready', listeners: bridge.bound.map((b) => b.url), metrics: bridge.metricsUrl }, opts.dryRun ? 'ready (dry run: events go to stdout)' : 'ready: delivering to JIMS');
      // SIGHUP (systemctl reload, `ptim-bridge reload`): the config file and pattern files again,
      // applied without closing a listener; a config that does not validate changes nothing.
      const onHangUp = () => reloadWith(bridge, () => build().config, log);
      process.on('SIGHUP', onHangUp);

      const signal = await stopRequested;
      process.off('SIGHUP', onHangUp);
      log.info({ signal }, 'stopping: no new connections, finishing what is in hand');
      await bridge.close();
      const counts = bridge.counts();
      if (counts === undefined) log.info({ event: 'stopped' }, 'stopped');
      else log.info({ event: 'stopped', ...counts }, `stopped: ${deliveryLine(counts)}`);
      log.flush();
    });
}

/** One reload: logged as `event: "reloaded"` (what took effect, what needs a restart) or `"reload-refused"` (why). */
function reloadWith(bridge: { reload(next: Config): { applied: string[]; needsRestart: string[] } }, build: () => Config, log: import('../log.js').Logger): void {
  try {
    const { applied, needsRestart } = bridge.reload(build());
    if (needsRestart.length > 0) {
      log.warn({ event: 'reloaded', applied, needsRestart }, `config reloaded; changes to ${needsRestart.join(', ')} need a restart and were not applied`);
    } else {
      log.info({ event: 'reloaded', applied }, 'config and patterns reloaded');
    }
  } catch (error) {
    const code = error instanceof BridgeError ? error.code : 'ERR_UNEXPECTED';
    log.error({ event: 'reload-refused', code, error: (error as Error).message }, 'the new config was refused; the running one stays (fix it, check it with `ptim-bridge config check`, and reload again)');
  }
}
