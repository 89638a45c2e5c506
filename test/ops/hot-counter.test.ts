import test from 'ava';
import { Registry } from 'prom-client';
import { counter, hotCounter } from '../../src/ops/metrics.js';

test('hot counter increments reach the counter when it is read, by label, and stack with others on the same metric', async (t) => {
  const registry = new Registry();
  const metric = counter(registry, 'ptim_bridge_test_total', 'test', ['outcome']);
  const a = hotCounter(metric, 'outcome');
  const b = hotCounter(metric, 'outcome');
  a('noise');
  a('noise');
  a('candidate', 5);
  b('noise');
  const text = await registry.metrics();
  t.regex(text, /ptim_bridge_test_total\{outcome="noise"\} 3\b/);
  t.regex(text, /ptim_bridge_test_total\{outcome="candidate"\} 5\b/);
  // Read again without new increments: nothing is added twice.
  a('candidate');
  const values = (await metric.get()).values;
  t.deepEqual(values.map((v) => [v.labels.outcome, v.value]).sort(), [['candidate', 6], ['noise', 3]]);
});

test('a hot counter without labels', async (t) => {
  const registry = new Registry();
  const metric = counter(registry, 'ptim_bridge_plain_total', 'test');
  const inc = hotCounter(metric);
  inc();
  inc(undefined, 2);
  t.regex(await registry.metrics(), /ptim_bridge_plain_total 3\b/);
});
