// Ingest bench: messages/s through the listeners (framing, allow-list, limits, counters) to the
// onMessage callback. Runs from dist/ (npm run build). Prints `name: value unit` lines.
//   UDP: N datagrams over loopback with a credit window (the sender never has more than WINDOW
//        datagrams in flight), so the figure is the rate accepted without loss; loss is printed too.
//   TCP: N messages over 1 connection and over 10 connections, senders in a worker thread so the
//        receiving event loop is measured, not the sender.
// Env: BENCH_INGEST_N (default 500000 per run).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const LINE = '<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.1.2.3/51234->198.51.100.7/443 0x0 junos-https 203.0.113.1/61234->198.51.100.7/443 0x0 source rule r1 N/A N/A 6 policy1 trust untrust 123456 N/A(N/A) ge-0/0/1.0 UNKNOWN UNKNOWN UNKNOWN N/A N/A -1 N/A';

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
    urls: ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0'],
    config: validateConfig({ limits: { maxConnectionsPerSender: 64 } }),
    allowSenders: ['127.0.0.0/8'],
    onMessage: () => {
      received++;
      onCount();
    },
    log: silentLogger(),
    registry: new Registry(),
  });
  const udpPort = set.bound.find((b) => b.url.startsWith('udp:')).port;
  const tcpPort = set.bound.find((b) => b.url.startsWith('tcp:')).port;

  // UDP with credits: the main thread returns a credit per 256 messages received.
  {
    received = 0;
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind: 'udp', port: udpPort, n, window: 1024 } });
    let credited = 0;
    onCount = () => {
      if (received - credited >= 256) {
        worker.postMessage(received - credited);
        credited = received;
      }
    };
    let lastAt = 0;
    const credit = onCount;
    onCount = () => {
      lastAt = performance.now();
      credit();
    };
    await new Promise((resolve) => worker.once('message', resolve));
    const started = performance.now();
    await new Promise((resolve) => worker.once('message', resolve));
    // The tail: wait until all arrived, or until 500 ms pass without one (those were lost).
    while (received < n && performance.now() - lastAt < 500) {
      worker.postMessage(n);
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (lastAt - started) / 1000;
    onCount = () => {};
    await worker.terminate();
    print('ingest_udp_msgs_per_s', Math.round(received / seconds), 'msg/s');
    print('ingest_udp_lost', n - received, 'msgs');
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
}

async function sender({ kind, port, n, window, conns }) {
  const payload = Buffer.from(LINE);
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
  const line = Buffer.from(`${LINE}\n`);
  const perWrite = Math.floor(65536 / line.length);
  const block = Buffer.concat(Array.from({ length: perWrite }, () => line));
  await Promise.all(Array.from({ length: conns }, () => new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, async () => {
      let left = n;
      while (left > 0) {
        const k = Math.min(perWrite, left);
        const chunk = k === perWrite ? block : block.subarray(0, k * line.length);
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
