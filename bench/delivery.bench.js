// Delivery bench: outbox -> forwarder -> JIMS simulator over real HTTPS + OAuth2. Runs from dist/
// (npm run build). Prints `name: value unit` lines.
//   fill:  events/s queued into the SQLite outbox (transactions of 10,000), in a child process.
//   drain: a backlog of N events on disk (default 1,000,000) drained to the simulator, with the
//          RSS of the draining process sampled every 100 ms (the point: it stays flat).
//   live:  events/s from outbox.add (ticks of 1,000, forwarder running) to the simulator's 2xx.
//   paced: 1,000 events/s for 10 s; p50/p99 latency from outbox.add to the simulator's 2xx
//          (the delivery part of the end-to-end latency; lingerMs 20 is in it).
// The simulator runs in its own process so its bookkeeping (a count per event id) is not in the
// measured RSS. Config: the shipped defaults (batchSize 500, concurrency 4, lingerMs 20).
//   e2e:   when `run` delivers (bin/ptim-bridge.js run --jims-url ...): TCP syslog VPN-up lines
//          -> simulator 2xx, events/s, and p50/p99 latency at 1,000 events/s (send -> JIMS receipt).
// Env: BENCH_DELIVERY_N (backlog size, default 1000000), BENCH_DELIVERY_LIVE_N (default 200000),
// BENCH_DELIVERY_PACED_SECONDS (default 10), BENCH_DELIVERY_E2E_N (default 100000).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const PACED_SECONDS = Number(process.env.BENCH_DELIVERY_PACED_SECONDS ?? 10);
// Declared before main() runs below (a later `const` would still be in its temporal dead zone).
const E2E_N = Number(process.env.BENCH_DELIVERY_E2E_N ?? 100_000);
const [mode, ...args] = process.argv.slice(2);
if (mode === '--sim') await runSim();
else if (mode === '--fill') await runFill(args[0], Number(args[1]));
else await main();

/** Event n of a deterministic stream: 65,536 client IPs, connect/rekey/disconnect in turn. */
async function eventFactory() {
  const { eventId } = await import('../dist/events/ptim-event.js');
  const states = ['connect', 'rekey', 'disconnect'];
  const base = Date.UTC(2026, 2, 14, 9);
  return (n) => {
    const client = n & 0xffff;
    const round = n >>> 16;
    const e = {
      id: '',
      state: states[round % 3],
      user: `user${client}`,
      domain: 'corp.example',
      ip: `10.${(client >> 8) & 255}.${client & 255}.${1 + (round % 200)}`,
      time: new Date(base + n).toISOString(),
      device: 'srx-hq',
      sender: '192.0.2.10',
      vpn: 'ra-vpn',
      gateway: 'ra-gw',
      tunnelId: String(500000 + client),
      peer: '198.51.100.23',
      flags: [],
      pattern: 'junos-iked/vpn-up',
    };
    e.id = eventId(e);
    return e;
  };
}

async function runSim() {
  const { startJimsSim } = await import('../dist/jims-sim/server.js');
  const sim = await startJimsSim({ clientId: 'bench', clientSecret: 'bench-secret', maxKeptEvents: Number(args[0] ?? 1000) });
  process.stdout.write(`${JSON.stringify({ url: sim.url, ca: sim.ca })}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'count') process.stdout.write(`${JSON.stringify({ unique: sim.events().unique, received: sim.events().received })}\n`);
    if (line === 'cpu') process.stdout.write(`${JSON.stringify(process.cpuUsage())}\n`);
    if (line === 'arrivals') process.stdout.write(`${JSON.stringify(sim.events().events.map((e) => [e.event.ip, e.receivedAt]))}\n`);
  });
  process.stdin.on('end', () => void sim.close().then(() => process.exit(0)));
}

async function runFill(file, n) {
  const { openStateDb } = await import('../dist/state-db.js');
  const { Outbox } = await import('../dist/delivery/outbox.js');
  const make = await eventFactory();
  const db = openStateDb(file);
  const outbox = new Outbox(db);
  const started = performance.now();
  const chunk = 10_000;
  for (let i = 0; i < n; i += chunk) {
    const events = [];
    for (let k = i; k < Math.min(n, i + chunk); k++) events.push(make(k));
    db.transaction(() => outbox.add(events))();
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  process.stdout.write(`${JSON.stringify({ seconds })}\n`);
}

function child(argv) {
  const proc = spawn(process.execPath, [self, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  return { proc, next: () => new Promise((resolve) => waiting.push(resolve)), send: (line) => proc.stdin.write(`${line}\n`) };
}

async function main() {
  const n = Number(process.env.BENCH_DELIVERY_N ?? 1_000_000);
  const liveN = Number(process.env.BENCH_DELIVERY_LIVE_N ?? 200_000);
  const { validateConfig } = await import('../dist/config.js');
  const { openStateDb } = await import('../dist/state-db.js');
  const { Outbox } = await import('../dist/delivery/outbox.js');
  const { Forwarder } = await import('../dist/delivery/forwarder.js');
  const { createJimsClient } = await import('../dist/delivery/jims-client.js');
  const { silentLogger } = await import('../dist/log.js');
  const { Registry } = await import('prom-client');
  const make = await eventFactory();
  const dir = mkdtempSync(join(tmpdir(), 'ptim-bench-delivery-'));
  const sim = child(['--sim']);
  try {
    const { url, ca } = await sim.next();
    writeFileSync(join(dir, 'ca.pem'), ca);
    writeFileSync(join(dir, 'secret'), 'bench-secret\n');
    const jims = validateConfig({ jims: { url, clientId: 'bench', clientSecret: `file:${join(dir, 'secret')}`, ca: join(dir, 'ca.pem') } }).jims;
    const log = silentLogger();
    const simCount = async () => {
      sim.send('count');
      return sim.next();
    };
    // CPU time, unlike wall time, stays meaningful when other jobs share the cores.
    const simCpu = async () => {
      sim.send('cpu');
      const { user, system } = await sim.next();
      return user + system;
    };
    const ownCpu = () => {
      const { user, system } = process.cpuUsage();
      return user + system;
    };

    // 1. Fill a backlog of n events (in a child, so this process' heap never held them).
    const file = join(dir, 'state.db');
    const fill = child(['--fill', file, String(n)]);
    const { seconds: fillSeconds } = await fill.next();
    await new Promise((resolve) => fill.proc.on('exit', resolve));
    line('delivery.outbox_fill', Math.round(n / fillSeconds), 'events/s');

    // 2. Drain it, sampling RSS.
    {
      const registry = new Registry();
      const db = openStateDb(file);
      const outbox = new Outbox(db, { registry });
      const client = await createJimsClient(jims, { log, registry });
      const forwarder = new Forwarder({ outbox, client, jims, log, registry });
      const rssBefore = process.memoryUsage.rss();
      let peak = rssBefore;
      const started = performance.now();
      const cpuBefore = ownCpu();
      const simCpuBefore = await simCpu();
      let samples = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
        // BENCH_DELIVERY_TRACE=1: the RSS curve on stderr, to tell a plateau from a leak.
        if (process.env.BENCH_DELIVERY_TRACE && ++samples % 20 === 0) {
          const m = process.memoryUsage();
          process.stderr.write(`t=${((performance.now() - started) / 1000).toFixed(0)}s backlog=${outbox.backlog()} rss=${mb(m.rss)}MB heap=${mb(m.heapUsed)}/${mb(m.heapTotal)}MB external=${mb(m.external)}MB\n`);
        }
      }, 100);
      forwarder.start();
      await forwarder.drained();
      const seconds = (performance.now() - started) / 1000;
      const cpu = ownCpu() - cpuBefore;
      const simCpuUsed = (await simCpu()) - simCpuBefore;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage.rss());
      const at = await simCount();
      await forwarder.stop();
      client.close();
      db.close();
      line('delivery.backlog_events', n, 'events');
      line('delivery.backlog_drain', Math.round(n / seconds), 'events/s');
      line('delivery.backlog_drain_seconds', seconds.toFixed(1), 's');
      line('delivery.backlog_drain_bridge_cpu', (cpu / n).toFixed(1), 'us/event');
      line('delivery.backlog_drain_sim_cpu', (simCpuUsed / n).toFixed(1), 'us/event');
      line('delivery.backlog_rss_before', mb(rssBefore), 'MB');
      line('delivery.backlog_rss_peak', mb(peak), 'MB');
      line('delivery.backlog_sim_unique', at.unique, 'events');
    }

    // 3. Live: add in ticks while the forwarder runs; time until the simulator has them all.
    {
      const registry = new Registry();
      const db = openStateDb(join(dir, 'live.db'));
      const outbox = new Outbox(db, { registry });
      const client = await createJimsClient(jims, { log, registry });
      const forwarder = new Forwarder({ outbox, client, jims, log, registry });
      forwarder.start();
      const started = performance.now();
      for (let i = 0; i < liveN; i += 1000) {
        const events = [];
        for (let k = i; k < Math.min(liveN, i + 1000); k++) events.push(make(n + k));
        db.transaction(() => outbox.add(events))();
        forwarder.notify();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await forwarder.drained();
      const seconds = (performance.now() - started) / 1000;
      const latency = await registry.getSingleMetric('ptim_bridge_delivery_latency_seconds').get();
      await forwarder.stop();
      client.close();
      db.close();
      line('delivery.outbox_to_sim', Math.round(liveN / seconds), 'events/s');
      const p = (q) => quantile(latency.values.filter((v) => v.metricName.endsWith('_bucket')), q);
      line('delivery.outbox_to_sim_saturated_latency_p50_le', p(0.5), 'ms');
      line('delivery.outbox_to_sim_saturated_latency_p99_le', p(0.99), 'ms');
    }

    // 4. Paced: 1,000 events/s (10 every 10 ms) for PACED_SECONDS; latency from outbox.add to
    //    the simulator's 2xx, measured per event (the client is wrapped to see each answer).
    {
      const registry = new Registry();
      const db = openStateDb(join(dir, 'paced.db'));
      const outbox = new Outbox(db, { registry });
      const real = await createJimsClient(jims, { log, registry });
      const addedAt = new Map();
      const latencies = [];
      const client = {
        async push(events) {
          const outcome = await real.push(events);
          const now = performance.now();
          if (outcome.kind === 'delivered') for (const e of events) latencies.push(now - addedAt.get(e.id));
          return outcome;
        },
        close: () => real.close(),
      };
      const forwarder = new Forwarder({ outbox, client, jims, log, registry });
      forwarder.start();
      const total = PACED_SECONDS * 1000;
      const started = performance.now();
      let next = 0;
      while (next < total) {
        const due = Math.min(total, Math.floor((performance.now() - started) / 10) * 10 + 10);
        if (due > next) {
          const events = [];
          for (; next < due; next++) events.push(make(n + liveN + next));
          const at = performance.now();
          db.transaction(() => outbox.add(events))();
          for (const e of events) addedAt.set(e.id, at);
          forwarder.notify();
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await forwarder.drained();
      await forwarder.stop();
      client.close();
      db.close();
      latencies.sort((a, b) => a - b);
      const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
      line('delivery.paced_1000_per_s_events', latencies.length, 'events');
      line('delivery.paced_1000_per_s_latency_p50', at(0.5), 'ms');
      line('delivery.paced_1000_per_s_latency_p99', at(0.99), 'ms');
    }

    // 5. End to end through the real `run` process (when this build delivers): TCP syslog ->
    //    listeners -> patterns -> sessions -> outbox -> forwarder -> simulator 2xx.
    await endToEnd(dir);
  } finally {
    sim.proc.stdin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}


/** An iked VPN-up line (JUNOS-LOGS.md) for client n: its own address, user and tunnel. */
function vpnUp(n) {
  const ip = `172.${16 + ((n >> 16) & 15)}.${(n >> 8) & 255}.${n & 255}`;
  return `<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: ${100000 + n}, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: user${n}, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,${ip}-${ip}) , SA Type: dynamic\n`;
}

async function endToEnd(dir) {
  const { existsSync } = await import('node:fs');
  const { connect } = await import('node:net');
  const bin = fileURLToPath(new URL('../bin/ptim-bridge.js', import.meta.url));
  if (!existsSync(fileURLToPath(new URL('../dist/commands/run.js', import.meta.url)))) {
    line('delivery.e2e_tcp_to_sim', 'skipped', '(no run command in this build)');
    return;
  }
  const pacedN = PACED_SECONDS * 1000;
  const sim = child(['--sim', String(pacedN + 1000)]);
  const { url, ca } = await sim.next();
  writeFileSync(join(dir, 'e2e-ca.pem'), ca);
  const count = async () => {
    sim.send('count');
    return (await sim.next()).unique;
  };
  /** Waits until the simulator has `target` events; false when nothing new came for 30 s. */
  const reach = async (target) => {
    let last = -1;
    let lastChange = performance.now();
    for (;;) {
      const n = await count();
      if (n >= target) return true;
      if (n !== last) [last, lastChange] = [n, performance.now()];
      if (performance.now() - lastChange > 30_000) {
        line('delivery.e2e_stalled_at', n, `events (of ${target})`);
        return false;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const run = spawn(process.execPath, [bin, 'run', '--listen', 'tcp://127.0.0.1:0', '--allow-sender', '127.0.0.1', '--jims-url', url, '--jims-client-id', 'bench', '--jims-ca', join(dir, 'e2e-ca.pem'), '--state', join(dir, 'e2e.db')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PTIM_JIMS_CLIENT_SECRET: 'bench-secret' },
  });
  let output = '';
  const port = await new Promise((resolve) => {
    const look = (b) => {
      output += b.toString();
      const m = /"transport":"tcp".*?"port":(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    run.stdout.on('data', look);
    run.stderr.on('data', look);
    run.once('exit', () => resolve(undefined));
  });
  try {
    if (port === undefined) {
      line('delivery.e2e_tcp_to_sim', 'skipped', `(run does not deliver yet: ${output.trim().split('\n')[0]?.slice(0, 160)})`);
      return;
    }
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const write = (text) => (socket.write(text) ? undefined : new Promise((r) => socket.once('drain', r)));

    // Latency at 1,000 events/s: 10 lines every 10 ms; receipt at the simulator minus send time.
    // First, because the simulator keeps (with their receipt time) only the first events it sees.
    const sentAt = new Map();
    const first = 0;
    const t0 = performance.now();
    for (let next = 0; next < pacedN; ) {
      const due = Math.min(pacedN, Math.floor((performance.now() - t0) / 10) * 10 + 10);
      if (due > next) {
        let chunk = '';
        const now = Date.now();
        for (; next < due; next++) {
          chunk += vpnUp(first + next);
          sentAt.set(`172.${16 + (((first + next) >> 16) & 15)}.${((first + next) >> 8) & 255}.${(first + next) & 255}`, now);
        }
        await write(chunk);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    if (!(await reach(pacedN))) return;
    sim.send('arrivals');
    const arrivals = await sim.next();
    const latencies = arrivals.filter(([ip]) => sentAt.has(ip)).map(([ip, at]) => at - sentAt.get(ip)).sort((a, b) => a - b);
    const q = (x) => latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))];
    line('delivery.e2e_1000_per_s_events', latencies.length, 'events');
    line('delivery.e2e_1000_per_s_latency_p50', q(0.5), 'ms');
    line('delivery.e2e_1000_per_s_latency_p99', q(0.99), 'ms');

    // Throughput: E2E_N connects as fast as TCP takes them; timed until the simulator has all.
    const started = performance.now();
    for (let i = 0; i < E2E_N; i += 200) {
      let chunk = '';
      for (let k = i; k < Math.min(E2E_N, i + 200); k++) chunk += vpnUp(pacedN + k);
      await write(chunk);
    }
    if (!(await reach(pacedN + E2E_N))) return;
    line('delivery.e2e_tcp_to_sim', Math.round(E2E_N / ((performance.now() - started) / 1000)), 'events/s');

    socket.end();
  } finally {
    run.kill('SIGTERM');
    await new Promise((r) => (run.exitCode === null ? run.once('exit', r) : r()));
    sim.proc.stdin.end();
  }
}

/** Upper bound (bucket edge) of the q-quantile from cumulative histogram buckets, in ms. */
function quantile(buckets, q) {
  const total = buckets.find((b) => b.labels.le === '+Inf')?.value ?? 0;
  const hit = buckets.find((b) => b.value >= q * total);
  return hit?.labels.le === '+Inf' ? 'inf' : Math.round(Number(hit?.labels.le) * 1000);
}

function mb(bytes) {
  return Math.round(bytes / 1048576);
}

function line(name, value, unit) {
  process.stdout.write(`${name}: ${value} ${unit}\n`);
}
