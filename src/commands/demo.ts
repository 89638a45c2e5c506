import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import type { IdentityRow } from '../jims-sim/identity-table.js';
import type { JimsSim } from '../jims-sim/server.js';

/** Bundled demo files: fixtures/demo/ at the package root (same depth from src/ and dist/). */
const DEMO_DIR = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url));
export const DEMO_CAPTURE = join(DEMO_DIR, 'srx-vpn.log');
export const DEMO_CONFIG = join(DEMO_DIR, 'ptim-bridge.yaml');
/** Receipt time for the capture's year-less RFC 3164 stamps, so every run shows the same table. */
export const DEMO_NOW = Date.parse('2026-03-15T00:00:00.000Z');
const DEMO_CLIENT_ID = 'ptim-bridge-demo';

interface DemoFlags {
  capture?: string;
  config?: string;
  json?: boolean;
  keepRunning?: boolean;
  timeout: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('See the bridge work with no JIMS at hand: start an embedded JIMS simulator on loopback (random port, fresh certificate), replay a bundled SRX capture through the bridge to it, and print the identity table JIMS ends with.')
    .option('--capture <file>', 'replay this capture instead of the bundled one')
    .option('-c, --config <file>', 'use this config instead of the bundled one (its jims section is replaced by the simulator\'s)')
    .option('--json', 'print the identity table as JSON')
    .option('--keep-running', 'keep the simulator up afterwards (Ctrl-C stops it), to look at it with curl')
    .option('--timeout <seconds>', 'give up when delivery takes longer than this', '60')
    .addHelpText('after', `
The simulator listens on 127.0.0.1 only; the certificate, secret and state file live in a temporary
folder removed at the end. Certificate verification stays on (the demo trusts the simulator's CA).

Examples:
  $ ptim-bridge demo
  $ ptim-bridge demo --json | jq -r '.[] | "\\(.ip) \\(.user)@\\(.domain)"'
  $ ptim-bridge demo --capture /var/log/messages --config ptim-bridge.yaml
  $ ptim-bridge demo --keep-running      # then: curl --cacert <printed file> <printed URL>`)
    .action(async (flags: DemoFlags) => {
      const timeoutSeconds = Number(flags.timeout);
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) {
        throw new BridgeError('ERR_USAGE', `Expected --timeout an integer 1-3600, got ${JSON.stringify(flags.timeout)}.`);
      }
      await runDemo({
        capture: flags.capture,
        configFile: flags.config,
        timeoutMs: timeoutSeconds * 1000,
        keepRunning: flags.keepRunning === true,
        say: (line) => process.stderr.write(`demo: ${line}\n`),
        show: (rows, summary) => process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : formatIdentityTable(rows, summary)),
      });
    });
}

export interface DemoOptions {
  capture?: string | undefined;
  configFile?: string | undefined;
  timeoutMs: number;
  keepRunning?: boolean;
  /** Progress lines (stderr in the CLI). */
  say: (line: string) => void;
  /** The result (stdout in the CLI). */
  show: (rows: IdentityRow[], summary: { received: number; unique: number; duplicates: number }) => void;
}

/**
 * Runs the demo end to end and resolves with what JIMS ended with. Everything it creates lives in
 * a temporary folder removed before it resolves.
 * @throws BridgeError ERR_USAGE (a --capture without the replay pipeline in this build),
 *   ERR_CONFIG_INVALID (bad --config), ERR_JIMS_UNAVAILABLE (delivery did not finish in time).
 */
export async function runDemo(options: DemoOptions): Promise<{ rows: IdentityRow[] }> {
  // Loaded here, not at start-up: `--help` and the other commands must not pay for them (src/cli.ts).
  const [{ runReplay }, { createLogger }, { createRegistry }, { startJimsSim }, { SIM_SESSIONS_PATH }, { untilSignal }, { randomBytes }, { tmpdir }] = await Promise.all([
    import('../bridge.js'), import('../log.js'), import('../ops/metrics.js'), import('../jims-sim/server.js'), import('../jims-sim/paths.js'), import('./until-signal.js'),
    import('node:crypto'), import('node:os'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'ptim-demo-'));
  const log = createLogger({ destination: 'stderr', level: 'warn' });
  const registry = createRegistry();
  let sim: JimsSim | undefined;
  try {
    const secret = randomBytes(24).toString('base64url');
    const secretFile = join(dir, 'jims-secret');
    writeFileSync(secretFile, secret, { mode: 0o600 });
    sim = await startJimsSim({ host: '127.0.0.1', port: 0, clientId: DEMO_CLIENT_ID, clientSecret: secret });
    const caFile = join(dir, 'jims-ca.pem');
    writeFileSync(caFile, sim.ca);
    options.say(`JIMS simulator on ${sim.url} (certificate SHA-256 ${sim.fingerprint})`);

    const config = await demoConfig(options.configFile, { url: sim.url, clientId: DEMO_CLIENT_ID, clientSecret: `file:${secretFile}`, ca: caFile }, join(dir, 'state.db'));
    const capture = options.capture ?? DEMO_CAPTURE;
    options.say(`replaying ${shortPath(capture)} through the bridge (patterns -> sessions -> outbox -> JIMS)`);
    await withTimeout(runReplay({ config, files: [capture], log, registry, now: options.capture ? undefined : DEMO_NOW }), options.timeoutMs);
    const rows = sim.identities();
    const { received, unique, duplicates } = sim.events();
    if (received === 0) options.say('JIMS received no events: check the warnings above, or the capture with `ptim-bridge replay --dry-run`.');
    options.show(rows, { received, unique, duplicates });
    if (options.keepRunning) {
      options.say(`simulator still up: curl --cacert ${caFile} ${sim.url}${SIM_SESSIONS_PATH}   (Ctrl-C stops it)`);
      await untilSignal();
    }
    return { rows };
  } finally {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The bundled (or given) config with the simulator as JIMS and a temporary state file: the effective
 * config every command builds, read as `run` reads the file (file:line in its errors, paths relative to it).
 */
export async function demoConfig(file: string | undefined, jims: { url: string; clientId: string; clientSecret: string; ca: string }, state: string): Promise<Config> {
  const { effectiveConfig } = await import('../effective-config.js');
  return effectiveConfig(file ?? DEMO_CONFIG, { use: 'deliver', jimsEndpoint: jims, state }).config;
}

/** The identity table as aligned text columns, then a one-line summary. */
export function formatIdentityTable(rows: readonly IdentityRow[], summary: { received: number; unique: number; duplicates: number }): string {
  const header = ['IP', 'USER', 'DOMAIN', 'DEVICE', 'SINCE'];
  const cells = rows.map((r) => [r.ip, r.user, r.domain, r.device, r.since]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [
    `Identity table at JIMS (${rows.length} address${rows.length === 1 ? '' : 'es'}):`,
    line(header),
    ...cells.map(line),
    `JIMS received ${summary.received} events (${summary.unique} unique, ${summary.duplicates} duplicates).`,
    '',
  ].join('\n');
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BridgeError('ERR_JIMS_UNAVAILABLE', `Delivery to the demo JIMS did not finish within ${ms / 1000} s. Run again with --timeout, or look at the warnings above.`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}
