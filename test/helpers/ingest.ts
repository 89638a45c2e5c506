import type { ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { validateConfig, type ConfigInput } from '../../src/config.js';
import { startListeners, type ListenerSet } from '../../src/ingest/listeners.js';
import { silentLogger } from '../../src/log.js';
import type { ReceivedMessage } from '../../src/flow/pipeline-records.js';
import { waitUntil } from './wait.js';

export interface TestListeners {
  set: ListenerSet;
  messages: ReceivedMessage[];
  texts(): string[];
  registry: Registry;
  /** Port of the listener with this transport. */
  port(transport: 'udp' | 'tcp' | 'tls'): number;
  waitMessages(n: number, timeoutMs?: number): Promise<void>;
  dropped(transport: string, reason: string): Promise<number>;
}

/** Starts listeners on 127.0.0.1 port 0 with the given config; closed when the test ends. */
export async function startTestListeners(t: ExecutionContext, urls: string[], config: ConfigInput = {}, extra: { allowSenders?: string[]; allowAnySender?: boolean } = {}): Promise<TestListeners> {
  const registry = new Registry();
  const messages: ReceivedMessage[] = [];
  // As the effective config lays --listen and --allow-sender over the file.
  const allow = [...(config.senders?.allow ?? []), ...(extra.allowSenders ?? (extra.allowAnySender ? [] : ['127.0.0.0/8', '::1']))];
  const set = await startListeners({
    config: validateConfig({ ...config, listen: urls, senders: { ...config.senders, allow, allowAny: config.senders?.allowAny === true || extra.allowAnySender === true } }),
    onMessage: (m) => messages.push(m),
    log: silentLogger(),
    registry,
  });
  t.teardown(() => set.close());
  return {
    set,
    messages,
    registry,
    texts: () => messages.map((m) => m.data.toString('latin1')),
    port(transport) {
      const b = set.bound.find((x) => x.url.startsWith(`${transport}://`));
      if (!b) throw new Error(`no ${transport} listener`);
      return b.port;
    },
    waitMessages: (n, timeoutMs = 10_000) => waitUntil(() => messages.length >= n, timeoutMs, `${n} messages (have ${messages.length})`),
    async dropped(transport, reason) {
      const metric = registry.getSingleMetric('ptim_bridge_ingest_dropped_total');
      if (!metric) return 0;
      const values = (await metric.get()).values;
      return values.find((v) => v.labels.transport === transport && v.labels.reason === reason)?.value ?? 0;
    },
  };
}
