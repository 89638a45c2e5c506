import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

/** A 4 MiB tmpfs at `dir` (root only; the CI machine runs as root). */
function mountSmallDisk(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Writes a filler file until the disk is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch {
    // ENOSPC: full. Then the last bytes, a block at a time smaller.
    for (let size = 32 * 1024; size >= 512; size /= 2) {
      try {
        for (;;) writeSync(fd, block, 0, size);
      } catch {
        // next size
      }
    }
  } finally {
    closeSync(fd);
  }
}

test('disk full under the state file: TCP senders wait, /healthz says unhealthy, nothing accepted is lost, and it recovers by itself when space returns', async (t) => {
  t.timeout(180_000);
  const dir = tempDir(t, 'ptim-diskfull-');
  const disk = join(dir, 'small');
  if (!mountSmallDisk(disk)) {
    t.log('SKIPPED: cannot mount a tmpfs here (not root?); the disk-full test needs one');
    t.pass();
    return;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', disk]);
    } catch {
      // already gone
    }
  });
  const { sim, caFile } = await startSim(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state: join(disk, 'state.db'), jimsUrl: sim.url, caFile });
  const healthz = bridge.metricsUrl.replace(/\/metrics$/, '/healthz');
  await bridge.send([vpnLine('up', 0)]);
  await waitUntil(() => eventsFor(sim, clientIp(0)).length === 1, 20_000, 'the first event delivered');
  t.is((await fetch(healthz)).status, 200);

  fill(join(disk, 'filler'));
  // 3,000 connects: far more than the WAL can take without growing.
  const lines = Array.from({ length: 3000 }, (_, i) => vpnLine('up', i + 1));
  const sending = bridge.send(lines);
  await waitUntil(() => bridge.logs().some((l) => l.event === 'state-unwritable'), 30_000, 'the failure logged');
  const sick = await fetch(healthz);
  t.is(sick.status, 503);
  t.like(await sick.json(), { ok: false, stateWritable: false });

  rmSync(join(disk, 'filler'));
  await waitUntil(() => bridge.logs().some((l) => l.event === 'state-writable'), 60_000, 'the recovery logged');
  await sending;
  // Every line reached JIMS, in order per IP: nothing the bridge accepted over TCP was lost.
  await waitUntil(() => lines.every((_, i) => eventsFor(sim, clientIp(i + 1)).length >= 1), 90_000, 'all 3,000 events delivered');
  t.is((await fetch(healthz)).status, 200);
  await waitUntil(async () => (await bridge.metric('ptim_bridge_outbox_backlog')) === 0, 30_000, 'the backlog gauge back to the empty outbox');
  t.is(await bridge.metric('ptim_bridge_intake_failed_total'), 0);
  t.is(await bridge.metric('ptim_bridge_intake_lost_total'), 0);
  // Logged once per episode, not once per retry.
  t.is(bridge.logs().filter((l) => l.event === 'state-unwritable').length, 1);
  t.is(await bridge.stop(), 0);
});
