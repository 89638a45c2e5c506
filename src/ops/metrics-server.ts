import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { BridgeError } from '../errors.js';

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text) and `GET /healthz` on `HOST:PORT`. Plain HTTP on
 * purpose: bind it to loopback or a management address (it shows counts, never identities).
 * @throws BridgeError ERR_LISTEN_FAILED when the address cannot be bound.
 */
export async function startMetricsServer(listen: string, registry: Registry, health: () => Record<string, unknown> = () => ({})): Promise<MetricsServer> {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(at + 1));
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === 'GET' && req.url === '/healthz') {
      // Unhealthy (503) when a part says so (`ok: false`), e.g. a state file that cannot be written.
      const report = { ok: true, ...health() };
      res.writeHead(report.ok === false ? 503 : 200, { 'content-type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new BridgeError('ERR_LISTEN_FAILED', `Cannot serve metrics on ${listen}: ${(cause as NodeJS.ErrnoException).code}. Pick a free address in \`metrics.listen\`.`, { key: 'metrics.listen', cause })));
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
