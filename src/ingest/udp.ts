import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { normalizeAddress } from './allow-list.js';
import { boundListener, listenFailed, type BoundListener } from './bound-listener.js';
import { splitDatagram, type DatagramSink } from './datagram.js';
import type { IngestContext } from './ingest-context.js';
import { formatListenUrl, type ListenUrl } from './listen-url.js';

/** Ask for a large kernel buffer: bursts of flow logs must not overflow it (the kernel caps it at net.core.rmem_max). */
const RECV_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Listens for syslog over UDP: one message per datagram, or several split on LF with
 * `limits.splitDatagramLines` (src/ingest/datagram.ts, the splitter packet-capture replay uses too). Datagrams from
 * senders outside the allow-list are dropped and counted, as are messages over the size limit.
 * @throws BridgeError ERR_LISTEN_FAILED when the address cannot be bound.
 */
export async function startUdpListener(url: ListenUrl, ctx: IngestContext): Promise<BoundListener> {
  const family = isIP(url.host) || (await lookup(url.host).then((r) => r.family, () => 4));
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', recvBufferSize: RECV_BUFFER_BYTES });
  const accepted = ctx.accepted('udp');
  const max = ctx.limits.maxMessageBytes;
  const splitLines = ctx.limits.splitDatagramLines;
  // The datagram being split: one sink for all, no closure per datagram.
  let sender = '';
  let receivedAt = 0;
  const sink: DatagramSink = {
    message: (data) => ctx.onMessage({ data, sender, receivedAt, transport: 'udp' }),
    tooLong: (bytes) => ctx.drop('udp', 'too-long', { sender, bytes }),
  };

  socket.on('message', (data: Buffer, rinfo: RemoteInfo) => {
    sender = normalizeAddress(rinfo.address);
    if (!ctx.allow.allows(sender)) {
      ctx.drop('udp', 'sender-denied', { sender });
      return;
    }
    receivedAt = Date.now();
    const count = splitDatagram(data, max, sink, splitLines);
    if (count > 0) accepted.inc(count);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      socket.close();
      reject(listenFailed(url, error));
    };
    socket.once('error', onError);
    socket.bind(url.port, url.host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  socket.on('error', (error) => ctx.drop('udp', 'socket-error', { error: error.message }));

  const { address, port } = socket.address();
  const bound = formatListenUrl('udp', address, port);
  ctx.log.info({ url: bound, transport: 'udp', address, port, recvBufferBytes: safeRecvBufferSize(socket) }, `listening on ${bound}`);

  return boundListener(bound, address, port, () => new Promise<void>((resolve) => socket.close(() => resolve())));
}

function safeRecvBufferSize(socket: Socket): number | undefined {
  try {
    return socket.getRecvBufferSize();
  } catch {
    return undefined;
  }
}
