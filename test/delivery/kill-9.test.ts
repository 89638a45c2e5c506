import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../helpers/wait.js';
import { makeEvent } from './make-events.js';
import { startSim } from './sim-setup.js';

const childScript = fileURLToPath(new URL('./outbox-child.ts', import.meta.url));

interface Child {
  process: ChildProcess;
  lines: string[];
  send(line: string): void;
}

function startChild(t: import('ava').ExecutionContext, file: string, jims: Record<string, unknown>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, file, JSON.stringify(jims)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL') t.log(`child exited ${code ?? signal}: ${stderr}`);
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { process: child, lines, send: (line) => child.stdin!.write(`${line}\n`) };
}

function accepted(child: Child): number {
  let n = 0;
  for (const line of child.lines) {
    const m = /^accepted (\d+)$/.exec(line);
    if (m) n = Number(m[1]);
  }
  return n;
}

test('kill -9 while events are in flight and JIMS hangs; restart; every accepted event arrives', async (t) => {
  const { sim, dir, jimsInput } = await startSim(t, { batchSize: 100, concurrency: 4, timeoutMs: 120_000 });
  const file = join(dir, 'state.db');
  const first = startChild(t, file, jimsInput);
  await waitUntil(() => first.lines.includes('ready'), 30_000, 'child ready');

  // Some events go through while JIMS is healthy...
  first.send('add 0 500');
  await waitUntil(() => sim.events().unique >= 100, 30_000, 'first events at JIMS');
  // ...then JIMS stops answering: pushes stay in flight (no answer, no timeout before the kill).
  await sim.setBehaviour({ latencyMs: 600_000 });
  const requestsBefore = sim.stats().eventRequests;
  first.send('add 500 2500');
  await waitUntil(() => accepted(first) === 3000, 30_000, 'all accepted');
  await waitUntil(() => sim.stats().eventRequests > requestsBefore, 30_000, 'a push in flight to the hanging JIMS');
  const deliveredBeforeKill = sim.events().unique;
  t.true(deliveredBeforeKill < 3000, 'part of the events was still undelivered at the kill');

  const exited = new Promise((resolve) => first.process.on('exit', resolve));
  first.process.kill('SIGKILL');
  await exited;
  t.is(first.process.signalCode, 'SIGKILL');

  await sim.setBehaviour({ latencyMs: 0 });
  const second = startChild(t, file, jimsInput);
  await waitUntil(() => second.lines.includes('ready'), 30_000, 'restarted child ready');
  second.send('drain');
  await waitUntil(() => second.lines.includes('drained'), 60_000, 'drained after restart');

  const summary = sim.events();
  const ids = new Set(summary.events.map((e) => e.event.id));
  const missing: number[] = [];
  for (let i = 0; i < 3000; i++) if (!ids.has(makeEvent(i, 'connect').id)) missing.push(i);
  t.deepEqual(missing, [], 'none lost');
  t.log(`delivered before kill: ${deliveredBeforeKill}; received ${summary.received}, unique ${summary.unique}, duplicates ${summary.duplicates}`);
  second.process.stdin!.end();
});
