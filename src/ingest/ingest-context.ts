import type { Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { counter, gauge, hotCounter } from '../ops/metrics.js';
import type { ReceivedMessage } from '../flow/pipeline-records.js';
import type { AllowList } from './allow-list.js';
import type { ListenTransport } from './listen-url.js';

/** Why a message or connection was not taken. Each is a label value of the dropped counter. */
export type DropReason =
  | 'sender-denied'
  | 'too-long'
  | 'bad-framing'
  | 'truncated'
  | 'idle-timeout'
  /** A connection closed to make room for a newcomer (limits.maxConnections / maxConnectionsPerSender). */
  | 'evicted'
  /** A message (or TLS handshake) begun and not finished within limits.frameTimeoutSeconds: trickling. */
  | 'slow-frame'
  | 'tls-handshake'
  | 'socket-error';

/** What every listener shares: limits, the allow-list, the sink, logs and counters. */
export interface IngestContext {
  readonly limits: Config['limits'];
  /** Replaced on a reload (ListenerSet.reconfigure); read per connection and per datagram. */
  allow: AllowList;
  readonly onMessage: (msg: ReceivedMessage) => void;
  readonly log: Logger;
  readonly rateLog: RateLimitedLog;
  /** Counts one drop (or `n`) and logs it at a limited rate. */
  drop(transport: ListenTransport, reason: DropReason, fields?: Record<string, unknown>, n?: number): void;
  /** Counts accepted messages; cheap (label children are cached). */
  accepted(transport: ListenTransport): { inc(n?: number): void };
  readonly connections: Gauge<'transport'>;
  /** Reading TCP/TLS streams, for pause/resume: new streams start paused while `paused`. */
  readonly flow: { paused: boolean; streams: Set<import('node:net').Socket> };
  /** Shared across all TCP/TLS listeners: `limits.maxConnections` is for the process. */
  readonly connectionCount: { total: number; bySender: Map<string, number> };
  /** Every open TCP/TLS connection of all listeners, for eviction. */
  readonly connectionsOpen: Set<import('./tcp.js').Connection>;
}

/**
 * Builds the shared context. Metric names: `ptim_bridge_ingest_dropped_total{transport,reason}`,
 * `ptim_bridge_ingest_messages_total{transport}`, `ptim_bridge_ingest_connections{transport}`.
 */
export function createIngestContext(options: {
  limits: Config['limits'];
  allow: AllowList;
  onMessage: (msg: ReceivedMessage) => void;
  log: Logger;
  registry: Registry;
}): IngestContext {
  const dropped: Counter<'transport' | 'reason'> = counter(options.registry, 'ptim_bridge_ingest_dropped_total', 'Syslog messages or connections dropped at ingest, by reason', ['transport', 'reason']);
  const messages: Counter<'transport'> = counter(options.registry, 'ptim_bridge_ingest_messages_total', 'Syslog messages accepted from the network', ['transport']);
  const connections = gauge(options.registry, 'ptim_bridge_ingest_connections', 'Open TCP/TLS connections', ['transport']);
  const rateLog = new RateLimitedLog(options.log);
  const countAccepted = hotCounter(messages, 'transport');
  const acceptedChildren = new Map<ListenTransport, { inc(n?: number): void }>();
  return {
    limits: options.limits,
    allow: options.allow,
    onMessage: options.onMessage,
    log: options.log,
    rateLog,
    connections,
    connectionCount: { total: 0, bySender: new Map() },
    connectionsOpen: new Set(),
    flow: { paused: false, streams: new Set() },
    drop(transport, reason, fields = {}, n = 1) {
      dropped.inc({ transport, reason }, n);
      rateLog.warn(reason, { transport, ...fields }, `ingest dropped: ${reason}`);
    },
    accepted(transport) {
      let child = acceptedChildren.get(transport);
      if (!child) {
        child = { inc: (n = 1) => countAccepted(transport, n) };
        acceptedChildren.set(transport, child);
      }
      return child;
    },
  };
}
