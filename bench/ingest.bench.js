// Ingest bench: messages/s through the listeners (framing, allow-list, limits, counters) to the
// onMessage callback. Runs from dist/ (npm run build). Prints `name: value unit` lines.
//   UDP: N datagrams over loopback with a credit window (the sender never has more than WINDOW
//        datagrams in flight), so the figure is the rate accepted without loss; loss is printed too.
//   TCP: N messages over 1 connection and over 10 connections, senders in a worker thread so the
//        receiving event loop is measured, not the sender.
//   run --dry-run: the real process (bin/ptim-bridge.js) fed over TCP (1 and 10 connections) with
//        a mix of 90 % flow-log noise and 10 % VPN up lines, timed until the last event is on its
//        stdout: listeners -> framing -> prefilter -> envelope -> match -> normalize -> NDJSON;
//        and with VPN lines only (the worst case: every message is parsed and printed), over TCP
//        and over UDP (with credits, as above, counted as events on stdout).
// Env: BENCH_INGEST_N (default 500000 per run).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const LINE = '<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.1.2.3/51234->198.51.100.7/443 0x0 junos-https 203.0.113.1/61234->198.51.100.7/443 0x0 source rule r1 N/A N/A 6 policy1 trust untrust 123456 N/A(N/A) ge-0/0/1.0 UNKNOWN UNKNOWN UNKNOWN N/A N/A -1 N/A';

// Stamped now: the live bridge refuses lines far from their receipt time (lineChecks.timeWindowSeconds).
const VPN_UP = `<30>${bsdNow()} srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic`;

/** The current time as an RFC 3164 stamp (`Dec  2 17:08:12`, UTC). */
function bsdNow() {
  const d = new Date();
  return `${d.toUTCString().slice(8, 11)} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
}

if (!isMainThread) {
  await sender(workerData);
} else {
  await main();
}

async function main() {
  const { startListeners } = await import('../dist/ingest/listeners.js');
  const { validateConfig } = await import('../dist/config.js');
  const { silentLogger } = await import('../dist/log.js');
  const { Registry } = await import('prom-client');
  const n = Number(process.env.BENCH_INGEST_N ?? 500_000);

  let received = 0;
  let onCount = () => {};
  const set = await startListeners({
    config: validateConfig({ listen: ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0'], senders: { allow: ['127.0.0.0/8'] }, limits: { maxConnectionsPerSender: 64 } }),
    onMessage: () => {
      received++;
      onCount();
    },
    log: silentLogger(),
    registry: new Registry(),
  });
  const udpPort = set.bound.find((b) => b.url.startsWith('udp:')).port;
  const tcpPort = set.bound.find((b) => b.url.startsWith('tcp:')).port;

  {
    received = 0;
    const r = await udpWithCredits(udpPort, n, 'noise', (report) => {
      onCount = () => report(received);
    });
    onCount = () => {};
    print('ingest_udp_msgs_per_s', r.rate, 'msg/s');
    print('ingest_udp_lost', r.lost, 'msgs');
  }

  for (const conns of [1, 10]) {
    received = 0;
    const total = Math.floor(n / conns) * conns;
    let resolveDone;
    const done = new Promise((r) => (resolveDone = r));
    onCount = () => {
      if (received === total) resolveDone();
    };
    const started = performance.now();
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind: 'tcp', port: tcpPort, n: total / conns, conns } });
    await done;
    const seconds = (performance.now() - started) / 1000;
    await worker.terminate();
    print(`ingest_tcp_${conns}conn_msgs_per_s`, Math.round(total / seconds), 'msg/s');
  }
  onCount = () => {};
  await set.close();

  for (const conns of [1, 10]) {
    const figure = await throughDryRun(Math.floor(n / conns) * conns, conns, 'mix');
    print(`run_dry_run_tcp_${conns}conn_msgs_per_s`, figure, 'msg/s');
  }
  // The worst case: every message is a VPN event (envelope, regex, normalize, JSON for each).
  const vpnOnly = Math.floor(n / 5);
  print('run_dry_run_tcp_1conn_vpn_only_msgs_per_s', await throughDryRun(vpnOnly, 1, 'vpn'), 'msg/s');
  const udp = await udpThroughDryRun(vpnOnly);
  print('run_dry_run_udp_vpn_only_msgs_per_s', udp.rate, 'msg/s');
  print('run_dry_run_udp_vpn_only_lost', udp.lost, 'msgs');
}

/**
 * UDP with credits: the sender (a worker) never has more than 1024 datagrams unanswered; the
 * receiver returns credit per 256 counted. `subscribe` installs a callback that gets the running
 * count of messages out. Returns messages/s (first send to last message out) and how many were lost.
 */
async function udpWithCredits(port, n, payload, subscribe) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind: 'udp', port, n, window: 1024, payload } });
  let credited = 0;
  let count = 0;
  let lastAt = 0;
  subscribe((c) => {
    count = c;
    lastAt = performance.now();
    if (count - credited >= 256) {
      worker.postMessage(count - credited);
      credited = count;
    }
  });
  await new Promise((resolve) => worker.once('message', resolve));
  const started = performance.now();
  await new Promise((resolve) => worker.once('message', resolve));
  // The tail: wait until all arrived, or until 500 ms pass without one (those were lost).
  while (count < n && performance.now() - Math.max(lastAt, started) < 500) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await worker.terminate();
  return { rate: Math.round(count / ((lastAt - started) / 1000)), lost: n - count };
}

/** Starts `run --dry-run` from dist on loopback port 0; resolves with the child and its bound ports. */
async function startDryRun(listen) {
  const bin = new URL('../bin/ptim-bridge.js', import.meta.url).pathname;
  // srx-hq bound to loopback (device binding); the duplicate check off, because the bench sends one
  // line over and over and must measure the full path for each (a real firewall's lines differ).
  const config = join(mkdtempSync(join(tmpdir(), 'ptim-ingest-bench-')), 'bridge.yaml');
  writeFileSync(config, JSON.stringify({ devices: { 'srx-hq': { senders: ['127.0.0.1'] } }, lineChecks: { duplicateWindowSeconds: 0 } }));
  const args = ['run', '--dry-run', '--config', config, '--allow-sender', '127.0.0.1', ...listen.flatMap((l) => ['--listen', l])];
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const ports = await new Promise((resolve, reject) => {
    const found = {};
    child.stderr.on('data', (b) => {
      err += b.toString();
      for (const m of err.matchAll(/"transport":"(\w+)".*?"port":(\d+)/g)) found[m[1]] = Number(m[2]);
      if (Object.keys(found).length === listen.length) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`run exited ${code}: ${err}`)));
  });
  return { child, ports };
}

async function stopDryRun(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** VPN lines over UDP through a real `run --dry-run` process, counted as events on its stdout. */
async function udpThroughDryRun(n) {
  const { child, ports } = await startDryRun(['udp://127.0.0.1:0']);
  const r = await udpWithCredits(ports.udp, n, 'vpn', (report) => {
    let lines = 0;
    child.stdout.on('data', (b) => {
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
      report(lines);
    });
  });
  await stopDryRun(child);
  return r;
}

/** Messages/s through a real `run --dry-run` process, from the first byte sent to the last event printed. */
async function throughDryRun(total, conns, mix) {
  const { child, ports } = await startDryRun(['tcp://127.0.0.1:0']);
  const port = ports.tcp;
  const expected = mix === 'vpn' ? total : total / 10;
  let lines = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  let lastLineAt = performance.now();
  child.stdout.on('data', (b) => {
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
    lastLineAt = performance.now();
    if (lines >= expected) resolveDone();
  });
  // Never hang: 5 s without output ends the run (the figure then counts what came out).
  const stall = setInterval(() => {
    if (performance.now() - lastLineAt > 5000) resolveDone();
  }, 500);
  const started = performance.now();
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind: 'tcp', port, n: total / conns, conns, mix } });
  await done;
  clearInterval(stall);
  const seconds = ((lines >= expected ? performance.now() : lastLineAt) - started) / 1000;
  await worker.terminate();
  await stopDryRun(child);
  if (lines < expected) process.stderr.write(`warning: ${expected - lines} of ${expected} events did not come out\n`);
  return Math.round((total * lines) / expected / seconds);
}

async function sender({ kind, port, n, window, conns }) {
  const payload = Buffer.from(workerData.payload === 'vpn' ? VPN_UP : LINE);
  if (kind === 'udp') {
    const s = createSocket('udp4');
    s.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    let credit = window;
    let wake = () => {};
    parentPort.on('message', (c) => {
      credit += c;
      wake();
    });
    parentPort.postMessage('start');
    for (let sent = 0; sent < n; ) {
      if (credit <= 0) {
        await new Promise((r) => (wake = r));
        continue;
      }
      const batch = Math.min(credit, n - sent, 64);
      await new Promise((r) => {
        let left = batch;
        for (let i = 0; i < batch; i++) s.send(payload, () => --left === 0 && r());
      });
      credit -= batch;
      sent += batch;
    }
    parentPort.postMessage('sent');
    return;
  }
  // TCP: each connection writes n LF-terminated lines in 64 KiB writes, honouring back-pressure.
  // With mix 'mix', every 10th line is a VPN up event (the same one: a rekey of one session each time), the rest flow-log noise.
  const group = workerData.mix === 'mix'
    ? Buffer.from(Array.from({ length: 10 }, (_, i) => `${i === 9 ? VPN_UP : LINE}\n`).join(''))
    : Buffer.from(`${workerData.mix === 'vpn' ? VPN_UP : LINE}\n`);
  const perGroup = workerData.mix === 'mix' ? 10 : 1;
  const groupsPerWrite = Math.floor(65536 / group.length);
  const perWrite = groupsPerWrite * perGroup;
  const block = Buffer.concat(Array.from({ length: groupsPerWrite }, () => group));
  await Promise.all(Array.from({ length: conns }, () => new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, async () => {
      let left = n;
      while (left > 0) {
        const k = Math.min(perWrite, left);
        const chunk = k === perWrite ? block : block.subarray(0, (k / perGroup) * group.length);
        left -= k;
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
      s.end(resolve);
    });
    s.on('error', reject);
  })));
}

function print(name, value, unit) {
  process.stdout.write(`${name}: ${value} ${unit}\n`);
}
