import { BridgeError } from '../errors.js';
import type { ListenUrl } from './listen-url.js';

/** One listening socket, as startListeners reports it. */
export interface BoundListener {
  /** The URL with the port actually bound (port 0 resolved). */
  readonly url: string;
  readonly address: string;
  readonly port: number;
  /** Stops accepting, delivers what is in hand, ends connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * The BoundListener record of a socket bound at `url` (`address`, `port`): close() runs `stop`
 * once and hands every caller the same promise.
 */
export function boundListener(url: string, address: string, port: number, stop: () => Promise<void>): BoundListener {
  let closed: Promise<void> | undefined;
  return {
    url,
    address,
    port,
    close() {
      closed ??= stop();
      return closed;
    },
  };
}

/** ERR_LISTEN_FAILED with the usual causes spelled out. */
export function listenFailed(url: ListenUrl, error: NodeJS.ErrnoException): BridgeError {
  const hint = error.code === 'EADDRINUSE'
    ? 'Another process uses this port: stop it or choose another port.'
    : error.code === 'EACCES'
      ? 'Ports below 1024 need privileges: use a port >= 1024 (e.g. 5514) or grant CAP_NET_BIND_SERVICE.'
      : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
        ? 'This host has no such address: use 0.0.0.0, [::] or one of its own addresses.'
        : 'Check the address and port.';
  return new BridgeError('ERR_LISTEN_FAILED', `Cannot listen on ${url.url}: ${error.code ?? error.message}. ${hint}`, { cause: error });
}
