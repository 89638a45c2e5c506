import test from 'ava';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

test('/readyz: 200 while JIMS takes pushes (with each device\'s last line); 503 with the reason once JIMS has failed longer than the limit; 200 again after', async (t) => {
  t.timeout(120_000);
  const dir = tempDir(t, 'ptim-readyz-');
  const { sim, caFile } = await startSim(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state: `${dir}/state.db`, jimsUrl: sim.url, caFile, config: { metrics: { listen: '127.0.0.1:0', readyJimsFailingSeconds: 1 } } });
  const readyz = bridge.metricsUrl.replace(/\/metrics$/, '/readyz');
  await bridge.send([vpnLine('up', 1)]);
  await waitUntil(() => eventsFor(sim, clientIp(1)).length === 1, 20_000, 'delivered');
  const ok = await fetch(readyz);
  t.is(ok.status, 200);
  const report = (await ok.json()) as { ready: boolean; jims: { reachable: boolean }; devices: Record<string, unknown>; backlog: { events: number } };
  t.like(report, { ready: true, jims: { reachable: true }, backlog: { events: 0 } });
  t.truthy(report.devices['srx-hq']);

  await sim.setBehaviour({ status: 503 });
  await bridge.send([vpnLine('up', 2)]);
  await waitUntil(async () => (await fetch(readyz)).status === 503, 30_000, 'not ready');
  const sick = (await (await fetch(readyz)).json()) as { reasons: string[]; jims: { reachable: boolean; lastError: string } };
  t.false(sick.jims.reachable);
  t.regex(sick.reasons.join(' '), /JIMS has not taken a push for \d+ s \(503/);
  // Liveness is another question: the process is fine.
  t.is((await fetch(bridge.metricsUrl.replace(/\/metrics$/, '/healthz'))).status, 200);

  await sim.setBehaviour({ status: undefined });
  await waitUntil(() => eventsFor(sim, clientIp(2)).length === 1, 30_000, 'delivered after JIMS came back');
  await waitUntil(async () => (await fetch(readyz)).status === 200, 30_000, 'ready again');
  t.is(await bridge.stop(), 0);
});
