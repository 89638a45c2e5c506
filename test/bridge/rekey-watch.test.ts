import test from 'ava';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

test('live rekey watch: a session whose rekeys stop is ended at JIMS (disconnect flagged rekey-missing, expired)', async (t) => {
  const dir = tempDir(t, 'ptim-watch-');
  const { sim, caFile } = await startSim(t, dir);
  // One-second rekey interval, no grace, the first miss ends the session: the watch fires soon.
  const bridge = await startBridgeProcess(t, {
    dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile,
    sessions: { rekeyIntervalSeconds: 1, rekeyGraceSeconds: 0, maxMissedRekeys: 1 },
  });
  const ip = clientIp(9);
  await bridge.send([vpnLine('up', 9)]);
  await waitUntil(() => eventsFor(sim, ip).some((e) => e.state === 'disconnect'), 20_000, 'the expiry at JIMS');
  const states = eventsFor(sim, ip).map((e) => `${e.state}${(e.flags as string[]).length > 0 ? ` ${(e.flags as string[]).join(',')}` : ''}`);
  t.deepEqual(states, ['connect', 'disconnect rekey-missing,expired']);
  t.deepEqual(sim.identities(), []);
  t.is(await bridge.stop(), 0, bridge.stderr());
});
