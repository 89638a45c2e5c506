import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { BridgeError } from '../errors.js';
import { normalizeAddress } from './allow-list.js';
import { boundListener, listenFailed, type BoundListener } from './bound-listener.js';
import { FrameDecoder, type FrameSink } from './framing.js';
import type { IngestContext } from './ingest-context.js';
import { formatListenUrl, type ListenUrl } from './listen-url.js';

/** Certificate files for tls:// listeners. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** When set, senders must present a certificate this CA signed (mutual TLS). */
  clientCa?: string | undefined;
}

/** How long close() lets a sender finish after we end the connection. */
const CLOSE_GRACE_MS = 2000;

/**
 * Listens for syslog over TCP, or TLS when `tls` is given, with RFC 6587 framing per connection.
 * Connections from senders outside the allow-list are refused (destroyed at once) and counted.
 * A newcomer over `limits.maxConnections` or `limits.maxConnectionsPerSender` is served, and the
 * connection that has gone longest without a complete message is closed instead (`evicted`), taken
 * from the sender holding the most connections: a flood of trickling connections from one allowed
 * address churns its own connections and cannot keep a firewall out. A message begun and not
 * finished within `limits.frameTimeoutSeconds` (trickling) closes its connection (`slow-frame`), as
 * does a TLS handshake that long. Quiet connections stay open (relays keep one for hours): TCP
 * keepalive finds dead peers; `limits.idleTimeoutSeconds` (default off) closes silent ones.
 * @throws BridgeError ERR_LISTEN_FAILED (bind), ERR_CONFIG_INVALID (unreadable certificate files).
 */
export async function startTcpListener(url: ListenUrl, ctx: IngestContext, tls?: TlsFiles): Promise<BoundListener> {
  const transport: 'tcp' | 'tls' = url.transport === 'tls' ? 'tls' : 'tcp';
  const idleMs = ctx.limits.idleTimeoutSeconds * 1000;
  const frameMs = ctx.limits.frameTimeoutSeconds * 1000;
  const counts = ctx.connectionCount;
  const connections = ctx.connectionsOpen;
  const tlsServer = tls ? createTlsHandshaker(tls, ctx, frameMs) : undefined;
  // This listener's connections by remote address and port: how a TLS socket finds the state of the
  // raw socket it wraps.
  const byPeer = new Map<string, Connection>();

  const server: Server = createServer({ noDelay: true }, (socket) => {
    const sender = normalizeAddress(socket.remoteAddress ?? '');
    if (!ctx.allow.allows(sender)) {
      ctx.drop(transport, 'sender-denied', { sender });
      socket.destroy();
      return;
    }
    const perSender = counts.bySender.get(sender) ?? 0;
    if (perSender >= ctx.limits.maxConnectionsPerSender) evict(connections, sender, transport, ctx, 'max-connections-per-sender');
    if (counts.total >= ctx.limits.maxConnections) evict(connections, undefined, transport, ctx, 'max-connections');
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    let released = false;
    // Once, at close or at eviction (whichever comes first): the counts the limits judge by are
    // exact at once, not when the evicted socket's close event comes.
    const release = (): void => {
      if (released) return;
      released = true;
      connections.delete(connection);
      byPeer.delete(peer);
      counts.total--;
      const n = (counts.bySender.get(sender) ?? 1) - 1;
      if (n <= 0) counts.bySender.delete(sender);
      else counts.bySender.set(sender, n);
      ctx.connections.dec({ transport });
    };
    const connection: Connection = { socket, sender, transport, lastFrameAt: Date.now(), partialSince: undefined, release };
    counts.total++;
    counts.bySender.set(sender, (counts.bySender.get(sender) ?? 0) + 1);
    ctx.connections.inc({ transport });
    connections.add(connection);
    byPeer.set(peer, connection);
    socket.once('close', release);
    // Errors on one connection (resets, TLS alerts) end that connection only.
    socket.on('error', () => {});
    // Relays keep a connection open through hours of silence: keepalive, not an idle timeout,
    // tells a quiet peer from a dead one.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    if (tlsServer) {
      // The handshake has its own timeout (handshakeTimeout); the idle timer starts once it is done.
      tlsServer.emit('connection', socket);
      return;
    }
    idleTimer(socket, sender, transport, idleMs, ctx);
    readFrames(socket, connection, ctx);
  });
  tlsServer?.on('secureConnection', (secure: TLSSocket) => {
    const connection = byPeer.get(`${secure.remoteAddress}:${secure.remotePort}`);
    secure.on('error', () => {});
    if (connection === undefined) {
      secure.destroy();
      return;
    }
    idleTimer(secure, connection.sender, 'tls', idleMs, ctx);
    readFrames(secure, connection, ctx, secure.authorized ? certificateNames(secure) : undefined);
  });
  // Trickling: a message begun longer than frameTimeoutSeconds ago and still not finished.
  const sweep = frameMs > 0 ? setInterval(() => closeSlowFrames(byPeer, frameMs, ctx), Math.min(1000, frameMs)) : undefined;
  sweep?.unref();
  server.on('error', (error) => ctx.drop(transport, 'socket-error', { error: error.message }));

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenFailed(url, error));
    server.once('error', onError);
    server.listen({ port: url.port, host: url.host, backlog: 4096 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const info = server.address();
  const address = typeof info === 'object' && info ? info.address : url.host;
  const port = typeof info === 'object' && info ? info.port : url.port;
  const bound = formatListenUrl(transport, address, port);
  ctx.log.info({ url: bound, transport, address, port, mutualTls: tls ? tls.clientCa !== undefined : undefined }, `listening on ${bound}`);

  return boundListener(bound, address, port, async () => {
    if (sweep) clearInterval(sweep);
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Half-close: the sender sees our FIN, what it already sent is still read and delivered.
    await Promise.all([...byPeer.values()].map((c) => endGently(c.socket)));
    await stopped;
  });
}

/** TCP keepalive's first probe after this long without traffic. */
const KEEPALIVE_MS = 60_000;

/** One accepted TCP connection (its raw socket, also under TLS), as the limits see it. */
export interface Connection {
  readonly socket: Socket;
  readonly sender: string;
  readonly transport: 'tcp' | 'tls';
  /** When its last complete message arrived (or it was accepted). */
  lastFrameAt: number;
  /** When the message now in progress began, if one is. */
  partialSince: number | undefined;
  /** Takes it out of the counts (idempotent; on close or eviction). */
  readonly release: () => void;
}

/**
 * Makes room for a newcomer: closes the connection longest without a complete message, among the
 * connections of `sender` (its own limit), or of the sender holding the most connections (the
 * process limit). Counted and logged under `reason`, with the evicted connection's sender.
 */
function evict(connections: ReadonlySet<Connection>, sender: string | undefined, transport: 'tcp' | 'tls', ctx: IngestContext, reason: 'max-connections' | 'max-connections-per-sender'): void {
  let from = sender;
  if (from === undefined) {
    let most = 0;
    for (const [s, n] of ctx.connectionCount.bySender) {
      if (n > most) {
        most = n;
        from = s;
      }
    }
  }
  let victim: Connection | undefined;
  for (const c of connections) {
    if (c.sender === from && (victim === undefined || c.lastFrameAt < victim.lastFrameAt)) victim = c;
  }
  if (victim === undefined) return;
  ctx.drop(victim.transport, 'evicted', { sender: victim.sender, limit: reason, newcomer: transport, idleSeconds: Math.round((Date.now() - victim.lastFrameAt) / 1000) });
  victim.socket.destroy();
  victim.release();
}

function closeSlowFrames(connections: ReadonlyMap<string, Connection>, frameMs: number, ctx: IngestContext): void {
  const now = Date.now();
  for (const c of connections.values()) {
    if (c.partialSince !== undefined && now - c.partialSince > frameMs && !c.socket.destroyed) {
      ctx.drop(c.transport, 'slow-frame', { sender: c.sender, seconds: Math.round((now - c.partialSince) / 1000) });
      c.socket.destroy();
    }
  }
}

/**
 * The names a verified client certificate vouches for: its subject CN and DNS subject alternative
 * names, lower case (the device binding compares them with config `devices.<name>.certNames`).
 */
function certificateNames(socket: TLSSocket): readonly string[] | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const names = new Set<string>();
  const cn = cert.subject?.CN;
  for (const name of Array.isArray(cn) ? cn : cn === undefined ? [] : [cn]) names.add(name.toLowerCase());
  for (const alt of (cert.subjectaltname ?? '').split(', ')) if (alt.startsWith('DNS:')) names.add(alt.slice(4).toLowerCase());
  return names.size > 0 ? Object.freeze([...names]) : undefined;
}

function readFrames(stream: Socket, connection: Connection, ctx: IngestContext, peerNames?: readonly string[]): void {
  const { sender, transport } = connection;
  const decoder = new FrameDecoder({ maxMessageBytes: ctx.limits.maxMessageBytes, octetCountingOnly: ctx.limits.requireOctetCounting });
  const accepted = ctx.accepted(transport);
  let receivedAt = 0;
  let frames = 0;
  const sink: FrameSink = {
    frame(data) {
      frames++;
      accepted.inc();
      ctx.onMessage(peerNames === undefined ? { data, sender, receivedAt, transport } : { data, sender, receivedAt, transport, peerNames });
    },
    oversized(bytes) {
      ctx.drop(transport, 'too-long', { sender, bytes });
    },
  };
  ctx.flow.streams.add(stream);
  stream.once('close', () => ctx.flow.streams.delete(stream));
  if (ctx.flow.paused) stream.pause();
  stream.on('data', (chunk: Buffer) => {
    receivedAt = Date.now();
    const before = frames;
    const fault = decoder.push(chunk, sink);
    if (fault) {
      ctx.drop(transport, fault.reason === 'frame-too-long' ? 'too-long' : 'bad-framing', { sender, code: fault.code, detail: fault.message });
      stream.destroy();
      return;
    }
    if (frames > before) connection.lastFrameAt = receivedAt;
    // The message in progress began in this chunk when one finished in it, else it goes on.
    if (decoder.bufferedBytes === 0) connection.partialSince = undefined;
    else if (frames > before || connection.partialSince === undefined) connection.partialSince = receivedAt;
  });
  // A reset mid-stream loses whatever the sender had not finished framing: count it.
  stream.once('error', (error: NodeJS.ErrnoException) => {
    ctx.drop(transport, 'socket-error', { sender, error: error.code ?? error.message, pendingBytes: decoder.bufferedBytes });
  });
  stream.on('end', () => {
    receivedAt = Date.now();
    const discarded = decoder.end(sink);
    if (discarded > 0) ctx.drop(transport, 'truncated', { sender, bytes: discarded });
    stream.end();
  });
}

function idleTimer(socket: Socket, sender: string, transport: 'tcp' | 'tls', idleMs: number, ctx: IngestContext): void {
  if (idleMs <= 0) return;
  socket.setTimeout(idleMs, () => {
    ctx.drop(transport, 'idle-timeout', { sender });
    socket.destroy();
  });
}

function endGently(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  });
}

/**
 * A TLS server that never listens: accepted TCP sockets are handed to it after the allow-list and
 * limits, so refused senders cost no handshake.
 */
function createTlsHandshaker(files: TlsFiles, ctx: IngestContext, frameMs: number): TlsServer {
  const read = (path: string, key: string) => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new BridgeError('ERR_CONFIG_INVALID', `Cannot read \`${key}\` file ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}. Check the path (config \`${key}\` or --${key.replace('tls.', 'tls-').replace('clientCa', 'client-ca')}).`, { key, cause });
    }
  };
  const mutual = files.clientCa !== undefined;
  let server: TlsServer;
  try {
    server = createTlsServer({
      cert: read(files.cert, 'tls.cert'),
      key: read(files.key, 'tls.key'),
      ...(mutual ? { ca: read(files.clientCa!, 'tls.clientCa'), requestCert: true, rejectUnauthorized: true } : {}),
      minVersion: 'TLSv1.2',
      // A handshake is the first message: trickling it is as slow as trickling a line.
      handshakeTimeout: frameMs > 0 ? frameMs : 120_000,
    });
  } catch (cause) {
    if (cause instanceof BridgeError) throw cause;
    throw new BridgeError('ERR_CONFIG_INVALID', `The TLS certificate or key is not usable: ${(cause as Error).message}. Check that tls.cert and tls.key are a matching PEM pair.`, { key: 'tls.cert', cause });
  }
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // A sender that opens a connection and never starts the handshake is a half-open connection.
    const reason = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'slow-frame' : 'tls-handshake';
    ctx.drop('tls', reason, { sender: normalizeAddress(socket.remoteAddress ?? ''), error: error.code ?? error.message });
    // Node reports a handshake timeout but leaves the socket open.
    socket.destroy();
  });
  return server;
}
