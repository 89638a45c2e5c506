import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BridgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { BehaviourPlan, type Behaviour, type BehaviourChange, type SimRoute } from './behaviour.js';
import { checkEventBatch } from './batch-schema.js';
import { EventLog, type EventLogSummary } from './event-log.js';
import { IdentityTable, type IdentityRow } from './identity-table.js';
import { fingerprint256, generateSelfSigned, type CertificatePair } from './self-signed.js';
import { TokenStore } from './token-store.js';

import { SIM_SESSIONS_PATH } from './paths.js';

export { SIM_SESSIONS_PATH };

export interface JimsSimOptions {
  /** Address to listen on; 127.0.0.1 by default. */
  host?: string;
  /** 0 (the default) picks a free port; read it back from `url`/`port`. */
  port?: number;
  /** Server certificate and key (PEM). When absent a self-signed one is generated for `host`. */
  tls?: CertificatePair;
  clientId: string;
  clientSecret: string;
  tokenPath?: string;
  eventsPath?: string;
  /** `expires_in` of issued tokens; 3600 by default. */
  tokenLifetimeSeconds?: number;
  /** Initial misbehaviour (see BehaviourChange). */
  behaviour?: BehaviourChange;
  /** Events kept for GET /events (all are counted). */
  maxKeptEvents?: number;
  /** Largest request body; bigger ones get 413. */
  maxBodyBytes?: number;
  log?: Logger;
  /** Clock for token lifetimes; Date.now by default. */
  now?: () => number;
}

export interface JimsSimStats {
  tokenRequests: number;
  eventRequests: number;
  tokensIssued: number;
  /** TLS handshakes that failed (e.g. a client that does not trust the certificate). */
  tlsErrors: number;
  /** Answers by status code, including injected ones. */
  byStatus: Record<string, number>;
  /** Connections dropped on purpose. */
  dropped: number;
  /** Most event requests the simulator was handling at one time (how far a client's pushes overlap). */
  maxEventsInFlight: number;
}

export interface JimsSim {
  /** Base URL, e.g. https://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  /** SHA-256 fingerprint of the server certificate (AA:BB:...). */
  readonly fingerprint: string;
  /** PEM certificate a client should trust (the server certificate itself when self-signed). */
  readonly ca: string;
  /** The identity table JIMS holds now. */
  identities(): IdentityRow[];
  /** Events received, with duplicate counts by event id. */
  events(): EventLogSummary;
  stats(): JimsSimStats;
  behaviour(): Readonly<Behaviour>;
  /** Changes misbehaviour; resolves once a `down`/`up` has taken effect. */
  setBehaviour(change: BehaviourChange): Promise<void>;
  /** Invalidates every issued token: the next push with an old token gets 401. */
  revokeTokens(): void;
  /** The tokens issued and not revoked: for tests asserting they appear nowhere they should not. */
  issuedTokens(): string[];
  close(): Promise<void>;
}

/**
 * Starts an HTTPS server speaking the JIMS contract of DESIGN.md §4: OAuth2 client-credentials
 * token endpoint, Bearer-protected events endpoint answering `{accepted: n}`, the identity table
 * at GET /api/v1/ptim/sessions and the received events at GET <eventsPath>. The GET routes need
 * no token: they are for people and tests looking in, not part of the contract.
 * @throws BridgeError ERR_LISTEN_FAILED when the address cannot be bound.
 */
export async function startJimsSim(options: JimsSimOptions): Promise<JimsSim> {
  const host = options.host ?? '127.0.0.1';
  const tokenPath = options.tokenPath ?? '/oauth_token/oauth';
  const eventsPath = options.eventsPath ?? '/api/v1/ptim/events';
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  const maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
  const now = options.now ?? Date.now;
  const log = options.log;
  const tls = options.tls ?? (await generateSelfSigned([host]));
  const fingerprint = fingerprint256(tls.cert);

  const plan = new BehaviourPlan();
  if (options.behaviour) plan.change(options.behaviour);
  const tokens = new TokenStore();
  const table = new IdentityTable();
  const received = new EventLog(options.maxKeptEvents);
  const stats: JimsSimStats = { tokenRequests: 0, eventRequests: 0, tokensIssued: 0, tlsErrors: 0, byStatus: {}, dropped: 0, maxEventsInFlight: 0 };
  let eventsInFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  const idHash = digest(options.clientId);
  const secretHash = digest(options.clientSecret);

  const server: Server = createServer({ cert: tls.cert, key: tls.key, keepAlive: true }, (req, res) => {
    const isEvents = req.method === 'POST' && (req.url ?? '/').split('?')[0] === eventsPath;
    if (isEvents) stats.maxEventsInFlight = Math.max(stats.maxEventsInFlight, ++eventsInFlight);
    handle(req, res).finally(() => {
      if (isEvents) eventsInFlight--;
    }).catch((error: unknown) => {
      log?.warn({ err: { message: (error as Error).message } }, 'jims-sim: request failed');
      if (!res.headersSent && !res.destroyed) send(res, 500, { error: 'internal' });
    });
  });
  server.on('tlsClientError', () => {
    stats.tlsErrors++;
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === SIM_SESSIONS_PATH) return send(res, 200, table.list());
    if (req.method === 'GET' && path === eventsPath) return send(res, 200, received.summary());
    const route: SimRoute | undefined = path === tokenPath ? 'token' : path === eventsPath ? 'events' : undefined;
    if (route === undefined) return send(res, 404, { error: 'not_found', path });
    if (req.method !== 'POST') {
      res.setHeader('Allow', route === 'events' ? 'GET, POST' : 'POST');
      return send(res, 405, { error: 'method_not_allowed' });
    }
    if (route === 'token') stats.tokenRequests++;
    else stats.eventRequests++;

    const decision = plan.decide(route);
    if (decision.kind === 'drop') {
      stats.dropped++;
      req.socket.destroy();
      return;
    }
    const body = await readBody(req, maxBodyBytes);
    await delay(decision.latencyMs);
    // The client gave up (timeout) while we were "slow": nothing is processed, as with a JIMS
    // whose answer never left the building.
    if (res.destroyed || req.socket.destroyed) return;
    if (body === undefined) return send(res, 413, { error: 'payload_too_large', maxBodyBytes });
    if (decision.kind === 'status') {
      if (decision.retryAfter !== undefined) res.setHeader('Retry-After', decision.retryAfter);
      return send(res, decision.status, { error: 'injected', status: decision.status, ...(plan.current().echoAuthorization ? echoOf(req) : {}) });
    }
    if (route === 'token') return token(req, res, body);
    return events(req, res, body);
  }

  function token(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const form = new URLSearchParams(body.toString('utf8'));
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    // RFC 6749 §2.3.1 also allows the credentials in HTTP Basic auth.
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (basic?.[1]) {
      const [u, ...p] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u ?? '');
      secret = decodeURIComponent(p.join(':'));
    }
    if (form.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type' });
    if (id === null || secret === null || !timingSafeEqual(digest(id), idHash) || !timingSafeEqual(digest(secret), secretHash)) {
      return send(res, 401, { error: 'invalid_client' });
    }
    const validMs = (plan.current().expireTokensAfterSeconds ?? lifetimeSeconds) * 1000;
    const accessToken = tokens.issue(now(), validMs);
    stats.tokensIssued = tokens.issued;
    res.setHeader('Cache-Control', 'no-store');
    send(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: lifetimeSeconds });
  }

  function events(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!bearer?.[1] || !tokens.valid(bearer[1], now())) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      return send(res, 401, { error: 'invalid_token' });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'invalid_request', detail: 'body is not JSON' });
    }
    const checked = checkEventBatch(parsed);
    if (!checked.ok) return send(res, 400, { error: 'invalid_request', detail: checked.error });
    const at = Date.now();
    for (const event of checked.events) {
      received.add(event, at);
      table.apply(event);
    }
    send(res, 200, { accepted: checked.events.length });
  }

  function send(res: ServerResponse, status: number, payload: unknown): void {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  let listening = false;
  async function listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        reject(new BridgeError('ERR_LISTEN_FAILED', `jims-sim cannot listen on ${host}:${port}: ${error.code ?? error.message}. Pick another --listen port or stop what holds it.`, { cause: error }));
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
    listening = true;
  }
  async function stopListening(): Promise<void> {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ url, fingerprint }, 'jims-sim: listening');

  return {
    url,
    port,
    fingerprint,
    ca: tls.cert,
    identities: () => table.list(),
    events: () => received.summary(),
    stats: () => ({ ...stats, byStatus: { ...stats.byStatus } }),
    behaviour: () => plan.current(),
    async setBehaviour(change) {
      plan.change(change);
      if (change.down === true) await stopListening();
      if (change.down === false && !listening) await listen(port);
    },
    revokeTokens: () => tokens.revokeAll(),
    issuedTokens: () => tokens.held(),
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await stopListening();
    },
  };
}

/** What a careless server writes back: the Authorization header, as a field and inside prose with the bare token. */
function echoOf(req: IncomingMessage): Record<string, string> {
  const authorization = req.headers.authorization;
  if (authorization === undefined) return {};
  const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] ?? authorization;
  return { authorization, detail: `request with token ${token} refused; Authorization: ${authorization}` };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The whole body, or undefined when it exceeds `limit` (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooBig = true;
      if (!tooBig) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooBig ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that resets mid-body: resolve so the handler sees the destroyed socket and stops.
    req.on('close', () => resolve(tooBig ? undefined : Buffer.concat(chunks)));
  });
}
