import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { resolveSecret, type Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { hasUrlCredentials } from '../redact.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { Logger } from '../log.js';
import { counter, gauge, histogram } from '../ops/metrics.js';
import { JimsEndpoint, type EndpointMetrics } from './jims-endpoint.js';
import { JimsFailover, type EndpointName, type FailoverMetrics } from './jims-failover.js';

/** What one push came to. The forwarder owns retries: `retry` means "try again later". */
export type PushOutcome =
  | { kind: 'delivered'; accepted: number; endpoint: 'primary' | 'secondary' }
  | { kind: 'retry'; reason: string; status?: number; retryAfterMs?: number }
  | { kind: 'rejected'; status: number; body: string };

export interface JimsClient {
  /** Pushes one batch. Never rejects: every failure is an outcome. */
  push(events: readonly PtimEvent[]): Promise<PushOutcome>;
  close(): void;
}

export interface JimsClientDeps {
  log: Logger;
  registry: Registry;
  /** Clock for token lifetimes and Retry-After dates; Date.now by default (tests move it). */
  now?: () => number;
}

type JimsSettings = Config['jims'];

/**
 * The settings every JIMS client needs, checked without I/O, so a start can refuse them before it
 * opens anything.
 * @throws ConfigError (ERR_CONFIG_INVALID) naming the key and the flag that sets it.
 */
export function checkJimsSettings(jims: JimsSettings): void {
  if (!jims.url) throw new ConfigError('Expected `jims.url` an https:// URL, got nothing. Set it in the config or pass --jims-url.', { key: 'jims.url' });
  if (!jims.clientId) throw new ConfigError('Expected `jims.clientId` a non-empty string, got nothing. Set it in the config or pass --jims-client-id.', { key: 'jims.clientId' });
  if (!jims.clientSecret) {
    throw new ConfigError('Expected `jims.clientSecret` a secret reference: env:NAME or file:PATH, got nothing. Set it in the config, or export PTIM_JIMS_CLIENT_SECRET.', { key: 'jims.clientSecret' });
  }
  for (const [key, url] of [['jims.url', jims.url], ['jims.secondaryUrl', jims.secondaryUrl]] as const) {
    // Credentials in a URL would end up in logs and metrics labels; they belong in clientSecret.
    // validateConfig refuses them already; this catches settings built without it.
    if (url !== undefined && hasUrlCredentials(url)) {
      throw new ConfigError(`Expected \`${key}\` a URL without credentials (user:password@ or a token in the query), got one with credentials (hidden). Put the client id in \`jims.clientId\` and the secret in \`jims.clientSecret\` (env:NAME or file:PATH).`, { key });
    }
  }
}

/**
 * Builds the JIMS client from the `jims` config section: resolves the client secret now (so a
 * missing one stops the start, not the first push), reads the CA file, and warns once when
 * certificate verification is off. Makes no request.
 * @throws ConfigError (ERR_CONFIG_INVALID) when url / clientId / clientSecret is missing, a URL
 *   carries user:password@, or the CA file cannot be read; BridgeError ERR_SECRET_UNAVAILABLE when the secret reference cannot be resolved.
 */
export async function createJimsClient(jims: JimsSettings, deps: JimsClientDeps): Promise<HttpJimsClient> {
  checkJimsSettings(jims);
  const secret = await resolveSecret(jims.clientSecret!, 'jims.clientSecret'); // present: checked above
  let ca: string | undefined;
  if (jims.ca !== undefined) {
    try {
      ca = readFileSync(jims.ca, 'utf8');
    } catch (cause) {
      throw new ConfigError(`Cannot read \`jims.ca\` file ${jims.ca} (${(cause as NodeJS.ErrnoException).code ?? 'error'}). Check the --jims-ca path.`, { key: 'jims.ca', file: jims.ca, cause });
    }
  }
  return new HttpJimsClient(jims, secret, ca, deps);
}

/**
 * The JIMS client of DESIGN.md §4: one single-origin endpoint per configured URL (jims-endpoint.ts:
 * token, request, answer classification, TLS) behind primary/secondary failover (jims-failover.ts).
 * Neither the secret nor a token is ever logged or put in an outcome.
 */
export class HttpJimsClient implements JimsClient {
  readonly #failover: JimsFailover;
  #closed = false;

  constructor(jims: JimsSettings, secret: string, ca: string | undefined, deps: JimsClientDeps) {
    if (!jims.url || !jims.clientId) throw new ConfigError('`jims.url` and `jims.clientId` are required; use createJimsClient.', { key: 'jims.url' });
    const log = deps.log.child({ module: 'delivery/jims-client' });
    const now = deps.now ?? Date.now;
    const r = deps.registry;
    // Made here, in this order, so /metrics lists them as it always has.
    const requests = counter(r, 'ptim_bridge_jims_requests_total', 'Requests to JIMS by endpoint, route and result', ['endpoint', 'route', 'result']);
    const seconds = histogram(r, 'ptim_bridge_jims_request_seconds', 'JIMS request duration', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ['endpoint', 'route']);
    const switches = counter(r, 'ptim_bridge_jims_endpoint_switches_total', 'Switches between primary and secondary JIMS', ['to']);
    const active = gauge(r, 'ptim_bridge_jims_active_endpoint', '1 for the JIMS endpoint in use', ['endpoint']);
    const tokens = counter(r, 'ptim_bridge_jims_token_fetches_total', 'OAuth2 tokens fetched', ['endpoint']);
    const unauthorized = counter(r, 'ptim_bridge_jims_unauthorized_total', 'Pushes answered 401 (each triggers one token refresh)', ['endpoint']);
    const probes = counter(r, 'ptim_bridge_jims_primary_probes_total', 'Probes of the primary while on the secondary', ['result']);
    const endpointMetrics: EndpointMetrics = { requests, seconds, tokens, unauthorized };
    const failoverMetrics: FailoverMetrics = { switches, active, probes };

    const endpoint = (name: EndpointName, url: string) => new JimsEndpoint({ name, url, jims, secret, ca, log, metrics: endpointMetrics, now });
    this.#failover = new JimsFailover({
      primary: endpoint('primary', jims.url),
      secondary: jims.secondaryUrl ? endpoint('secondary', jims.secondaryUrl) : undefined,
      log,
      metrics: failoverMetrics,
      probeIntervalSeconds: jims.probeIntervalSeconds,
    });

    if (jims.insecureSkipVerify) {
      log.warn({ url: jims.url, secondaryUrl: jims.secondaryUrl }, 'jims.insecureSkipVerify is on: the JIMS certificate is NOT verified, anyone on the path can read and change identity events. Use jims.ca instead.');
    }
  }

  /** The endpoint pushes go to now. */
  get active(): EndpointName {
    return this.#failover.active;
  }

  async push(events: readonly PtimEvent[]): Promise<PushOutcome> {
    if (this.#closed) return { kind: 'retry', reason: 'JIMS client closed' };
    // JIMS answers 400 to an empty list; there is nothing to deliver anyway.
    if (events.length === 0) return { kind: 'delivered', accepted: 0, endpoint: this.#failover.active };
    const pushed = await this.#failover.push(JSON.stringify({ events }), events.length);
    // Closed while in flight (the bridge is stopping): no failover, the rows stay in the outbox.
    if (pushed === undefined) return { kind: 'retry', reason: 'JIMS client closed' };
    const { attempt, endpoint } = pushed;
    switch (attempt.kind) {
      case 'delivered':
        return { kind: 'delivered', accepted: attempt.accepted, endpoint };
      case 'rejected':
        return { kind: 'rejected', status: attempt.status, body: attempt.body };
      case 'retry': {
        const outcome: PushOutcome = { kind: 'retry', reason: `${endpoint}: ${attempt.reason}` };
        if (attempt.status !== undefined) outcome.status = attempt.status;
        if (attempt.retryAfterMs !== undefined) outcome.retryAfterMs = attempt.retryAfterMs;
        return outcome;
      }
      default:
        return attempt satisfies never;
    }
  }

  /**
   * Asks the active endpoint (then the other) for a token: proves address, TLS and credentials
   * without sending an event. Resolves with the endpoint that answered.
   * @throws BridgeError ERR_JIMS_TLS (certificate not accepted), ERR_JIMS_AUTH (credentials
   *   refused) or ERR_JIMS_UNAVAILABLE (no answer), naming what to do next.
   */
  check(): Promise<EndpointName> {
    return this.#failover.check();
  }

  close(): void {
    this.#closed = true;
    this.#failover.close();
  }
}
