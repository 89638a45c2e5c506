import test, { type ExecutionContext } from 'ava';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JimsSim } from '../../src/jims-sim/server.js';
import { createTestCa } from '../helpers/test-ca.js';
import { findEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { startBridgeProcess, startSim } from './bridge-process.js';

/** Starts a simulator whose certificate the bridge must refuse; returns it and the CA file given as --jims-ca. */
type Setup = (t: ExecutionContext, dir: string) => Promise<{ sim: JimsSim; caFile: string }>;

async function refusedAtStart(t: ExecutionContext, setup: Setup, reason: RegExp): Promise<void> {
  const dir = tempDir(t, 'ptim-tls-');
  const { sim, caFile } = await setup(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile, waitReady: false });
  const { code } = await bridge.exit;
  const output = `${bridge.stdout()}\n${bridge.stderr()}`;
  t.log(`exit ${code}: ${bridge.stderr().trim()}`);
  t.is(code, 1, output);
  t.regex(bridge.stderr(), /ERR_JIMS_TLS/);
  t.regex(bridge.stderr(), reason);
  t.regex(bridge.stderr(), /--jims-ca|jims\.ca/, 'says what to do');
  t.notRegex(output, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
  t.is(findEvent(bridge.logs(), 'ready'), undefined);
  const stats = sim.stats();
  t.true(stats.tlsErrors > 0, 'the bridge did reach the simulator and refused its certificate');
  t.is(stats.tokenRequests + stats.eventRequests, 0, 'nothing was sent: no token request, no events');
  t.is(sim.events().received, 0);
}

test('run: a JIMS certificate not signed by --jims-ca stops the start with ERR_JIMS_TLS; nothing sent', refusedAtStart, async (t, dir) => {
  // The simulator is self-signed; the bridge trusts an unrelated CA.
  const { sim } = await startSim(t, dir, 'self-signed');
  const otherDir = join(dir, 'other-ca');
  mkdirSync(otherDir);
  return { sim, caFile: createTestCa(otherDir).caFile };
}, /SELF_SIGNED|unable to verify/);

test('run: a JIMS certificate for another host name stops the start with ERR_JIMS_TLS; nothing sent', refusedAtStart, async (t, dir) => {
  // Signed by the CA the bridge trusts, but for jims.example, not 127.0.0.1.
  const ca = createTestCa(dir);
  const { sim } = await startSim(t, dir, 'wrong-name', { tls: ca.issue(['jims.example'], 'wrong-name') });
  return { sim, caFile: ca.caFile };
}, /ALTNAME|altnames/);
