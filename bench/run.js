#!/usr/bin/env node
// Runs every bench/*.bench.js in its own process, one after another, and passes their output
// through. Each bench prints its figures as lines `name: value unit`. Run with `npm run bench`
// (builds dist/ first). Exit code: non-zero when any bench fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

let failed = 0;
for (const file of benches) {
  process.stdout.write(`# ${file}\n`);
  const before = cpuTimes();
  const r = spawnSync(process.execPath, [join(here, file)], { stdio: 'inherit' });
  const after = cpuTimes();
  // On a virtual machine, time the host gave to other guests ("steal") slows every figure without
  // showing in the load average: say how much of this bench's time the cores were away.
  if (before && after && after.total > before.total) {
    const share = (100 * (after.steal - before.steal)) / (after.total - before.total);
    process.stdout.write(`# ${file}: cpu steal ${share.toFixed(1)} % of the cores' time during the bench${share >= 5 ? ' (the host was busy: wall-time figures are low)' : ''}\n`);
  }
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`# ${file} failed (exit ${r.status ?? r.signal})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;

/** All cores' time and its steal part, in clock ticks, from /proc/stat; undefined where there is none. */
function cpuTimes() {
  if (!existsSync('/proc/stat')) return undefined;
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, steal: fields[7] ?? 0 };
}
