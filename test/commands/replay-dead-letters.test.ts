import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot, runCli } from '../helpers/cli.js';
import { startSim } from '../delivery/sim-setup.js';

// A delivering replay whose events JIMS refuses must not exit 0 as if they were delivered.
test('replay: events JIMS refused (4xx) exit 1 with ERR_JIMS_REJECTED and wait in the dead-letter store', async (t) => {
  const { dir, jimsInput } = await startSim(t, {}, { next: { status: 400, count: 1000, route: 'events' } });
  const config = join(dir, 'ptim-bridge.yaml');
  const state = join(dir, 'state.db');
  writeFileSync(config, stringify({ jims: jimsInput }));
  const r = await runCli(['replay', '--config', config, '--state', state, join(repoRoot, 'fixtures', 'replay-kmd.log')]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /ERR_JIMS_REJECTED: JIMS refused 5 event\(s\).*dlq list/);
  const list = await runCli(['dlq', 'list', '--state', state, '--json']);
  t.is(list.code, 0, list.stderr);
  const letters = JSON.parse(list.stdout) as Array<{ status: number }>;
  t.true(letters.length > 0);
  t.true(letters.every((l) => l.status === 400));
});
