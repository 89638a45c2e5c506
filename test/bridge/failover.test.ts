import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCa } from '../helpers/test-ca.js';
import { findEvent, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, startBridgeProcess, startSim, vpnLine, type Sim } from './bridge-process.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

type Pair = { primary: Sim; secondary: Sim; caFile: string };

/** Both simulators carry certificates of one private CA, as a JIMS pair would. */
async function oneCa(t: ExecutionContext, dir: string): Promise<Pair> {
  const ca = createTestCa(dir);
  const primary = await startSim(t, dir, 'primary', { tls: ca.issue(['127.0.0.1'], 'primary') });
  const secondary = await startSim(t, dir, 'secondary', { tls: ca.issue(['127.0.0.1'], 'secondary') });
  return { primary, secondary, caFile: ca.caFile };
}

/** Two self-signed simulators, both certificates in one --jims-ca bundle (as with two `ptim-bridge jims-sim`). */
async function twoSelfSigned(t: ExecutionContext, dir: string): Promise<Pair> {
  const primary = await startSim(t, dir, 'primary');
  const secondary = await startSim(t, dir, 'secondary');
  const caFile = join(dir, 'bundle.pem');
  writeFileSync(caFile, `${primary.sim.ca}\n${secondary.sim.ca}`);
  return { primary, secondary, caFile };
}

async function failover(t: ExecutionContext, certificates: (t: ExecutionContext, dir: string) => Promise<Pair>): Promise<void> {
  const dir = tempDir(t, 'ptim-failover-');
  const { primary, secondary, caFile } = await certificates(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: primary.sim.url, jimsSecondaryUrl: secondary.sim.url, caFile, jims: { batchSize: 10 } });
  const ipsAt = (sim: typeof primary.sim) => new Set(sim.events().events.map((e) => e.event.ip as string));

  // Healthy: the primary gets the traffic.
  await bridge.send(range(0, 5).map((i) => vpnLine('up', i)));
  await waitUntil(() => range(0, 5).every((i) => ipsAt(primary.sim).has(clientIp(i))), 20_000, 'the first events at the primary');

  await primary.sim.setBehaviour({ down: true });
  const during = range(100, 40);
  await bridge.send(during.map((i) => vpnLine('up', i)));
  await waitUntil(() => during.every((i) => ipsAt(secondary.sim).has(clientIp(i))), 20_000, 'the events at the secondary');
  t.false(during.some((i) => ipsAt(primary.sim).has(clientIp(i))), 'nothing reached the primary while it was down');
  t.truthy(findEvent(bridge.logs(), 'jims-switched', { from: 'primary', to: 'secondary' }));

  await primary.sim.setBehaviour({ down: false });
  // The bridge probes the primary (probeIntervalSeconds: 1) and says when it goes back.
  await waitForEvent(bridge.logs, 'jims-switched', { fields: { from: 'secondary', to: 'primary' }, timeoutMs: 20_000 });
  const secondaryBefore = secondary.sim.events().received;
  const after = range(200, 40);
  await bridge.send(after.map((i) => vpnLine('up', i)));
  await waitUntil(() => after.every((i) => ipsAt(primary.sim).has(clientIp(i))), 20_000, 'the later events at the primary');
  t.is(secondary.sim.events().received, secondaryBefore, 'the secondary got nothing after the return');
  t.is(await bridge.metric('ptim_bridge_outbox_backlog'), 0);
  t.is(await bridge.stop(), 0, bridge.stderr());
}

test('primary down, secondary up: events go to the secondary; the primary back: the bridge returns to it', failover, oneCa);

test('failover with two self-signed simulators in one --jims-ca bundle', failover, twoSelfSigned);
