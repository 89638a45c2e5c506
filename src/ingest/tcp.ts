import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { BridgeError } from '../errors.js';
import type { Transport } from '../pipeline-records.js';
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
 * Connections from senders outside the allow-list, over `limits.maxConnections` or over
 * `limits.maxConnectionsPerSender` are refused (destroyed at once) and counted; connections
 * that stay silent for `limits.idleTimeoutSeconds` (including a TLS handshake that never ends)
 * are closed and counted.
 * @throws BridgeError ERR_LISTEN_FAILED (bind), ERR_CONFIG_INVALID (unreadable certificate files).
 */
export async function startTcpListener(url: ListenUrl, ctx: IngestContext, tls?: TlsFiles): Promise<BoundListener> {
  const transport: 'tcp' | 'tls' = url.transport === 'tls' ? 'tls' : 'tcp';
  const idleMs = ctx.limits.idleTimeoutSeconds * 1000;
  const open = new Set<Socket>();
  const counts = ctx.connectionCount;
  const tlsServer = tls ? createTlsHandshaker(tls, ctx, idleMs) : undefined;

  const server: Server = createServer({ noDelay: true }, (socket) => {
    const sender = normalizeAddress(socket.remoteAddress ?? '');
    if (!ctx.allow.allows(sender)) {
      ctx.drop(transport, 'sender-denied', { sender });
      socket.destroy();
      return;
    }
    if (counts.total >= ctx.limits.maxConnections) {
      ctx.drop(transport, 'max-connections', { sender, limit: ctx.limits.maxConnections });
      socket.destroy();
      return;
    }
    const perSender = counts.bySender.get(sender) ?? 0;
    if (perSender >= ctx.limits.maxConnectionsPerSender) {
      ctx.drop(transport, 'max-connections-per-sender', { sender, limit: ctx.limits.maxConnectionsPerSender });
      socket.destroy();
      return;
    }
    counts.total++;
    counts.bySender.set(sender, perSender + 1);
    ctx.connections.inc({ transport });
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      counts.total--;
      const n = (counts.bySender.get(sender) ?? 1) - 1;
      if (n <= 0) counts.bySender.delete(sender);
      else counts.bySender.set(sender, n);
      ctx.connections.dec({ transport });
    });
    // Errors on one connection (resets, TLS alerts) end that connection only.
    socket.on('error', () => {});
    if (tlsServer) {
      // The handshake has its own timeout (handshakeTimeout); the idle timer starts once it is done.
      tlsServer.emit('connection', socket);
      return;
    }
    idleTimer(socket, sender, transport, idleMs, ctx);
    readFrames(socket, sender, transport, ctx);
  });
  tlsServer?.on('secureConnection', (secure: TLSSocket) => {
    const sender = normalizeAddress(secure.remoteAddress ?? '');
    secure.on('error', () => {});
    idleTimer(secure, sender, 'tls', idleMs, ctx);
    readFrames(secure, sender, 'tls', ctx, secure.authorized ? certificateNames(secure) : undefined);
  });
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
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Half-close: the sender sees our FIN, what it already sent is still read and delivered.
    await Promise.all([...open].map((socket) => endGently(socket)));
    await stopped;
  });
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

function readFrames(stream: Socket, sender: string, transport: Transport & ('tcp' | 'tls'), ctx: IngestContext, peerNames?: readonly string[]): void {
  const decoder = new FrameDecoder({ maxMessageBytes: ctx.limits.maxMessageBytes });
  const accepted = ctx.accepted(transport);
  let receivedAt = 0;
  const sink: FrameSink = {
    frame(data) {
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
    const fault = decoder.push(chunk, sink);
    if (fault) {
      ctx.drop(transport, fault.reason === 'frame-too-long' ? 'too-long' : 'bad-framing', { sender, code: fault.code, detail: fault.message });
      stream.destroy();
    }
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
function createTlsHandshaker(files: TlsFiles, ctx: IngestContext, idleMs: number): TlsServer {
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
      handshakeTimeout: idleMs > 0 ? idleMs : 120_000,
    });
  } catch (cause) {
    if (cause instanceof BridgeError) throw cause;
    throw new BridgeError('ERR_CONFIG_INVALID', `The TLS certificate or key is not usable: ${(cause as Error).message}. Check that tls.cert and tls.key are a matching PEM pair.`, { key: 'tls.cert', cause });
  }
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // A sender that opens a connection and never starts the handshake is a half-open connection.
    const reason = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'idle-timeout' : 'tls-handshake';
    ctx.drop('tls', reason, { sender: normalizeAddress(socket.remoteAddress ?? ''), error: error.code ?? error.message });
    // Node reports a handshake timeout but leaves the socket open.
    socket.destroy();
  });
  return server;
}
