import test from 'ava';
import { runCli } from '../helpers/cli.js';
import { findEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

test('a poison event (a 1,100-character user name JIMS refuses) costs only itself and its IP\'s later events; the other 385 are delivered, in order', async (t) => {
  t.timeout(120_000);
  const dir = tempDir(t, 'ptim-poison-');
  const { sim, caFile } = await startSim(t, dir);
  const state = `${dir}/state.db`;
  // One batch for the whole burst: what issue 9 saw go to the dead letters at once.
  const bridge = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, jims: { batchSize: 500, lingerMs: 1000 } });
  const POISON = 200;
  const long = (line: string, i: number) => line.replace(`AAA username: u${i},`, `AAA username: ${'m'.repeat(1100)},`);
  const ups = Array.from({ length: 386 }, (_, i) => (i === POISON ? long(vpnLine('up', i), i) : vpnLine('up', i)));
  await bridge.send(ups);
  await waitUntil(() => sim.events().unique >= 385, 60_000, '385 connects at JIMS');
  // Later disconnects of 50 users, the poisoned one among them: its disconnect must not reach JIMS
  // without its connect.
  const downs = Array.from({ length: 50 }, (_, k) => POISON - 25 + k).map((i) => (i === POISON ? long(vpnLine('down', i, 1), i) : vpnLine('down', i, 1)));
  await bridge.send(downs);
  await waitUntil(() => sim.events().unique >= 385 + 49, 60_000, '49 disconnects at JIMS');
  await new Promise((r) => setTimeout(r, 1500));

  t.is(eventsFor(sim, clientIp(POISON)).length, 0, 'nothing for the poisoned IP');
  for (let i = 0; i < 386; i++) {
    if (i === POISON) continue;
    const states = eventsFor(sim, clientIp(i)).map((e) => e.state);
    t.is(states[0], 'connect', `IP ${i} starts with its connect`);
    if (Math.abs(i - POISON) <= 25 && i - POISON < 25) t.deepEqual(states, ['connect', 'disconnect'], `IP ${i}`);
  }
  t.is(await bridge.metric('ptim_bridge_forwarder_dead_lettered_total'), 2);
  const list = await runCli(['dlq', 'list', '--json', '--state', state]);
  const letters = JSON.parse(list.stdout) as Array<{ status: number; events: number; body: string }>;
  t.is(letters.length, 2, list.stdout);
  t.like(letters[0], { status: 400, events: 1 });
  t.regex(letters[1]!.body, /held back: an earlier event of 10\.20\.0\.200/);
  t.truthy(findEvent(bridge.logs(), 'batch-bisected'));
  t.is(await bridge.stop(), 0);
});
