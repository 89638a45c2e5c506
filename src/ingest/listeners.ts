import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ReceivedMessage } from '../flow/pipeline-records.js';
import { createAllowList } from './allow-list.js';
import type { BoundListener } from './bound-listener.js';
import { createIngestContext } from './ingest-context.js';
import { parseListenUrl, type ListenUrl } from './listen-url.js';
import { startTcpListener } from './tcp.js';
import { startUdpListener } from './udp.js';

export interface ListenerSet {
  readonly bound: ReadonlyArray<{ url: string; address: string; port: number }>;
  /** Stops accepting, delivers frames in hand, ends connections. Idempotent. */
  close(): Promise<void>;
  /**
   * Stops reading TCP/TLS connections (senders are slowed by TCP flow control) until `resume()`;
   * for a consumer that cannot keep up. UDP cannot be paused. Connections stay subject to the idle
   * timeout. Not part of the original contract: an addition, safe to ignore.
   */
  pause(): void;
  resume(): void;
  /**
   * Takes a new sender allow-list (a reload): new connections and every datagram from now on are
   * judged by it; open connections stay (they were allowed when they connected).
   * The listeners themselves stay as they are (a change of `listen` needs a restart).
   * @throws BridgeError ERR_CONFIG_INVALID as `planListeners`; the old list then stays.
   */
  reconfigure(config: ListenerConfig): void;
}

/** What the listeners read of the (effective) config: `listen` (`udp|tcp|tls://HOST:PORT`), `senders` (allow-list; `allowAny` logs a warning), `tls`, `limits`. */
export type ListenerConfig = Pick<Config, 'listen' | 'senders' | 'tls' | 'limits'>;

export interface StartListenersOptions {
  config: ListenerConfig;
  /**
   * Called synchronously for every accepted message, in arrival order per connection; must not
   * throw. `msg.data` is a view into the read buffer (never reused by Node), so keeping it is safe
   * but keeps that read's memory alive: copy it when storing many.
   */
  onMessage: (msg: ReceivedMessage) => void;
  log: Logger;
  registry: Registry;
}

/**
 * Checks the listener settings without binding anything, so a composition root can refuse a bad
 * configuration before it opens state files or contacts JIMS.
 * @throws BridgeError ERR_LISTEN_URL_INVALID or ERR_CONFIG_INVALID, as `startListeners`.
 */
export function planListeners(config: Pick<Config, 'listen' | 'senders' | 'tls'>): { urls: ListenUrl[]; allowCidrs: readonly string[]; allowAny: boolean } {
  const raw = config.listen;
  if (raw.length === 0) {
    throw new BridgeError('ERR_CONFIG_INVALID', 'No listener: give --listen udp://0.0.0.0:5514 (repeatable) or set `listen` in the config.', { key: 'listen' });
  }
  const urls: ListenUrl[] = raw.map(parseListenUrl);
  const tls = config.tls;
  if (urls.some((u) => u.transport === 'tls') && (tls.cert === undefined || tls.key === undefined)) {
    throw new BridgeError('ERR_CONFIG_INVALID', 'A tls:// listener needs a server certificate: set `tls.cert` and `tls.key` in the config, or give --tls-cert FILE --tls-key FILE.', { key: 'tls.cert' });
  }
  const allowCidrs = config.senders.allow;
  const allowAny = config.senders.allowAny;
  if (allowCidrs.length === 0 && !allowAny) {
    throw new BridgeError('ERR_CONFIG_INVALID', 'The sender allow-list is empty, so every line would be dropped: list your firewalls with --allow-sender CIDR (config `senders.allow`), or accept any sender with --allow-any-sender (config `senders.allowAny: true`).', { key: 'senders.allow' });
  }
  return { urls, allowCidrs, allowAny };
}

/**
 * Starts every listener, or none: when one fails to bind, those already started are closed.
 * Logs one line per listener when it is ready (`url`, `address`, `port` fields).
 * @throws BridgeError ERR_LISTEN_URL_INVALID (a bad URL), ERR_CONFIG_INVALID (no listener, tls://
 *   without certificate, empty allow-list without the opt-in, unreadable certificate files),
 *   ERR_LISTEN_FAILED (bind failed).
 */
export async function startListeners(options: StartListenersOptions): Promise<ListenerSet> {
  const { config } = options;
  const { urls, allowCidrs, allowAny } = planListeners(config);
  const tls = config.tls;
  const log = options.log.child({ module: 'ingest' });
  const allow = createAllowList(allowCidrs, allowAny);
  if (allow.any) {
    log.warn({ key: 'senders.allowAny' }, 'accepting syslog from ANY sender: anyone who can reach these ports can inject identities; list your firewalls in senders.allow');
  }
  const ctx = createIngestContext({ limits: config.limits, allow, onMessage: options.onMessage, log, registry: options.registry });

  const started: BoundListener[] = [];
  try {
    for (const url of urls) {
      started.push(url.transport === 'udp'
        ? await startUdpListener(url, ctx)
        : await startTcpListener(url, ctx, url.transport === 'tls' ? { cert: tls.cert!, key: tls.key!, clientCa: tls.clientCa } : undefined));
    }
  } catch (error) {
    await Promise.all(started.map((l) => l.close()));
    throw error;
  }

  let closed: Promise<void> | undefined;
  const setPaused = (paused: boolean) => {
    if (ctx.flow.paused === paused) return;
    ctx.flow.paused = paused;
    for (const stream of ctx.flow.streams) {
      if (paused) stream.pause();
      else stream.resume();
    }
  };
  return {
    bound: started.map(({ url, address, port }) => ({ url, address, port })),
    close() {
      // What senders already wrote must still be read and delivered.
      setPaused(false);
      closed ??= Promise.all(started.map((l) => l.close())).then(() => undefined);
      return closed;
    },
    pause: () => setPaused(true),
    resume: () => setPaused(false),
    reconfigure(next) {
      // Judged against the listeners that run, not the `listen` the new config asks for.
      const plan = planListeners({ ...next, listen: urls.map((u) => u.url) });
      const nextAllow = createAllowList(plan.allowCidrs, plan.allowAny);
      if (nextAllow.any && !ctx.allow.any) log.warn({ key: 'senders.allowAny' }, 'accepting syslog from ANY sender: anyone who can reach these ports can inject identities; list your firewalls in senders.allow');
      ctx.allow = nextAllow;
    },
  };
}
