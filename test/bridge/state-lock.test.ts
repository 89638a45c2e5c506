import test from 'ava';
import { join } from 'node:path';
import { findEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

test('a second run on the same --state exits 1 with ERR_STATE_LOCKED naming the pid; after kill -9 of the first a new run takes over', async (t) => {
  const dir = tempDir(t, 'ptim-lock-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  const options = { dir, state, jimsUrl: sim.url, caFile };
  const first = await startBridgeProcess(t, options);
  const firstPid = first.child.pid!;

  const second = await startBridgeProcess(t, { ...options, waitReady: false });
  const { code } = await second.exit;
  t.is(code, 1, second.stderr());
  t.regex(second.stderr(), /ERR_STATE_LOCKED/);
  t.regex(second.stderr(), new RegExp(`in use by process ${firstPid}\\b`));
  t.regex(second.stderr(), /--state/, 'says what to do');
  t.notRegex(second.stderr(), /^\s+at /m, 'no stack trace');
  t.is(findEvent(second.logs(), 'ready'), undefined);

  // The first is untouched by the attempt: it still delivers.
  await first.send([vpnLine('up', 1)]);
  await waitUntil(() => eventsFor(sim, clientIp(1)).length === 1, 20_000, 'the first run delivering');

  await first.kill9();
  // The owner row still names the dead process; the next run sees it is gone and takes over.
  const third = await startBridgeProcess(t, options);
  await third.send([vpnLine('down', 1, 1)]);
  await waitUntil(() => eventsFor(sim, clientIp(1)).some((e) => e.state === 'disconnect'), 20_000, 'the new run delivering');
  // The connect may arrive twice (killed between JIMS' 2xx and the outbox delete: duplicates are allowed).
  const states = eventsFor(sim, clientIp(1)).map((e) => e.state);
  t.deepEqual([...new Set(states)], ['connect', 'disconnect'], 'the new run continued the session table (a disconnect, not an orphan)');
  const disconnect = eventsFor(sim, clientIp(1)).find((e) => e.state === 'disconnect')!;
  t.false((disconnect.flags as string[]).includes('orphan-disconnect'), 'the session survived the kill');
  t.deepEqual(sim.identities(), []);
  t.is(await third.stop(), 0, third.stderr());
});
