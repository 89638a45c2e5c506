import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { type Got } from 'got';
import type { Counter, Histogram } from 'prom-client';
import type { Config } from '../config.js';
import type { ErrorCode } from '../errors.js';
import { redactSecrets } from '../redact.js';
import type { Logger } from '../log.js';
import type { EndpointName } from './jims-failover.js';
import { classifyError, classifyResponse, type Verdict } from './jims-response.js';
import { TokenSource, type TokenGrant } from './oauth-token.js';

/** One attempt at one endpoint, before failover is decided. */
export type Attempt =
  | { kind: 'delivered'; accepted: number }
  | { kind: 'rejected'; status: number; body: string }
  | { kind: 'retry'; failover: boolean; reason: string; status?: number; retryAfterMs?: number };

/** Why an endpoint could not be used, as the operator should read it. */
export interface EndpointProblem {
  code: ErrorCode;
  message: string;
}

/** The per-request metrics; made once by the client (the registry shows them in that order). */
export interface EndpointMetrics {
  requests: Counter<'endpoint' | 'route' | 'result'>;
  seconds: Histogram<'endpoint' | 'route'>;
  tokens: Counter<'endpoint'>;
  unauthorized: Counter<'endpoint'>;
}

export interface JimsEndpointOptions {
  name: EndpointName;
  url: string;
  jims: Config['jims'];
  secret: string;
  /** PEM of the CA JIMS' certificate must chain to; the system CAs when undefined. */
  ca: string | undefined;
  log: Logger;
  metrics: EndpointMetrics;
  now: () => number;
}

/** A token request that failed, carrying what the answer meant. */
class TokenFetchError extends Error {
  readonly verdict: Verdict;
  constructor(verdict: Verdict) {
    super(describeVerdict(verdict));
    this.verdict = verdict;
  }
}

/**
 * One JIMS origin (one base URL) as DESIGN.md §4 describes it: its OAuth2 token (cached until
 * shortly before `expires_in`, refreshed once on a 401), one POST per batch, got with its own
 * retries off, keep-alive HTTP/1.1, TLS verified unless `insecureSkipVerify`. Knows nothing of
 * other endpoints: an attempt says whether its failure is one another endpoint might not share
 * (`failover`). Neither the secret nor a token is ever logged or put in an attempt.
 */
export class JimsEndpoint {
  readonly name: EndpointName;
  /** The URL without trailing slashes; paths are appended to it. */
  readonly base: string;
  readonly #jims: Config['jims'];
  readonly #secret: string;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #metrics: EndpointMetrics;
  readonly #got: Got;
  readonly #agents: { http: HttpAgent; https: HttpsAgent };
  readonly #tokens: TokenSource;
  readonly #reported = new Set<string>();
  #closed = false;
  /** Cuts requests still in flight at close: a JIMS that never answers must not hold a stop for jims.timeoutMs. */
  readonly #abort = new AbortController();

  constructor(options: JimsEndpointOptions) {
    const { jims } = options;
    this.name = options.name;
    this.base = options.url.replace(/\/+$/, '');
    this.#jims = jims;
    this.#secret = options.secret;
    this.#log = options.log;
    this.#now = options.now;
    this.#metrics = options.metrics;
    const maxSockets = jims.concurrency * 2;
    this.#agents = { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
    this.#got = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      http2: false,
      timeout: { request: jims.timeoutMs },
      agent: this.#agents,
      https: { certificateAuthority: options.ca, rejectUnauthorized: !jims.insecureSkipVerify },
      headers: { 'user-agent': 'ptim-bridge' },
      responseType: 'text',
    });
    this.#tokens = new TokenSource(() => this.#fetchToken(), this.#now);
  }

  /** Pushes one serialized batch of `count` events. Never rejects: every failure is an attempt. */
  async push(body: string, count: number): Promise<Attempt> {
    let token: string;
    try {
      token = await this.#tokens.get();
    } catch (error) {
      return this.#tokenFailure(error);
    }
    let verdict = await this.#post('events', `${this.base}${this.#jims.eventsPath}`, { body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    if (verdict.kind === 'unauthorized') {
      // The token expired or was revoked early: one fresh token, one more try.
      this.#tokens.invalidate(token);
      this.#metrics.unauthorized.inc({ endpoint: this.name });
      try {
        token = await this.#tokens.get();
      } catch (error) {
        return this.#tokenFailure(error);
      }
      verdict = await this.#post('events', `${this.base}${this.#jims.eventsPath}`, { body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      if (verdict.kind === 'unauthorized') {
        this.#reportOnce('auth-events', 'ERR_JIMS_AUTH', `JIMS ${this.name} refused a freshly issued token (HTTP 401). Check that the client ${this.#jims.clientId} may post events; events stay queued.`);
        return { kind: 'retry', failover: false, reason: 'HTTP 401 with a fresh token', status: 401 };
      }
    }
    return this.#attemptOf(verdict, count);
  }

  /**
   * Asks for a fresh token (a real request, not the cached one): proves address, TLS and
   * credentials without sending an event. Resolves undefined when it answered, else the problem,
   * naming what to do next. Never rejects.
   */
  async check(): Promise<EndpointProblem | undefined> {
    try {
      await this.#tokens.forceRefresh();
      return undefined;
    } catch (error) {
      const verdict = error instanceof TokenFetchError ? error.verdict : classifyError(undefined, String(error));
      return { code: codeOf(verdict), message: `${this.name} (${this.base}): ${advice(verdict)}` };
    }
  }

  /** Cuts requests in flight and closes the sockets; later requests fail at once. */
  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #attemptOf(verdict: Verdict, count: number): Attempt {
    switch (verdict.kind) {
      case 'ok':
        this.#reported.clear();
        return { kind: 'delivered', accepted: acceptedOf(verdict.body, count) };
      case 'rejected':
        return { kind: 'rejected', status: verdict.status, body: verdict.body };
      case 'unauthorized':
        return { kind: 'retry', failover: false, reason: 'HTTP 401', status: 401 };
      case 'busy':
        return withRetryFields({ kind: 'retry', failover: false, reason: `HTTP ${verdict.status}` }, verdict.status, verdict.retryAfterMs);
      case 'down':
        return withRetryFields({ kind: 'retry', failover: true, reason: verdict.reason }, verdict.status, verdict.retryAfterMs);
      case 'tls':
        this.#reportOnce(`tls:${verdict.code}`, 'ERR_JIMS_TLS', `JIMS ${this.name} (${this.base}): ${advice(verdict)}`);
        return { kind: 'retry', failover: true, reason: `ERR_JIMS_TLS ${verdict.code}: ${verdict.reason}` };
      default:
        return verdict satisfies never;
    }
  }

  #tokenFailure(error: unknown): Attempt {
    const verdict = error instanceof TokenFetchError ? error.verdict : classifyError(undefined, error instanceof Error ? error.message : String(error));
    switch (verdict.kind) {
      case 'rejected':
      case 'unauthorized':
      case 'ok':
        // The token endpoint refused our credentials (or answered nonsense): not the batch's
        // fault, so no dead letter; the events wait until the operator fixes the credentials.
        this.#reportOnce('auth-token', 'ERR_JIMS_AUTH', `JIMS ${this.name} (${this.base}): ${advice(verdict)}`);
        return withRetryFields({ kind: 'retry', failover: false, reason: `token: ${describeVerdict(verdict)}` }, verdict.status, undefined);
      default: {
        const attempt = this.#attemptOf(verdict, 0);
        return attempt.kind === 'retry' ? { ...attempt, reason: `token: ${attempt.reason}` } : attempt;
      }
    }
  }

  async #fetchToken(): Promise<TokenGrant> {
    const form = { grant_type: 'client_credentials', client_id: this.#jims.clientId ?? '', client_secret: this.#secret };
    const verdict = await this.#post('token', `${this.base}${this.#jims.tokenPath}`, { form, headers: { accept: 'application/json' } });
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
    this.#metrics.tokens.inc({ endpoint: this.name });
    return { accessToken: parsed.access_token, expiresInSeconds: Number.isFinite(expires) && expires > 0 ? expires : undefined };
  }

  /** One HTTP request, classified. Never throws. */
  async #post(route: 'token' | 'events', url: string, options: { body?: string; form?: Record<string, string>; headers: Record<string, string> }): Promise<Verdict> {
    const end = this.#metrics.seconds.startTimer({ endpoint: this.name, route });
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
    this.#metrics.requests.inc({ endpoint: this.name, route, result: resultLabel(verdict) });
    return verdict;
  }

  /** The secrets one request carried: the client secret and the bearer token it presented. */
  #sentSecrets(options: { form?: Record<string, string>; headers: Record<string, string> }): string[] {
    const bearer = /^Bearer\s+(.+)$/i.exec(options.headers.authorization ?? '')?.[1];
    return [this.#secret, options.form?.client_secret ?? '', bearer ?? ''];
  }

  /** Logs a configuration-level problem once until this endpoint takes a batch again. */
  #reportOnce(key: string, code: ErrorCode, message: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#log.error({ code }, redactSecrets(message, [this.#secret]));
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

function advice(verdict: Verdict): string {
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
