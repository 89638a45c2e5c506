import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BridgeError } from '../errors.js';
import type { BehaviourChange } from '../jims-sim/behaviour.js';
import { SIM_SESSIONS_PATH } from '../jims-sim/paths.js';
import type { JimsSim } from '../jims-sim/server.js';
import { SECRET_ENV } from './delivery-options.js';

interface JimsSimFlags {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  clientId: string;
  clientSecret?: string;
  tokenLifetime: string;
  failRate?: string;
  latencyMs?: string;
  status?: string;
  retryAfter?: string;
  expireTokensAfter?: string;
  echoAuthorization?: boolean;
  writeCa?: string;
}

export function registerJimsSimCommand(program: Command): void {
  program
    .command('jims-sim')
    .description('Run a JIMS simulator: an HTTPS server speaking the PTIM contract (OAuth2 token, events), keeping the identity table JIMS would.')
    .option('--listen <url>', 'https://HOST:PORT to listen on (port 0 picks a free one)', 'https://127.0.0.1:8443')
    .option('--tls-cert <file>', 'server certificate (PEM); without it a self-signed one is generated')
    .option('--tls-key <file>', 'private key (PEM) of --tls-cert')
    .requiredOption('--client-id <id>', 'OAuth2 client id the bridge must present')
    .option('--client-secret <secret>', `OAuth2 client secret (visible in ps: prefer the ${SECRET_ENV} environment variable)`)
    .option('--token-lifetime <seconds>', 'expires_in of issued tokens', '3600')
    .option('--fail-rate <0-1>', 'share of requests answered with an error status (see --status, default 503)')
    .option('--latency-ms <ms>', 'delay before every answer')
    .option('--status <code>', 'answer every POST with this status (e.g. 503); with --fail-rate, the status of the failures')
    .option('--retry-after <value>', 'Retry-After sent with injected errors (seconds or an HTTP date)')
    .option('--expire-tokens-after <seconds>', 'tokens stop working after this long, whatever expires_in said (tests 401 refresh)')
    .option('--echo-authorization', 'injected error answers echo the request\'s Authorization header and token (tests that a client keeps them out of what it stores)')
    .option('--write-ca <file>', 'write the certificate clients must trust (PEM) here, for the bridge\'s --jims-ca')
    .addHelpText('after', `
Endpoints (paths as in the bridge's defaults):
  POST /oauth_token/oauth      client-credentials token (form body)
  POST /api/v1/ptim/events     {"events": [...]} with Authorization: Bearer <token> -> {"accepted": n}
  GET  /api/v1/ptim/events     events received, with duplicate counts by event id
  GET  ${SIM_SESSIONS_PATH}   the identity table: [{ip, user, domain, device, since}]

Examples:
  $ ${SECRET_ENV}=demo-secret ptim-bridge jims-sim --listen https://127.0.0.1:8443 --client-id bridge --write-ca jims-ca.pem
  $ ptim-bridge jims-sim --client-id bridge --client-secret demo --status 503 --retry-after 5
  $ ptim-bridge jims-sim --client-id bridge --client-secret demo --fail-rate 0.2 --latency-ms 2000
  $ curl --cacert jims-ca.pem https://127.0.0.1:8443${SIM_SESSIONS_PATH}`)
    .action(async (flags: JimsSimFlags) => {
      const listen = parseListen(flags.listen);
      const secret = flags.clientSecret ?? process.env[SECRET_ENV];
      if (!secret) throw new BridgeError('ERR_USAGE', `No client secret: export ${SECRET_ENV}=... (or pass --client-secret for a demo).`);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new BridgeError('ERR_USAGE', 'Expected --tls-cert and --tls-key together, got only one of them. Give both, or neither for a generated self-signed certificate.');
      }
      const tls = flags.tlsCert && flags.tlsKey ? { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey, '--tls-key') } : undefined;
      const behaviour: BehaviourChange = {};
      const failRate = optionalNumber(flags.failRate, '--fail-rate', 0, 1, false);
      const status = optionalNumber(flags.status, '--status', 100, 599, true);
      if (failRate !== undefined) {
        behaviour.failRate = failRate;
        if (status !== undefined) behaviour.failStatus = status;
      } else if (status !== undefined) {
        behaviour.status = status;
      }
      const latencyMs = optionalNumber(flags.latencyMs, '--latency-ms', 0, 600_000, true);
      if (latencyMs !== undefined) behaviour.latencyMs = latencyMs;
      const expire = optionalNumber(flags.expireTokensAfter, '--expire-tokens-after', 1, 86_400 * 365, true);
      if (expire !== undefined) behaviour.expireTokensAfterSeconds = expire;
      if (flags.retryAfter !== undefined) behaviour.retryAfter = flags.retryAfter;
      if (flags.echoAuthorization) behaviour.echoAuthorization = true;
      const tokenLifetimeSeconds = optionalNumber(flags.tokenLifetime, '--token-lifetime', 1, 86_400 * 365, true) ?? 3600;

      // Loaded here, not at start-up: `--help` and the other commands must not pay for them (src/cli.ts).
      const [{ createLogger }, { startJimsSim }, { untilSignal }] = await Promise.all([import('../log.js'), import('../jims-sim/server.js'), import('./until-signal.js')]);
      const log = createLogger({ destination: 'stderr', level: 'warn' });
      const sim = await startJimsSim({ ...listen, tls, clientId: flags.clientId, clientSecret: secret, tokenLifetimeSeconds, behaviour, log });
      if (flags.writeCa) writeFileSync(flags.writeCa, sim.ca);
      process.stdout.write(readyText(sim, flags.writeCa, tls !== undefined));
      await untilSignal();
      const summary = sim.events();
      await sim.close();
      process.stdout.write(`jims-sim stopped: ${summary.received} events received (${summary.duplicates} duplicates), ${sim.identities().length} identities held.\n`);
    });
}

function readyText(sim: JimsSim, caFile: string | undefined, given: boolean): string {
  return [
    `jims-sim listening on ${sim.url}`,
    `certificate SHA-256 fingerprint: ${sim.fingerprint}${given ? '' : ' (self-signed, generated now)'}`,
    caFile ? `certificate written to ${caFile}: pass it to the bridge as --jims-ca ${caFile}` : 'trust it with --write-ca FILE and the bridge\'s --jims-ca FILE',
    `identity table: GET ${sim.url}${SIM_SESSIONS_PATH}`,
    '',
  ].join('\n');
}

/** Parses --listen; only https:// (the contract is HTTPS). */
function parseListen(text: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BridgeError('ERR_USAGE', `Expected --listen an https://HOST:PORT URL, got ${JSON.stringify(text)}. Example: --listen https://127.0.0.1:8443`);
  }
  if (url.protocol !== 'https:' || url.pathname !== '/' || url.search !== '') {
    throw new BridgeError('ERR_USAGE', `Expected --listen an https://HOST:PORT URL without a path, got ${JSON.stringify(text)}. Example: --listen https://127.0.0.1:8443`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port === '' ? 443 : Number(url.port) };
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new BridgeError('ERR_USAGE', `Cannot read ${flag} file ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'}). Check the path.`, { file, cause });
  }
}

function optionalNumber(text: string | undefined, flag: string, min: number, max: number, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new BridgeError('ERR_USAGE', `Expected ${flag} ${integer ? 'an integer' : 'a number'} ${min}-${max}, got ${JSON.stringify(text)}.`);
  }
  return n;
}
