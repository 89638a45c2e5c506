import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { promClient } from '../lazy-deps.js';

/**
 * Metrics are plain prom-client objects on a registry the composition root owns. Modules ask for
 * theirs by name; asking twice returns the same metric, so modules need no shared catalogue.
 */
export function createRegistry(options: { defaults?: boolean } = {}): Registry {
  const { Registry, collectDefaultMetrics } = promClient();
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry, prefix: 'ptim_bridge_' });
  return registry;
}

export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new (promClient().Counter)({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new (promClient().Gauge)({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function histogram<L extends string>(registry: Registry, name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new (promClient().Histogram)({ name, help, buckets, labelNames: [...labelNames], registers: [registry] });
}

/**
 * An increment for a hot path (every line, every message): counted in a plain map and added to
 * the prom-client counter when the counter is read (a scrape, `registry.metrics()`, `get()`), since
 * prom-client hashes and validates the labels on each `inc` (about half a microsecond, a few per
 * cent of a VPN line's cost). Readers see the same totals; only the moment of addition differs.
 * `labelName` names the one label the values go to; without it the counter has no labels.
 */
export function hotCounter<L extends string>(metric: Counter<L>, labelName?: L): (label?: string, n?: number) => void {
  const pending = new Map<string, number>();
  const target = metric as unknown as { collect?: () => unknown };
  const previous = target.collect;
  target.collect = function (this: unknown) {
    for (const [value, n] of pending) {
      if (labelName === undefined) metric.inc(n);
      else metric.inc({ [labelName]: value } as Partial<Record<L, string>>, n);
    }
    pending.clear();
    return previous?.call(this);
  };
  return (label = '', n = 1) => {
    pending.set(label, (pending.get(label) ?? 0) + n);
  };
}
