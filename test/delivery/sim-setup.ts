import type { ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, type Config } from '../../src/config.js';
import type { BehaviourChange } from '../../src/jims-sim/behaviour.js';
import { startJimsSim, type JimsSim } from '../../src/jims-sim/server.js';
import { tempDir } from '../helpers/tmp.js';

export interface SimSetup {
  sim: JimsSim;
  dir: string;
  /** The `jims` config section pointing at the simulator (CA and secret files in `dir`). */
  jims: Config['jims'];
  /** The same as plain input, for a child process to validate again. */
  jimsInput: Record<string, unknown>;
}

/** A real HTTPS JIMS simulator on loopback port 0, closed when the test ends. */
export async function startSim(t: ExecutionContext, jims: Record<string, unknown> = {}, behaviour?: BehaviourChange): Promise<SimSetup> {
  const dir = tempDir(t, 'ptim-sim-');
  const sim = await startJimsSim({ clientId: 'bridge', clientSecret: 's3cret', behaviour });
  t.teardown(() => sim.close());
  writeFileSync(join(dir, 'jims-ca.pem'), sim.ca);
  writeFileSync(join(dir, 'secret'), 's3cret\n');
  const jimsInput = {
    url: sim.url,
    clientId: 'bridge',
    clientSecret: `file:${join(dir, 'secret')}`,
    ca: join(dir, 'jims-ca.pem'),
    retryMinDelayMs: 10,
    retryMaxDelayMs: 200,
    lingerMs: 0,
    ...jims,
  };
  return { sim, dir, jims: validateConfig({ jims: jimsInput }).jims, jimsInput };
}
