import test from 'ava';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

test('SIGTERM while a push hangs at JIMS: the bridge stops promptly (not after jims.timeoutMs), exits 0, and the event goes at the next start', async (t) => {
  const dir = tempDir(t, 'ptim-stop-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  // Two minutes of client timeout: a stop that waited for the hanging push would take that long.
  const jims = { timeoutMs: 120_000 };
  const first = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, jims });
  await sim.setBehaviour({ latencyMs: 600_000 });
  await first.send([vpnLine('up', 1)]);
  await first.waitCommitted(1);
  await waitUntil(() => sim.stats().eventRequests > 0, 20_000, 'a push in flight');

  const start = Date.now();
  t.is(await first.stop(), 0, first.stderr());
  const took = Date.now() - start;
  t.log(`stopped ${took} ms after SIGTERM`);
  // The grace for pushes in flight is 2 s; the bound leaves room for a loaded machine and is
  // still far below the 120 s a stop waiting for the push would need.
  t.true(took < 60_000, `stopped after ${took} ms`);
  t.is(sim.events().received, 0);

  await sim.setBehaviour({ latencyMs: 0 });
  const second = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, jims });
  await waitUntil(() => eventsFor(sim, clientIp(1)).length > 0, 20_000, 'the event after the restart');
  t.is(await second.stop(), 0, second.stderr());
});
