import test from 'ava';
import { join } from 'node:path';
import { createTestCa } from '../helpers/jims-tls.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

test('primary down, secondary up: events go to the secondary; the primary back: the bridge returns to it', async (t) => {
  const dir = tempDir(t, 'ptim-failover-');
  // Both simulators carry certificates of one private CA, as a JIMS pair would. (Two self-signed
  // certificates with the same subject in one bundle do not work: OpenSSL picks the issuer by name.)
  const ca = createTestCa(dir);
  const caFile = ca.caFile;
  const primary = await startSim(t, dir, 'primary', { tls: ca.issue(['127.0.0.1'], 'primary') });
  const secondary = await startSim(t, dir, 'secondary', { tls: ca.issue(['127.0.0.1'], 'secondary') });
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
  t.true(bridge.logs().some((l) => l.msg === 'JIMS primary failed; switching to the secondary'));

  await primary.sim.setBehaviour({ down: false });
  // The bridge probes the primary (probeIntervalSeconds: 1) and says when it goes back.
  await waitUntil(() => bridge.logs().some((l) => l.msg === 'JIMS primary answers again; switching back to it'), 20_000, 'the switch back to the primary');
  const secondaryBefore = secondary.sim.events().received;
  const after = range(200, 40);
  await bridge.send(after.map((i) => vpnLine('up', i)));
  await waitUntil(() => after.every((i) => ipsAt(primary.sim).has(clientIp(i))), 20_000, 'the later events at the primary');
  t.is(secondary.sim.events().received, secondaryBefore, 'the secondary got nothing after the return');
  t.is(await bridge.metric('ptim_bridge_outbox_backlog'), 0);
  t.is(await bridge.stop(), 0, bridge.stderr());
});
