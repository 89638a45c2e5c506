import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { BridgeError } from '../errors.js';
import type { EventTap } from './tap.js';

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The admin side of the metrics listener: statistics and the live tap of a delivering bridge. */
export interface AdminRoutes {
  /** `GET /stats[?device=NAME&gateway=NAME]`: the tunnel-event statistics (JSON). */
  stats?: (filter: { device?: string; gateway?: string }) => unknown;
  /** `GET /tap`: the live event stream (NDJSON). */
  tap?: EventTap;
  /**
   * Whether /tap may be served. It shows identities (user, IP), unlike everything else here, so by
   * default only on a loopback listener (`metrics.tap` in the config decides otherwise).
   */
  tapAllowed?: boolean;
  /** `GET /readyz`: 200 when ready, 503 with the reasons when not (readiness.ts). */
  readiness?: () => { ready: boolean };
}

/**
 * Serves `GET /metrics` (Prometheus text), `GET /healthz` and, for a delivering bridge,
 * `GET /stats` (JSON) and `GET /tap` (NDJSON stream) on `HOST:PORT`. Plain HTTP on purpose: bind it
 * to loopback or a management address (/metrics, /healthz and /stats show counts, never
 * identities; /tap does, see AdminRoutes.tapAllowed).
 * @throws BridgeError ERR_LISTEN_FAILED when the address cannot be bound.
 */
export async function startMetricsServer(listen: string, registry: Registry, health: () => Record<string, unknown> = () => ({}), admin: AdminRoutes = {}): Promise<MetricsServer> {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(at + 1));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/stats' && admin.stats) {
      let body: string;
      try {
        const filter: { device?: string; gateway?: string } = {};
        const device = url.searchParams.get('device');
        const gateway = url.searchParams.get('gateway');
        if (device !== null) filter.device = device;
        if (gateway !== null) filter.gateway = gateway;
        body = `${JSON.stringify(admin.stats(filter))}\n`;
      } catch (error) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`Statistics cannot be read now: ${(error as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (req.method === 'GET' && path === '/tap' && admin.tap) {
      if (admin.tapAllowed === false) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('The tap shows identities and this listener is not on loopback: set `metrics.tap: true` in the config to serve it here.\n');
        return;
      }
      admin.tap.attach(res);
    } else if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === 'GET' && path === '/readyz' && admin.readiness) {
      const report = admin.readiness();
      res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
    } else if (req.method === 'GET' && req.url === '/healthz') {
      // Unhealthy (503) when a part says so (`ok: false`), e.g. a state file that cannot be written.
      const report = { ok: true, ...health() };
      res.writeHead(report.ok === false ? 503 : 200, { 'content-type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`GET /metrics or /healthz${admin.readiness ? ', /readyz' : ''}${admin.stats ? ', /stats' : ''}${admin.tap ? ', /tap' : ''}\n`);
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
    close: () =>
      new Promise((resolve) => {
        // Tap streams never end by themselves: end them, or close() would wait for them forever.
        admin.tap?.closeAll();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** True for a `HOST:PORT` on loopback (127.0.0.0/8, ::1, localhost): reachable from this machine only. */
export function isLoopbackListen(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::ffff:127.0.0.1';
}
