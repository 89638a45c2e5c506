import { isIP } from 'node:net';
import { BridgeError } from '../errors.js';

export type ListenTransport = 'udp' | 'tcp' | 'tls';

/** A parsed `udp|tcp|tls://HOST:PORT`; `host` has no brackets (an IPv6 literal stays bare). */
export interface ListenUrl {
  url: string;
  transport: ListenTransport;
  host: string;
  port: number;
}

const SHAPE = /^(udp|tcp|tls):\/\/(?:\[([^\]]*)\]|([^:/\s[\]]+)):(\d{1,5})$/;
const EXAMPLES = 'udp://0.0.0.0:5514, tcp://[::]:5514 or tls://0.0.0.0:6514';

/**
 * Parses one listen URL. Port 0 asks the system for a free port (tests).
 * @throws BridgeError ERR_LISTEN_URL_INVALID saying what was wrong and how a valid URL looks.
 */
export function parseListenUrl(url: string): ListenUrl {
  const m = SHAPE.exec(url.trim());
  if (!m) {
    const hint = /^[a-z]+:\/\//i.test(url) && !/^(udp|tcp|tls):/.test(url)
      ? ' The scheme must be udp, tcp or tls.'
      : /:\d+$/.test(url)
        ? ' Wrap an IPv6 address in brackets, e.g. tcp://[::1]:5514.'
        : ' Give a host and a port.';
    throw new BridgeError('ERR_LISTEN_URL_INVALID', `Expected a listen URL like ${EXAMPLES}, got ${JSON.stringify(url)}.${hint}`);
  }
  const transport = m[1] as ListenTransport;
  const v6 = m[2];
  const host = v6 ?? m[3]!;
  if (v6 !== undefined && isIP(v6) !== 6) {
    throw new BridgeError('ERR_LISTEN_URL_INVALID', `Expected an IPv6 address inside [...] in ${JSON.stringify(url)}, got ${JSON.stringify(v6)}. Example: tcp://[::]:5514.`);
  }
  const port = Number(m[4]);
  if (port > 65535) {
    throw new BridgeError('ERR_LISTEN_URL_INVALID', `Expected a port 0-65535 in ${JSON.stringify(url)}, got ${port}.`);
  }
  return { url, transport, host, port };
}

/** `transport://host:port` with IPv6 hosts bracketed, for logs and the bound list. */
export function formatListenUrl(transport: ListenTransport, host: string, port: number): string {
  return `${transport}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
