// Session table figures (issue 4), from the compiled dist/: transitions/s with 100,000 live
// sessions, batched in transactions as the bridge does per tick, and the table's memory and size.
// Run: npm run build && node bench/sessions.bench.js   Output: `name: value unit` lines.
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../dist/config.js';
import { SessionTable } from '../dist/events/sessions.js';
import { openStateDb } from '../dist/state-db.js';

const LIVE = Number(process.env.BENCH_SESSIONS ?? 100_000);
const OPS = Number(process.env.BENCH_TRANSITIONS ?? 300_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const DEVICES = ['srx-hq', 'srx-dc', 'srx-branch1', 'srx-branch2'];
const T0 = Date.parse('2026-03-14T08:00:00.000Z');

const config = validateConfig({});

function ipOf(n) {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function candidate(n, line, at, tunnel = '1', user = `user${n}`) {
  return {
    line, user, domain: 'corp.example', ip: ipOf(n), time: new Date(at).toISOString(),
    device: DEVICES[n % DEVICES.length], sender: '192.0.2.10', vpn: 'ra-vpn', gateway: 'ra-gw',
    tunnelId: tunnel, peer: '198.51.100.23', flags: [], pattern: `junos-iked/vpn-${line}`,
  };
}

function fileSize(path) {
  let total = 0;
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) total += statSync(p).size;
  return total;
}

function mb(bytes) {
  return (bytes / 1024 / 1024).toFixed(1);
}

function run(clock) {
  const dir = mkdtempSync(join(tmpdir(), 'ptim-bench-sessions-'));
  try {
    const path = join(dir, 'state.db');
    const db = openStateDb(path);
    if (process.env.BENCH_CACHE_MB) db.pragma(`cache_size = -${Number(process.env.BENCH_CACHE_MB) * 1024}`);
    const table = new SessionTable({ db, config, clock });
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const heap0 = process.memoryUsage().heapUsed;

    // Fill: LIVE sessions over the first ~10 minutes of the capture.
    const fill = (from, to) => table.transaction(() => {
      for (let n = from; n < to; n++) table.apply(candidate(n, 'up', T0 + n * 5), T0 + n * 5);
    });
    const f0 = performance.now();
    for (let n = 0; n < LIVE; n += BATCH) fill(n, Math.min(LIVE, n + BATCH));
    const fillMs = performance.now() - f0;
    db.pragma('wal_checkpoint(TRUNCATE)');
    global.gc?.();
    const rss1 = process.memoryUsage().rss;
    const heap1 = process.memoryUsage().heapUsed;
    const dbBytes = fileSize(path);

    // Steady state: mostly rekeys, with disconnects, reconnects and another user taking an IP,
    // on random live keys; time moves forward so the capture clock (and its watch) runs too.
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    // Made as they are applied, not all up front: 300,000 candidates held at once would make the
    // collector's pauses the figure, not the table's.
    let at = T0 + LIVE * 5;
    const op = (i) => {
      const n = Math.floor(rand() * LIVE);
      const r = rand();
      at += 10;
      if (r < 0.8) return candidate(n, 'up', at);
      if (r < 0.9) return candidate(n, 'down', at);
      if (r < 0.95) return candidate(n, 'up', at, String(i));
      return candidate(n, 'up', at, String(i), `other${i}`);
    };
    let events = 0;
    const batch = (from, to) => {
      for (let i = from; i < to; i++) {
        const c = op(i);
        events += table.apply(c, Date.parse(c.time)).length;
      }
    };
    // The fast path: table.transaction() per batch (the bridge's tick, replay's chunk).
    const own = (from, to) => table.transaction(() => batch(from, to));
    const s0 = performance.now();
    const c0 = process.cpuUsage();
    // Each batch's time: a compaction runs a slice per transaction, so none should stand out.
    const batchMs = [];
    for (let i = 0; i < OPS; i += BATCH) {
      const b0 = performance.now();
      own(i, Math.min(OPS, i + BATCH));
      batchMs.push(performance.now() - b0);
    }
    const steadyMs = performance.now() - s0;
    batchMs.sort((a, b) => a - b);
    const cpu = process.cpuUsage(c0);
    const steadyCpuMs = (cpu.user + cpu.system) / 1000;
    const steadyEvents = events;
    const live = table.list().length;
    db.pragma('wal_checkpoint(TRUNCATE)');
    const dbSteadyBytes = fileSize(path);
    // A compaction in one go (table.compact(): tests, a tidy shutdown), for comparison with the slices.
    const k0 = performance.now();
    table.compact();
    const compactMs = performance.now() - k0;

    const r0 = performance.now();
    db.close();
    const db2 = openStateDb(path);
    const reopened = new SessionTable({ db: db2, config, clock });
    const reopenMs = performance.now() - r0;
    const reopenedCount = reopened.list().length;
    // The watch over the whole table: every session a day later, nothing rekeyed.
    const w0 = performance.now();
    const expired = reopened.transaction(() => reopened.expire(clock === 'wall' ? at + 86_400_000 : Infinity)).length;
    const watchMs = performance.now() - w0;

    console.log(`sessions.${clock}.fill: ${Math.round(LIVE / (fillMs / 1000))} connects/s`);
    console.log(`sessions.${clock}.transitions: ${Math.round(OPS / (steadyMs / 1000))} transitions/s`);
    console.log(`sessions.${clock}.transitions_per_cpu_second: ${Math.round(OPS / (steadyCpuMs / 1000))} transitions/s`);
    console.log(`sessions.${clock}.reopen: ${Math.round(reopenMs)} ms (${reopenedCount} sessions)`);
    console.log(`sessions.${clock}.live_during: ${live} sessions`);
    console.log(`sessions.${clock}.events_per_transition: ${(steadyEvents / OPS).toFixed(2)} events`);
    console.log(`sessions.${clock}.watch_expire: ${Math.round(expired / (watchMs / 1000))} expiries/s`);
    console.log(`sessions.${clock}.rss_delta: ${mb(rss1 - rss0)} MB`);
    console.log(`sessions.${clock}.heap_delta: ${mb(heap1 - heap0)} MB`);
    console.log(`sessions.${clock}.db_size: ${mb(dbBytes)} MB (after the fill)`);
    console.log(`sessions.${clock}.db_size_steady: ${mb(dbSteadyBytes)} MB (snapshot + journal after the transitions)`);
    console.log(`sessions.${clock}.batch_ms: median ${batchMs[Math.floor(batchMs.length / 2)].toFixed(1)}, p99 ${batchMs[Math.floor(batchMs.length * 0.99)].toFixed(1)}, max ${batchMs[batchMs.length - 1].toFixed(1)} ms per ${BATCH} transitions (sliced compactions included)`);
    console.log(`sessions.${clock}.compact_whole: ${Math.round(compactMs)} ms (${live} sessions, table.compact() in one go)`);
    db2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.argv[2];
if (only === undefined) {
  // One process per clock, so that each one's memory figures start from a clean heap.
  console.log(`sessions.setup: ${LIVE} live sessions, ${OPS} transitions, batch ${BATCH}, node ${process.version}, load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`);
  for (const clock of ['capture', 'wall']) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), clock], { stdio: 'inherit', env: process.env });
    if (r.status !== 0) process.exitCode = 1;
  }
} else {
  run(only);
}
