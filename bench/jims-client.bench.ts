// JIMS client against the simulator, both in this process (one core): pushes/s by batch size and
// concurrency, and single-event push latency. Run: npx tsx bench/jims-client.bench.ts
import { Registry } from 'prom-client';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config.js';
import { createJimsClient } from '../src/delivery/jims-client.js';
import { startJimsSim } from '../src/jims-sim/server.js';
import { silentLogger } from '../src/log.js';
import { toEvent } from '../src/events/ptim-event.js';
process.env.MEASURE_SECRET = 'x';
const sim = await startJimsSim({ clientId: 'b', clientSecret: 'x', maxKeptEvents: 0 });
const dir = mkdtempSync(join(tmpdir(), 'ptim-bench-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, sim.ca);
const jims = validateConfig({ jims: { url: sim.url, clientId: 'b', clientSecret: 'env:MEASURE_SECRET', ca: caFile } }).jims;
const c = await createJimsClient(jims, { log: silentLogger(), registry: new Registry() });
const ev = (i: number) => toEvent({ line: 'up', user: `u${i}`, domain: 'corp.example', ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, time: new Date(1_770_000_000_000 + i).toISOString(), device: 'srx', sender: 'file', flags: [], pattern: 'x/y', tunnelId: String(i), lineKey: String(i) }, 'connect');
for (const [size, conc] of [[500, 4], [500, 1], [100, 4]] as const) {
  const batches = Array.from({ length: Math.ceil(100_000 / size) }, (_, b) => Array.from({ length: size }, (_, k) => ev(b * size + k)));
  await c.push(batches[0]!);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { while (next < batches.length) { const o = await c.push(batches[next++]!); if (o.kind !== 'delivered') throw new Error(JSON.stringify(o)); } }));
  const s = (performance.now() - t0) / 1000;
  console.log(`batch ${size} x concurrency ${conc}: ${(batches.length * size / s).toFixed(0)} events/s (${batches.length} pushes in ${s.toFixed(2)} s)`);
}
const lat: number[] = [];
for (let i = 0; i < 1000; i++) { const t = performance.now(); await c.push([ev(i)]); lat.push(performance.now() - t); }
lat.sort((a, b) => a - b);
console.log(`single-event push latency: p50 ${lat[500]!.toFixed(2)} ms, p99 ${lat[990]!.toFixed(2)} ms`);
c.close();
await sim.close();
rmSync(dir, { recursive: true, force: true });
