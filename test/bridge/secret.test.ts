import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { SECRET, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

test('the client secret (from PTIM_JIMS_CLIENT_SECRET) is never in the logs or the command line, through token refreshes and failures', async (t) => {
  const dir = tempDir(t, 'ptim-secret-');
  const { sim, caFile } = await startSim(t, dir);
  // Trace level: the most the bridge will ever say.
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile, logLevel: 'trace' });
  t.false(readFileSync(`/proc/${bridge.child.pid}/cmdline`, 'utf8').includes(SECRET), 'not in argv (ps)');

  await bridge.send([vpnLine('up', 1)]);
  await waitUntil(() => sim.events().unique === 1, 20_000, 'the first event');
  // A revoked token (401 -> token fetched again), then JIMS failing for a few pushes.
  sim.revokeTokens();
  await bridge.send([vpnLine('up', 2)]);
  await waitUntil(() => sim.events().unique === 2, 20_000, 'the event after the 401');
  t.true(sim.stats().tokensIssued >= 2, 'a token was fetched again');
  await sim.setBehaviour({ next: { status: 503, count: 3, route: 'any' } });
  await bridge.send([vpnLine('up', 3)]);
  await waitUntil(() => sim.events().unique === 3, 20_000, 'the event after the 503s');
  t.is(await bridge.stop(), 0, bridge.stderr());

  const output = `${bridge.stdout()}\n${bridge.stderr()}`;
  t.true(output.length > 0);
  t.false(output.includes(SECRET), 'not in stdout/stderr');
  t.false(output.includes(encodeURIComponent(SECRET)), 'not even URL-encoded');
});

test('a secret JIMS refuses: ERR_JIMS_AUTH at start, and the wrong secret is not printed either', async (t) => {
  const dir = tempDir(t, 'ptim-secret-');
  const { sim, caFile } = await startSim(t, dir);
  const wrong = 'Wr0ng-S3cret-77d0b2';
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile, env: { PTIM_JIMS_CLIENT_SECRET: wrong }, waitReady: false });
  const { code } = await bridge.exit;
  t.is(code, 1, bridge.stderr());
  t.regex(bridge.stderr(), /ERR_JIMS_AUTH/);
  t.false(`${bridge.stdout()}\n${bridge.stderr()}`.includes(wrong));
  t.is(sim.events().received, 0);
});

test('run --help names the PTIM_JIMS_CLIENT_SECRET environment variable and offers no secret flag', async (t) => {
  const r = await runCli(['run', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /PTIM_JIMS_CLIENT_SECRET/);
  t.notRegex(r.stdout, /--jims-client-secret|--secret/);
});
