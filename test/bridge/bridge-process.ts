import type { ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { BehaviourChange } from '../../src/jims-sim/behaviour.js';
import type { CertificatePair } from '../../src/jims-sim/self-signed.js';
import { startJimsSim, type JimsSim } from '../../src/jims-sim/server.js';
import { startCli } from '../helpers/cli.js';
import { listenerPorts, logEntries, waitForEvent } from '../helpers/logs.js';
import { rfc3164Stamp } from '../helpers/syslog-time.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Promise tests drive the REAL bridge: `ptim-bridge run` as a child process (through tsx), fed
 * real TCP syslog, delivering over real HTTPS to simulators running in the test process. What the
 * bridge committed is read from its own metrics endpoint (`ptim_bridge_outbox_added_total`: the
 * intake queues a tick's events and commits them in one synchronous step, so whatever the endpoint
 * shows is in the state file).
 */

export const CLIENT_ID = 'bridge';
/** A secret no log line could contain by accident. */
export const SECRET = 'Sup3r-S3cret-3f9a1c7e';

export interface Sim {
  sim: JimsSim;
  /** The simulator's self-signed certificate, for --jims-ca. */
  caFile: string;
}

/**
 * A JIMS simulator (HTTPS on loopback port 0) closed when the test ends. Self-signed unless `tls`
 * is given; `caFile` (in `dir`) is its own certificate then, for --jims-ca.
 */
export async function startSim(t: ExecutionContext, dir: string, name = 'jims', options: { behaviour?: BehaviourChange; tls?: CertificatePair } = {}): Promise<Sim> {
  const sim = await startJimsSim({ clientId: CLIENT_ID, clientSecret: SECRET, ...options });
  t.teardown(() => sim.close());
  const caFile = join(dir, `${name}-ca.pem`);
  writeFileSync(caFile, sim.ca);
  return { sim, caFile };
}

const FIELDS = (ip: string, user: string, tunnel: string) =>
  `Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: ${tunnel}, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: ${user}, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,${ip}-${ip}) , SA Type: dynamic`;

/** Client address number `i` (0..65535): 10.20.x.y. */
export function clientIp(i: number): string {
  return `10.20.${(i >> 8) & 255}.${i & 255}`;
}

/** The message text of an SRX IKE_VPN_UP/DOWN_ALARM_USER line for client `i` (user u<i>). */
export function vpnMessage(kind: 'up' | 'down', i: number): string {
  const ip = clientIp(i);
  const fields = FIELDS(ip, `u${i}`, String(500000 + i));
  return kind === 'up'
    ? `IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. ${fields}`
    : `IKE_VPN_DOWN_ALARM_USER: VPN ra-vpn from 198.51.100.23 is down. ${fields}, Reason: Peer sent delete`;
}

/**
 * A complete RFC 3164 syslog line (no trailer) as an SRX sends it, stamped now (a live bridge refuses
 * times a day away from receipt) plus `second` seconds: a later `second` is a later line.
 */
export function vpnLine(kind: 'up' | 'down', i: number, second = 0): string {
  return `<30>${rfc3164Stamp(Math.floor(Date.now() / 1000) * 1000 + second * 1000)} srx-hq iked[4242]: ${vpnMessage(kind, i)}`;
}

export interface BridgeOptions {
  state: string;
  jimsUrl: string;
  jimsSecondaryUrl?: string;
  caFile: string;
  /** Extra `jims` config keys (batchSize, timeoutMs...). */
  jims?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** Where the config file goes (a test's temp dir). */
  dir: string;
  /** Extra `sessions` config keys (rekeyIntervalSeconds...). */
  sessions?: Record<string, unknown>;
  /** Extra `lineChecks` config keys (duplicateWindowSeconds...). */
  lineChecks?: Record<string, unknown>;
  /** Log level of the run (info by default). */
  logLevel?: string;
  /** Further top-level config keys (gateways, vpns...), laid over the defaults above. */
  config?: Record<string, unknown>;
  /** Further `run` flags (--log-events...). */
  args?: readonly string[];
  /** Wait for "ready" (default). False: return at once, e.g. for a run that must fail. */
  waitReady?: boolean;
}

export interface BridgeProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines (stdout while delivering). */
  logs(): Array<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  tcpPort: number;
  metricsUrl: string;
  /** Sends lines (each with an LF trailer) over one TCP connection and closes it. */
  send(lines: readonly string[]): Promise<void>;
  /** A metric's value (summed over labels), read from the bridge's metrics endpoint. */
  metric(name: string): Promise<number>;
  /** Waits until the bridge has committed `n` events to its outbox since it started. */
  waitCommitted(n: number, deadlineMs?: number): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM and the exit code. */
  stop(): Promise<number | null>;
}

let configCount = 0;

/** Starts `ptim-bridge run` delivering to the simulator(s); waits for its "ready" log line unless told not to. */
export async function startBridgeProcess(t: ExecutionContext, options: BridgeOptions): Promise<BridgeProcess> {
  const configFile = join(options.dir, `bridge-${++configCount}.yaml`);
  // JSON is YAML: no quoting surprises.
  writeFileSync(configFile, JSON.stringify({
    listen: ['tcp://127.0.0.1:0'],
    senders: { allow: ['127.0.0.1/32'] },
    // The firewalls the test lines name (srx-hq; this machine's name in logger's lines), bound to the address the test sends from.
    devices: { 'srx-hq': { senders: ['127.0.0.1'] }, [hostname()]: { senders: ['127.0.0.1'] } },
    metrics: { listen: '127.0.0.1:0' },
    vpns: { 'ra-vpn': { domain: 'corp.example' } },
    sessions: { ...options.sessions },
    lineChecks: { ...options.lineChecks },
    jims: { retryMinDelayMs: 20, retryMaxDelayMs: 200, lingerMs: 0, probeIntervalSeconds: 1, ...options.jims },
    log: { level: options.logLevel ?? 'info' },
    ...options.config,
  }));
  const args = ['run', '--config', configFile, '--state', options.state, '--jims-url', options.jimsUrl, '--jims-client-id', CLIENT_ID, '--jims-ca', options.caFile];
  if (options.jimsSecondaryUrl) args.push('--jims-secondary-url', options.jimsSecondaryUrl);
  if (options.args) args.push(...options.args);
  const child = startCli(args, { env: { PTIM_JIMS_CLIENT_SECRET: SECRET, ...options.env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  t.teardown(() => {
    if (running()) child.kill('SIGKILL');
  });
  const logs = () => logEntries(out);

  let tcpPort = 0;
  let metricsUrl = '';
  if (options.waitReady !== false) {
    const ready = await waitForEvent(logs, 'ready', {
      timeoutMs: 30_000,
      alive: () => {
        if (!running()) throw new Error(`run exited early (${child.exitCode ?? child.signalCode}):\n${out}\n${err}`);
      },
    });
    metricsUrl = String(ready.metrics);
    tcpPort = listenerPorts(ready).get('tcp') ?? 0;
  }

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
      if (m && m[1] === name) sum += Number(m[2]);
    }
    return sum;
  };

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    exit,
    tcpPort,
    metricsUrl,
    send: (lines) => new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: tcpPort });
      socket.once('error', reject);
      socket.once('connect', () => socket.end(lines.map((l) => `${l}\n`).join(''), () => resolve()));
      socket.resume();
    }),
    metric,
    waitCommitted: (n, deadlineMs = 20_000) => waitUntil(async () => (await metric('ptim_bridge_outbox_added_total')) >= n, deadlineMs, `${n} events committed to the outbox`),
    async kill9() {
      child.kill('SIGKILL');
      await exit;
    },
    async stop() {
      child.kill('SIGTERM');
      return (await exit).code;
    },
  };
}

/** Events the simulator received for `ip`, in arrival order (duplicates included). */
export function eventsFor(sim: JimsSim, ip: string): Array<Record<string, unknown>> {
  return sim.events().events.map((e) => e.event).filter((e) => e.ip === ip);
}
