import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { type Got } from 'got';
import type { Registry } from 'prom-client';
import { resolveSecret, type Config } from '../config.js';
import { BridgeError, ConfigError, type ErrorCode } from '../errors.js';
import { hasUrlCredentials, redactSecrets } from '../redact.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { Logger } from '../log.js';
import { counter, gauge, histogram } from '../ops/metrics.js';
import { EndpointSelector, type EndpointName, type EndpointSwitch } from './endpoints.js';
import { classifyError, classifyResponse, type Verdict } from './jims-response.js';
import { TokenSource, type TokenGrant } from './oauth-token.js';

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

/** One attempt at one endpoint, before failover is decided. */
type Attempt =
  | { kind: 'delivered'; accepted: number }
  | { kind: 'rejected'; status: number; body: string }
  | { kind: 'retry'; failover: boolean; reason: string; status?: number; retryAfterMs?: number };

/** A token request that failed, carrying what the answer meant. */
class TokenFetchError extends Error {
  readonly verdict: Verdict;
  constructor(verdict: Verdict) {
    super(describeVerdict(verdict));
    this.verdict = verdict;
  }
}

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
 * The JIMS client of DESIGN.md §4: OAuth2 client credentials (token per endpoint, cached until
 * shortly before `expires_in`, refreshed once on a 401), one POST per batch, got with its own
 * retries off, keep-alive HTTP/1.1, TLS verified unless `insecureSkipVerify`. Primary/secondary
 * failover: a push that finds the active endpoint down is tried once on the other one at once;
 * while on the secondary, the primary is probed every `probeIntervalSeconds` and used again as
 * soon as it answers. Neither the secret nor a token is ever logged or put in an outcome.
 */
export class HttpJimsClient implements JimsClient {
  readonly #jims: JimsSettings;
  readonly #secret: string;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #got: Got;
  readonly #agents: { http: HttpAgent; https: HttpsAgent };
  readonly #selector: EndpointSelector;
  readonly #endpoints: Record<EndpointName, { base: string; tokens: TokenSource } | undefined>;
  readonly #reported = new Set<string>();
  readonly #metrics;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeRunning = false;
  #closed = false;
  /** Cuts requests still in flight at close: a JIMS that never answers must not hold a stop for jims.timeoutMs. */
  readonly #abort = new AbortController();

  constructor(jims: JimsSettings, secret: string, ca: string | undefined, deps: JimsClientDeps) {
    if (!jims.url || !jims.clientId) throw new ConfigError('`jims.url` and `jims.clientId` are required; use createJimsClient.', { key: 'jims.url' });
    this.#jims = jims;
    this.#secret = secret;
    this.#log = deps.log.child({ module: 'delivery/jims-client' });
    this.#now = deps.now ?? Date.now;
    const maxSockets = jims.concurrency * 2;
    this.#agents = { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
    this.#got = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      http2: false,
      timeout: { request: jims.timeoutMs },
      agent: this.#agents,
      https: { certificateAuthority: ca, rejectUnauthorized: !jims.insecureSkipVerify },
      headers: { 'user-agent': 'ptim-bridge' },
      responseType: 'text',
    });
    const base = (url: string) => url.replace(/\/+$/, '');
    const endpoint = (url: string) => {
      const b = base(url);
      return { base: b, tokens: new TokenSource(() => this.#fetchToken(b), this.#now) };
    };
    this.#endpoints = { primary: endpoint(jims.url), secondary: jims.secondaryUrl ? endpoint(jims.secondaryUrl) : undefined };
    this.#selector = new EndpointSelector(jims.secondaryUrl !== undefined);

    const r = deps.registry;
    this.#metrics = {
      requests: counter(r, 'ptim_bridge_jims_requests_total', 'Requests to JIMS by endpoint, route and result', ['endpoint', 'route', 'result']),
      seconds: histogram(r, 'ptim_bridge_jims_request_seconds', 'JIMS request duration', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ['endpoint', 'route']),
      switches: counter(r, 'ptim_bridge_jims_endpoint_switches_total', 'Switches between primary and secondary JIMS', ['to']),
      active: gauge(r, 'ptim_bridge_jims_active_endpoint', '1 for the JIMS endpoint in use', ['endpoint']),
      tokens: counter(r, 'ptim_bridge_jims_token_fetches_total', 'OAuth2 tokens fetched', ['endpoint']),
      unauthorized: counter(r, 'ptim_bridge_jims_unauthorized_total', 'Pushes answered 401 (each triggers one token refresh)', ['endpoint']),
      probes: counter(r, 'ptim_bridge_jims_primary_probes_total', 'Probes of the primary while on the secondary', ['result']),
    };
    this.#metrics.active.set({ endpoint: 'primary' }, 1);
    this.#metrics.active.set({ endpoint: 'secondary' }, 0);

    if (jims.insecureSkipVerify) {
      this.#log.warn({ url: jims.url, secondaryUrl: jims.secondaryUrl }, 'jims.insecureSkipVerify is on: the JIMS certificate is NOT verified, anyone on the path can read and change identity events. Use jims.ca instead.');
    }
  }

  /** The endpoint pushes go to now. */
  get active(): EndpointName {
    return this.#selector.active;
  }

  async push(events: readonly PtimEvent[]): Promise<PushOutcome> {
    if (this.#closed) return { kind: 'retry', reason: 'JIMS client closed' };
    // JIMS answers 400 to an empty list; there is nothing to deliver anyway.
    if (events.length === 0) return { kind: 'delivered', accepted: 0, endpoint: this.#selector.active };
    const body = JSON.stringify({ events });
    const first = this.#selector.active;
    let attempt = await this.#pushTo(first, body, events.length);
    let endpoint = first;
    // Closed while in flight (the bridge is stopping): no failover, the rows stay in the outbox.
    if (this.#closed) return { kind: 'retry', reason: 'JIMS client closed' };
    if (attempt.kind === 'retry' && attempt.failover) {
      const moved = this.#selector.failed(first);
      if (moved) {
        this.#switched(moved, attempt.reason);
        endpoint = moved.to;
        attempt = await this.#pushTo(moved.to, body, events.length);
        if (attempt.kind === 'retry' && attempt.failover) {
          const back = this.#selector.failed(moved.to);
          if (back) this.#switched(back, attempt.reason);
        }
      }
    }
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
  async check(): Promise<EndpointName> {
    const order: EndpointName[] = this.#selector.active === 'primary' ? ['primary', 'secondary'] : ['secondary', 'primary'];
    let worst: { code: ErrorCode; message: string } | undefined;
    for (const name of order) {
      const ep = this.#endpoints[name];
      if (!ep) continue;
      try {
        await ep.tokens.forceRefresh();
        if (name === 'primary') this.#backToPrimary();
        return name;
      } catch (error) {
        const verdict = error instanceof TokenFetchError ? error.verdict : classifyError(undefined, String(error));
        const found = { code: codeOf(verdict), message: `${name} (${ep.base}): ${this.#advice(verdict)}` };
        if (!worst || rank(found.code) > rank(worst.code)) worst = found;
      }
    }
    throw new BridgeError(worst?.code ?? 'ERR_JIMS_UNAVAILABLE', worst?.message ?? 'No JIMS endpoint configured.');
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#stopProbe();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  async #pushTo(name: EndpointName, body: string, count: number): Promise<Attempt> {
    const ep = this.#endpoints[name];
    if (!ep) return { kind: 'retry', failover: false, reason: 'no such endpoint' };
    let token: string;
    try {
      token = await ep.tokens.get();
    } catch (error) {
      return this.#tokenFailure(name, error);
    }
    let verdict = await this.#post(name, 'events', `${ep.base}${this.#jims.eventsPath}`, { body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    if (verdict.kind === 'unauthorized') {
      // The token expired or was revoked early: one fresh token, one more try.
      ep.tokens.invalidate(token);
      this.#metrics.unauthorized.inc({ endpoint: name });
      try {
        token = await ep.tokens.get();
      } catch (error) {
        return this.#tokenFailure(name, error);
      }
      verdict = await this.#post(name, 'events', `${ep.base}${this.#jims.eventsPath}`, { body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      if (verdict.kind === 'unauthorized') {
        this.#reportOnce(`${name}:auth-events`, 'ERR_JIMS_AUTH', `JIMS ${name} refused a freshly issued token (HTTP 401). Check that the client ${this.#jims.clientId} may post events; events stay queued.`);
        return { kind: 'retry', failover: false, reason: 'HTTP 401 with a fresh token', status: 401 };
      }
    }
    return this.#attemptOf(name, verdict, count);
  }

  #attemptOf(name: EndpointName, verdict: Verdict, count: number): Attempt {
    switch (verdict.kind) {
      case 'ok': {
        if (name === 'primary') this.#backToPrimary();
        this.#clearReports(name);
        return { kind: 'delivered', accepted: acceptedOf(verdict.body, count) };
      }
      case 'rejected':
        return { kind: 'rejected', status: verdict.status, body: verdict.body };
      case 'unauthorized':
        return { kind: 'retry', failover: false, reason: 'HTTP 401', status: 401 };
      case 'busy':
        return withRetryFields({ kind: 'retry', failover: false, reason: `HTTP ${verdict.status}` }, verdict.status, verdict.retryAfterMs);
      case 'down':
        return withRetryFields({ kind: 'retry', failover: true, reason: verdict.reason }, verdict.status, verdict.retryAfterMs);
      case 'tls':
        this.#reportOnce(`${name}:tls:${verdict.code}`, 'ERR_JIMS_TLS', `JIMS ${name} (${this.#endpoints[name]?.base}): ${this.#advice(verdict)}`);
        return { kind: 'retry', failover: true, reason: `ERR_JIMS_TLS ${verdict.code}: ${verdict.reason}` };
      default:
        return verdict satisfies never;
    }
  }

  #tokenFailure(name: EndpointName, error: unknown): Attempt {
    const verdict = error instanceof TokenFetchError ? error.verdict : classifyError(undefined, error instanceof Error ? error.message : String(error));
    switch (verdict.kind) {
      case 'rejected':
      case 'unauthorized':
      case 'ok':
        // The token endpoint refused our credentials (or answered nonsense): not the batch's
        // fault, so no dead letter; the events wait until the operator fixes the credentials.
        this.#reportOnce(`${name}:auth-token`, 'ERR_JIMS_AUTH', `JIMS ${name} (${this.#endpoints[name]?.base}): ${this.#advice(verdict)}`);
        return withRetryFields({ kind: 'retry', failover: false, reason: `token: ${describeVerdict(verdict)}` }, verdict.status, undefined);
      default: {
        const attempt = this.#attemptOf(name, verdict, 0);
        return attempt.kind === 'retry' ? { ...attempt, reason: `token: ${attempt.reason}` } : attempt;
      }
    }
  }

  async #fetchToken(base: string): Promise<TokenGrant> {
    const name: EndpointName = base === this.#endpoints.primary?.base ? 'primary' : 'secondary';
    const form = { grant_type: 'client_credentials', client_id: this.#jims.clientId ?? '', client_secret: this.#secret };
    const verdict = await this.#post(name, 'token', `${base}${this.#jims.tokenPath}`, { form, headers: { accept: 'application/json' } });
    if (verdict.kind !== 'ok') throw new TokenFetchError(verdict);
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(verdict.body) as typeof parsed;
    } catch {
      parsed = {};
    }
    if (typeof parsed.access_token !== 'string' || parsed.access_token === '') {
      throw new TokenFetchError({ kind: 'rejected', status: verdict.status, body: 'token answer without an access_token' });
    }
    const expires = Number(parsed.expires_in);
    this.#metrics.tokens.inc({ endpoint: name });
    return { accessToken: parsed.access_token, expiresInSeconds: Number.isFinite(expires) && expires > 0 ? expires : undefined };
  }

  /** One HTTP request, classified. Never throws. */
  async #post(name: EndpointName, route: 'token' | 'events', url: string, options: { body?: string; form?: Record<string, string>; headers: Record<string, string> }): Promise<Verdict> {
    const end = this.#metrics.seconds.startTimer({ endpoint: name, route });
    let verdict: Verdict;
    try {
      if (this.#closed) throw new Error('JIMS client closed');
      const response = await this.#got.post(url, { ...options, signal: this.#abort.signal });
      // A JIMS may echo what it was sent; any answer but a 2xx can end up in a dead letter or a
      // log line. A 2xx body is only read here (the token answer must stay whole) and dropped.
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      const body = ok ? response.body : redactSecrets(response.body, this.#sentSecrets(options));
      verdict = classifyResponse(response.statusCode, response.headers, body, this.#now());
    } catch (error) {
      // Only code and message: a got error also holds the request options (headers, form).
      const e = error as { code?: string; message?: string };
      verdict = classifyError(e.code, redactSecrets(e.message ?? String(error), this.#sentSecrets(options)));
    }
    end();
    this.#metrics.requests.inc({ endpoint: name, route, result: resultLabel(verdict) });
    return verdict;
  }

  /** The secrets one request carried: the client secret and the bearer token it presented. */
  #sentSecrets(options: { form?: Record<string, string>; headers: Record<string, string> }): string[] {
    const bearer = /^Bearer\s+(.+)$/i.exec(options.headers.authorization ?? '')?.[1];
    return [this.#secret, options.form?.client_secret ?? '', bearer ?? ''];
  }

  #switched(move: EndpointSwitch, reason: string): void {
    this.#metrics.switches.inc({ to: move.to });
    this.#metrics.active.set({ endpoint: move.from }, 0);
    this.#metrics.active.set({ endpoint: move.to }, 1);
    this.#log.warn({ event: 'jims-switched', from: move.from, to: move.to, why: reason, url: this.#endpoints[move.to]?.base }, `JIMS ${move.from} failed; switching to the ${move.to}`);
    if (this.#selector.probing) this.#startProbe();
    else this.#stopProbe();
  }

  #backToPrimary(): void {
    const move = this.#selector.primaryAnswered();
    if (!move) return;
    this.#stopProbe();
    this.#metrics.switches.inc({ to: 'primary' });
    this.#metrics.active.set({ endpoint: 'secondary' }, 0);
    this.#metrics.active.set({ endpoint: 'primary' }, 1);
    this.#log.info({ event: 'jims-switched', from: 'secondary', to: 'primary', url: this.#endpoints.primary?.base }, 'JIMS primary answers again; switching back to it');
  }

  #startProbe(): void {
    if (this.#probeTimer || this.#closed) return;
    this.#probeTimer = setInterval(() => void this.#probe(), this.#jims.probeIntervalSeconds * 1000);
    this.#probeTimer.unref();
  }

  #stopProbe(): void {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  async #probe(): Promise<void> {
    if (this.#probeRunning || !this.#selector.probing) return;
    this.#probeRunning = true;
    try {
      // A real request, not the cached token: the question is whether the primary answers now.
      await this.#endpoints.primary?.tokens.forceRefresh();
      this.#metrics.probes.inc({ result: 'answered' });
      if (!this.#closed) this.#backToPrimary();
    } catch {
      this.#metrics.probes.inc({ result: 'failed' });
      // Still down: stay on the secondary; the next tick probes again.
    } finally {
      this.#probeRunning = false;
    }
  }

  /** Logs a configuration-level problem once until that endpoint works again. */
  #reportOnce(key: string, code: ErrorCode, message: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#log.error({ code }, redactSecrets(message, [this.#secret]));
  }

  #clearReports(name: EndpointName): void {
    for (const key of this.#reported) if (key.startsWith(`${name}:`)) this.#reported.delete(key);
  }

  #advice(verdict: Verdict): string {
    switch (verdict.kind) {
      case 'tls':
        return `its TLS certificate was not accepted (${verdict.code}: ${verdict.reason}). Nothing was sent. Give the CA that signed it with --jims-ca FILE (jims.ca), or use a URL whose host name is in the certificate.`;
      case 'unauthorized':
      case 'rejected':
        return `the token request was refused (HTTP ${verdict.status}). Check jims.clientId and the secret that jims.clientSecret refers to.`;
      case 'ok':
        return 'the token answer carried no access_token. Check jims.tokenPath.';
      case 'busy':
        return `JIMS is busy (HTTP ${verdict.status}); try again later.`;
      case 'down':
        return `no usable answer (${verdict.reason}). Check that JIMS runs and that jims.url is right.`;
      default:
        return verdict satisfies never;
    }
  }
}

function withRetryFields(attempt: Extract<Attempt, { kind: 'retry' }>, status: number | undefined, retryAfterMs: number | undefined): Attempt {
  if (status !== undefined) attempt.status = status;
  if (retryAfterMs !== undefined) attempt.retryAfterMs = retryAfterMs;
  return attempt;
}

function acceptedOf(body: string, fallback: number): number {
  try {
    const n = (JSON.parse(body) as { accepted?: unknown }).accepted;
    return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
  } catch {
    return fallback;
  }
}

function describeVerdict(verdict: Verdict): string {
  switch (verdict.kind) {
    case 'ok':
    case 'unauthorized':
    case 'rejected':
    case 'busy':
      return `HTTP ${verdict.status}`;
    case 'down':
    case 'tls':
      return verdict.reason;
    default:
      return verdict satisfies never;
  }
}

function resultLabel(verdict: Verdict): string {
  return verdict.kind === 'ok' || verdict.kind === 'tls' || verdict.kind === 'busy' || verdict.kind === 'rejected' || verdict.kind === 'unauthorized'
    ? verdict.kind
    : verdict.status === undefined ? 'network' : 'server-error';
}

function codeOf(verdict: Verdict): ErrorCode {
  switch (verdict.kind) {
    case 'tls':
      return 'ERR_JIMS_TLS';
    case 'unauthorized':
    case 'rejected':
    case 'ok':
      return 'ERR_JIMS_AUTH';
    case 'busy':
    case 'down':
      return 'ERR_JIMS_UNAVAILABLE';
    default:
      return verdict satisfies never;
  }
}

/** Which error to show when both endpoints fail: the one the operator can act on first. */
function rank(code: ErrorCode): number {
  return code === 'ERR_JIMS_TLS' ? 3 : code === 'ERR_JIMS_AUTH' ? 2 : 1;
}
