import test, { type ExecutionContext } from 'ava';
import type { BehaviourChange } from '../../src/jims-sim/behaviour.js';
import { join } from 'node:path';
import { findEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

const FIRST = 300;
const SECOND = 500;

/**
 * Accepted = committed: the test waits until the bridge's metrics show every event in the outbox
 * before it kills the process. The restart runs on the same state file with JIMS healthy.
 */
async function killWhileJimsFails(t: ExecutionContext, failing: BehaviourChange): Promise<void> {
  const dir = tempDir(t, 'ptim-kill9-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  // A long client timeout: the pushes to the hanging JIMS stay in flight until the kill.
  const jims = { batchSize: 50, concurrency: 4, timeoutMs: 120_000 };
  const first = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, jims });

  // Part of the traffic goes through while JIMS is healthy...
  await first.send(Array.from({ length: FIRST }, (_, i) => vpnLine('up', i)));
  await waitUntil(() => sim.events().unique > 0, 20_000, 'first events at JIMS');
  // ...then JIMS fails (see the callers).
  await sim.setBehaviour(failing);
  const requestsBefore = sim.stats().eventRequests;
  await first.send(Array.from({ length: SECOND }, (_, i) => vpnLine('up', FIRST + i)));
  await first.waitCommitted(FIRST + SECOND);
  await waitUntil(() => sim.stats().eventRequests > requestsBefore, 20_000, 'a push in flight to the hanging JIMS');
  const deliveredBeforeKill = sim.events().unique;
  t.true(deliveredBeforeKill < FIRST + SECOND, 'events were still undelivered at the kill');

  await first.kill9();
  t.is((await first.exit).signal, 'SIGKILL');

  await sim.setBehaviour({ latencyMs: 0, status: undefined });
  const second = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, jims });
  t.truthy(findEvent(second.logs(), 'backlog'), 'the restart picks up the backlog');
  const wanted = Array.from({ length: FIRST + SECOND }, (_, i) => clientIp(i));
  const arrived = () => new Set(sim.events().events.filter((e) => e.event.state === 'connect').map((e) => e.event.ip as string));
  await waitUntil(() => wanted.every((ip) => arrived().has(ip)), 30_000, 'every accepted event at JIMS');
  await waitUntil(async () => (await second.metric('ptim_bridge_outbox_backlog')) === 0, 20_000, 'an empty outbox');

  const summary = sim.events();
  t.deepEqual(wanted.filter((ip) => !arrived().has(ip)), [], 'none lost');
  t.is(summary.unique, FIRST + SECOND, 'nothing but the accepted events');
  t.log(`delivered before the kill: ${deliveredBeforeKill}; received ${summary.received}, unique ${summary.unique}, duplicates ${summary.duplicates}`);
  t.is(await second.stop(), 0, second.stderr());
}

test('kill -9 with pushes in flight to a JIMS that stopped answering; restart on the same --state: every accepted event arrives', killWhileJimsFails, {
  latencyMs: 600_000,
});

test('kill -9 while JIMS answers 503 (retries in progress); restart on the same --state: every accepted event arrives', killWhileJimsFails, {
  status: 503,
});

test('kill -9 in the middle of a catch-up burst (5,000 lines in one write): the burst commits in slices while it is read, and every committed event arrives after the restart', async (t) => {
  t.timeout(120_000);
  const dir = tempDir(t, 'ptim-kill9-burst-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  const first = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, jims: { timeoutMs: 120_000 } });
  // Then JIMS slow: nothing is delivered before the kill, the outbox holds what was committed.
  await sim.setBehaviour({ latencyMs: 600_000 });
  const BURST = 5000;
  const sending = first.send(Array.from({ length: BURST }, (_, i) => vpnLine('up', i)));
  sending.catch(() => {});
  // The first slice commits long before the burst is all parsed: kill as soon as it shows.
  await waitUntil(async () => (await first.metric('ptim_bridge_outbox_added_total')) >= 512, 30_000, 'the first slice committed');
  const committed = await first.metric('ptim_bridge_outbox_added_total');
  await first.kill9();
  t.log(`committed before the kill: ${committed} of ${BURST}`);

  await sim.setBehaviour({ latencyMs: 0 });
  const second = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile });
  await waitUntil(() => sim.events().unique >= committed, 60_000, 'every committed event at JIMS');
  await waitUntil(async () => (await second.metric('ptim_bridge_outbox_backlog')) === 0, 30_000, 'an empty outbox');
  // What arrived is a prefix of the burst, in order per IP, each IP once (the lines are one per IP).
  const ips = sim.events().events.map((e) => e.event.ip as string);
  t.is(new Set(ips).size, sim.events().unique);
  t.true(sim.events().unique >= committed, `${sim.events().unique} >= ${committed}`);
  t.is(await second.stop(), 0);
});
