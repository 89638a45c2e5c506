import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { findEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

const IPS = 120;

async function outage(t: ExecutionContext, downAtStart: boolean): Promise<void> {
  const dir = tempDir(t, 'ptim-outage-');
  const { sim, caFile } = await startSim(t, dir);
  if (downAtStart) await sim.setBehaviour({ down: true });
  // Small batches and several pushes at once: a connect and its disconnect land in different
  // batches that could overtake each other if per-IP order were not kept.
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile, jims: { batchSize: 7, concurrency: 4 } });
  if (downAtStart) {
    t.truthy(findEvent(bridge.logs(), 'jims-unavailable', { level: 40, code: 'ERR_JIMS_UNAVAILABLE' }), 'an unreachable JIMS only warns at start');
  } else {
    await sim.setBehaviour({ down: true });
  }

  // Every IP's UP, then every IP's DOWN, on one connection: each pair is IPS events apart.
  await bridge.send([...Array.from({ length: IPS }, (_, i) => vpnLine('up', i, 0)), ...Array.from({ length: IPS }, (_, i) => vpnLine('down', i, 1))]);
  await bridge.waitCommitted(2 * IPS);
  // "A while" is counted in failed attempts, not in seconds: the bridge's own counter says so.
  await waitUntil(async () => (await bridge.metric('ptim_bridge_forwarder_retried_total')) >= 5, 20_000, 'five retried pushes while JIMS is down');
  t.is(await bridge.metric('ptim_bridge_outbox_backlog'), 2 * IPS);
  t.is(sim.events().received, 0);

  await sim.setBehaviour({ down: false });
  await waitUntil(() => sim.events().unique === 2 * IPS, 30_000, 'every event at JIMS');
  await waitUntil(async () => (await bridge.metric('ptim_bridge_outbox_backlog')) === 0, 20_000, 'an empty outbox');

  const received = sim.events().events.map((e) => e.event);
  const overtaken: string[] = [];
  for (let i = 0; i < IPS; i++) {
    const ip = clientIp(i);
    const states = received.filter((e) => e.ip === ip).map((e) => e.state);
    const connect = states.indexOf('connect');
    const disconnect = states.indexOf('disconnect');
    if (connect === -1 || disconnect === -1 || disconnect < connect) overtaken.push(`${ip}: ${states.join(',')}`);
  }
  t.deepEqual(overtaken, [], 'each IP: connect arrived before its disconnect');
  t.deepEqual(sim.identities(), [], 'every session ended at JIMS');
  t.log(`received ${sim.events().received} (duplicates ${sim.events().duplicates}) in ${sim.stats().eventRequests} push requests`);
  t.is(await bridge.stop(), 0, bridge.stderr());
}

test('JIMS down for a while, then back: every event arrives, each connect before its disconnect', outage, false);

test('JIMS unreachable when the bridge starts: it starts anyway (warning), and delivers everything in order once JIMS is up', outage, true);
