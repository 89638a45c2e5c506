import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnMessage } from './bridge-process.js';

const run = promisify(execFile);

test('live path: UP, the same UP again (rekey, rekey-inferred), DOWN; JIMS ends with no identity for the IP', async (t) => {
  const dir = tempDir(t, 'ptim-rekey-');
  const { sim, caFile } = await startSim(t, dir);
  // A real rekey repeats its UP text an SA lifetime later; here it comes a moment later, inside the
  // duplicate window (the same line twice would be applied once), so the window is off.
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile, lineChecks: { duplicateWindowSeconds: 0 } });
  const ip = clientIp(7);
  // util-linux logger over TCP, as a syslog daemon relaying the SRX would send it.
  const logger = (text: string) =>
    run('logger', ['--server', '127.0.0.1', '--port', String(bridge.tcpPort), '--tcp', '--octet-count', '--rfc5424', '-t', 'iked', text]);

  await logger(vpnMessage('up', 7));
  await waitUntil(() => eventsFor(sim, ip).length === 1, 20_000, 'the connect at JIMS');
  t.like(sim.identities(), [{ ip, user: 'u7' }]);
  const since = sim.identities()[0]!.since;

  await logger(vpnMessage('up', 7));
  await waitUntil(() => eventsFor(sim, ip).length === 2, 20_000, 'the rekey at JIMS');
  t.like(sim.identities(), [{ ip, user: 'u7', since }], 'a rekey keeps the mapping and its start');

  await logger(vpnMessage('down', 7));
  await waitUntil(() => eventsFor(sim, ip).length === 3, 20_000, 'the disconnect at JIMS');

  const events = eventsFor(sim, ip);
  t.deepEqual(events.map((e) => e.state), ['connect', 'rekey', 'disconnect']);
  t.deepEqual(events[0]!.flags, []);
  t.deepEqual(events[1]!.flags, ['rekey-inferred']);
  t.like(events[2], { user: 'u7', domain: 'corp.example', reason: 'Peer sent delete' });
  t.is(new Set(events.map((e) => e.id)).size, 3, 'three distinct event ids');
  t.deepEqual(sim.identities(), [], 'identity table empty for the IP');
  t.is(await bridge.stop(), 0, bridge.stderr());
});
