import test from 'ava';
import { execSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Registry } from 'prom-client';
import { validateConfig } from '../../src/config.js';
import { encodeOctetCounted } from '../../src/ingest/framing.js';
import { startListeners } from '../../src/ingest/listeners.js';
import { silentLogger } from '../../src/log.js';
import { testCerts } from '../helpers/certs.js';
import { startTestListeners } from '../helpers/ingest.js';
import { waitUntil } from '../helpers/wait.js';

const LINE = '<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up.';

function sendUdp(port: number, payload: Buffer | string, address = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    s.send(typeof payload === 'string' ? Buffer.from(payload) : payload, port, address, (error) => {
      s.close();
      if (error) reject(error);
      else resolve();
    });
  });
}

function tcpConnect(port: number, options: { localAddress?: string; host?: string } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed && s.closed) resolve();
    else s.once('close', () => resolve());
  });
}

test('udp: one message per datagram (RFC 5426), trailing CR, LF and NUL dropped, a line break inside kept for the field checks', async (t) => {
  const l = await startTestListeners(t, ['udp://127.0.0.1:0']);
  await sendUdp(l.port('udp'), LINE);
  await sendUdp(l.port('udp'), `<30>a\r\n<30>b\n\n<30>c\r\n\u0000`);
  await sendUdp(l.port('udp'), '\n\r\n');
  await sendUdp(l.port('udp'), '<30>last');
  await l.waitMessages(3);
  t.deepEqual(l.texts(), [LINE, '<30>a\r\n<30>b\n\n<30>c', '<30>last']);
  t.like(l.messages[0], { sender: '127.0.0.1', transport: 'udp' });
});

test('udp: with limits.splitDatagramLines a datagram is split on LF (relays that pack lines), CRLF stripped', async (t) => {
  const l = await startTestListeners(t, ['udp://127.0.0.1:0'], { limits: { splitDatagramLines: true } });
  await sendUdp(l.port('udp'), LINE);
  await sendUdp(l.port('udp'), `<30>a\r\n<30>b\n\n<30>c`);
  await l.waitMessages(4);
  t.deepEqual(l.texts(), [LINE, '<30>a', '<30>b', '<30>c']);
});

test('tcp: with limits.requireOctetCounting an LF-framed connection is closed as bad-framing; counted frames keep a newline inside the message', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], { limits: { requireOctetCounting: true } });
  const port = l.port('tcp');
  const lf = await tcpConnect(port);
  lf.on('error', () => {});
  lf.write('<30>a line\n<30>x\n');
  await closed(lf);
  await waitUntil(async () => (await l.dropped('tcp', 'bad-framing')) === 1);
  const counted = await tcpConnect(port);
  counted.end(encodeOctetCounted(['<30>one\n<30>forged']));
  await l.waitMessages(1);
  t.deepEqual(l.texts(), ['<30>one\n<30>forged']);
});

test('udp: a 65,507-byte datagram arrives whole; one over the limit is dropped and counted', async (t) => {
  const l = await startTestListeners(t, ['udp://127.0.0.1:0']);
  const big = Buffer.alloc(65_507, 'x');
  big.write('<30>', 0);
  await sendUdp(l.port('udp'), big);
  await l.waitMessages(1);
  t.is(l.messages[0]!.data.length, 65_507);

  const small = await startTestListeners(t, ['udp://127.0.0.1:0'], { limits: { maxMessageBytes: 1000 } });
  await sendUdp(small.port('udp'), big);
  await sendUdp(small.port('udp'), '<30>after');
  await small.waitMessages(1);
  t.deepEqual(small.texts(), ['<30>after']);
  t.is(await small.dropped('udp', 'too-long'), 1);
});

test('udp: datagrams from senders outside the allow-list are dropped and counted', async (t) => {
  const l = await startTestListeners(t, ['udp://127.0.0.1:0'], {}, { allowSenders: ['127.0.0.2/32'] });
  await sendUdp(l.port('udp'), '<30>forged');
  await waitUntil(async () => (await l.dropped('udp', 'sender-denied')) === 1);
  t.is(l.messages.length, 0);
});

test('udp and tcp over IPv6 loopback (IPv4-mapped peers are unwrapped: see allow-list tests)', async (t) => {
  const l = await startTestListeners(t, ['udp://[::1]:0', 'tcp://[::1]:0']);
  t.regex(l.set.bound[0]!.url, /^udp:\/\/\[::1\]:\d+$/);
  await sendUdp(l.port('udp'), '<30>v6', '::1');
  const s = await tcpConnect(l.port('tcp'), { host: '::1' });
  s.end('<30>v6 tcp\n');
  await l.waitMessages(2);
  t.deepEqual(l.messages.map((m) => m.sender), ['::1', '::1']);
});

test('tcp: octet counting and non-transparent framing, written byte by byte', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0']);
  const counted = await tcpConnect(l.port('tcp'));
  const lines = await tcpConnect(l.port('tcp'));
  const a = encodeOctetCounted(['<30>one', '<30>two\nwith LF']);
  const b = Buffer.from('<30>three\r\n<30>four\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) counted.write(a.subarray(i, i + 1));
    if (i < b.length) lines.write(b.subarray(i, i + 1));
  }
  counted.end();
  lines.end();
  await l.waitMessages(4);
  t.deepEqual(l.texts().sort(), ['<30>four', '<30>one', '<30>three', '<30>two\nwith LF']);
  t.true(l.messages.every((m) => m.transport === 'tcp' && m.sender === '127.0.0.1'));
});

test('tcp: sender outside the allow-list is refused at connect', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], {}, { allowSenders: ['127.0.0.2'] });
  const s = connect({ port: l.port('tcp'), host: '127.0.0.1' });
  s.on('error', () => {});
  s.write('<30>forged\n');
  await closed(s);
  await waitUntil(async () => (await l.dropped('tcp', 'sender-denied')) === 1);
  const good = await tcpConnect(l.port('tcp'), { localAddress: '127.0.0.2' });
  good.end('<30>allowed\n');
  await l.waitMessages(1);
  t.deepEqual(l.texts(), ['<30>allowed']);
  t.is(l.messages[0]!.sender, '127.0.0.2');
});

test('tcp bad input: garbage, 99999999999, short frame then close, broken octet framing; good senders still served', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0']);
  const port = l.port('tcp');

  const huge = await tcpConnect(port);
  huge.on('error', () => {});
  huge.write('99999999999 <30>x');
  await closed(huge);
  t.is(await l.dropped('tcp', 'too-long'), 1);

  const short = await tcpConnect(port);
  short.end('100 <30>only a few bytes');
  await closed(short);
  await waitUntil(async () => (await l.dropped('tcp', 'truncated')) === 1);

  const broken = await tcpConnect(port);
  broken.on('error', () => {});
  broken.write(encodeOctetCounted(['<30>first']));
  broken.write('garbage that is not a count\n');
  await closed(broken);
  await waitUntil(async () => (await l.dropped('tcp', 'bad-framing')) === 1);

  const garbage = await tcpConnect(port);
  const bytes = Buffer.alloc(200_000);
  // Every byte value but the trailers (LF, NUL), so it is one run longer than the limit.
  for (let i = 0; i < bytes.length; i++) {
    const v = (i * 7919 + 13) % 256;
    bytes[i] = v === 0x0a || v === 0x00 ? 0x41 : v;
  }
  garbage.write(bytes);
  garbage.end('\n<30>after garbage\n');

  const good = await tcpConnect(port);
  good.end('<30>good\n');
  await waitUntil(() => l.texts().includes('<30>good') && l.texts().includes('<30>after garbage'));
  t.true(l.texts().includes('<30>first'));
  t.true((await l.dropped('tcp', 'too-long')) >= 2, 'the garbage run over 64 KiB is dropped as too long');
});

test('tcp: a sender that resets mid-frame is counted as socket-error; the listener carries on', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0']);
  const s = await tcpConnect(l.port('tcp'));
  s.write('<30>complete\n<30>half a fra');
  await l.waitMessages(1);
  s.resetAndDestroy();
  await waitUntil(async () => (await l.dropped('tcp', 'socket-error')) === 1);
  const good = await tcpConnect(l.port('tcp'));
  good.end('<30>next\n');
  await l.waitMessages(2);
  t.deepEqual(l.texts(), ['<30>complete', '<30>next']);
});

test('tcp: a half-open connection that never sends is closed after the idle timeout', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], { limits: { idleTimeoutSeconds: 1 } });
  const silent = await tcpConnect(l.port('tcp'));
  await closed(silent);
  t.is(await l.dropped('tcp', 'idle-timeout'), 1);
});

test('tcp: 10,000 connections at once; per-sender limit holds and other senders are still served', async (t) => {
  t.timeout(90_000);
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], { limits: { maxConnections: 200, maxConnectionsPerSender: 100 } });
  const port = l.port('tcp');
  const gauge = async () => (await l.registry.getSingleMetric('ptim_bridge_ingest_connections')!.get()).values[0]?.value ?? 0;
  let maxSeen = 0;
  const sampler = setInterval(() => void gauge().then((v) => (maxSeen = Math.max(maxSeen, v))), 5);
  t.teardown(() => clearInterval(sampler));
  // Both ends live in this process: 10,000 client sockets need an fd limit above ~10,300. Where the
  // limit is lower (a CI container at 1024), the flood shrinks to fit and says so.
  const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()) || Number.POSITIVE_INFINITY;
  const floodSize = Math.min(10_000, Math.floor((fdLimit - 400) * 0.9));
  if (floodSize < 10_000) t.log(`fd limit ${fdLimit}: flooding with ${floodSize} connections instead of 10,000`);
  const flood: Socket[] = [];
  for (let i = 0; i < floodSize; i++) {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    flood.push(s);
  }
  t.teardown(() => flood.forEach((s) => s.destroy()));
  // Exact totals are not asserted: with 10,000 SYNs against a 4,096 backlog the kernel itself
  // drops some handshakes (retried with backoff, seconds later under load). What must hold: the
  // cap is never exceeded, refusals are counted, and another sender is served during the flood.
  await waitUntil(async () => (await gauge()) === 100 && (await l.dropped('tcp', 'evicted')) >= Math.min(1_000, floodSize - 100), 60_000, 'the cap reached and evictions counted');
  const good = await tcpConnect(port, { localAddress: '127.0.0.2' });
  good.end('<30>good during flood\n');
  await l.waitMessages(1);
  t.deepEqual(l.texts(), ['<30>good during flood']);
  t.log(`evicted so far: ${await l.dropped('tcp', 'evicted')}`);
  flood.forEach((s) => s.destroy());
  await waitUntil(async () => (await gauge()) === 0, 30_000, 'flood connections closed');
  clearInterval(sampler);
  t.true(maxSeen <= 101, `at most 100 flood connections + the good one were open (saw ${maxSeen})`);
});

test('tcp: at maxConnections a newcomer is served and the connection longest without a message is evicted', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], { limits: { maxConnections: 3 } });
  const gauge = async () => (await l.registry.getSingleMetric('ptim_bridge_ingest_connections')!.get()).values[0]?.value ?? 0;
  const silent = await tcpConnect(l.port('tcp'));
  const active = await Promise.all([1, 2].map(() => tcpConnect(l.port('tcp'))));
  t.teardown(() => [silent, ...active].forEach((s) => s.destroy()));
  active.forEach((s, i) => s.write(`<30>active ${i}\n`));
  await l.waitMessages(2);
  await waitUntil(async () => (await gauge()) === 3);
  const extra = await tcpConnect(l.port('tcp'));
  extra.end('<30>newcomer served\n');
  await closed(silent);
  await l.waitMessages(3);
  t.true(l.texts().includes('<30>newcomer served'));
  t.is(await l.dropped('tcp', 'evicted'), 1);
  // The active ones were kept.
  active[0]!.end('<30>still served\n');
  await l.waitMessages(4);
});

test('tcp: 200 trickling connections from one allowed address cannot keep another sender out, and each trickled message is closed as slow-frame', async (t) => {
  t.timeout(60_000);
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], { limits: { maxConnections: 200, maxConnectionsPerSender: 200, frameTimeoutSeconds: 2 } });
  const port = l.port('tcp');
  // Trickling: a byte of a message that never ends, every 300 ms, on every connection.
  const tricklers: Socket[] = [];
  for (let i = 0; i < 200; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    s.on('error', () => {});
    tricklers.push(s);
  }
  const drip = setInterval(() => tricklers.forEach((s) => !s.destroyed && s.write('x')), 300);
  t.teardown(() => {
    clearInterval(drip);
    tricklers.forEach((s) => s.destroy());
  });
  await waitUntil(async () => ((await l.registry.getSingleMetric('ptim_bridge_ingest_connections')!.get()).values[0]?.value ?? 0) === 200, 20_000, 'the limit filled by tricklers');
  // A firewall connects while the limit is full: served at once (a trickler is evicted for it).
  const firewall = await tcpConnect(port, { localAddress: '127.0.0.3' });
  firewall.write('<30>firewall line 1\n');
  await l.waitMessages(1);
  t.is(await l.dropped('tcp', 'evicted'), 1);
  // Within the frame timeout every trickler is closed; the firewall, which finishes its lines, is not.
  await waitUntil(async () => (await l.dropped('tcp', 'slow-frame')) === 199, 20_000, 'tricklers closed as slow-frame');
  firewall.end('<30>firewall line 2\n');
  await l.waitMessages(2);
  t.deepEqual(l.texts(), ['<30>firewall line 1', '<30>firewall line 2']);
});

test('tcp: a quiet connection stays open (no idle timeout by default) and has TCP keepalive on', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], {});
  const quiet = await tcpConnect(l.port('tcp'));
  t.teardown(() => quiet.destroy());
  const local = quiet.localPort;
  await new Promise((r) => setTimeout(r, 1500));
  t.false(quiet.destroyed);
  // The kernel shows the server side's keepalive timer (ss -o): the socket whose peer is our port.
  const ss = execSync(`ss -tnoH state established '( dport = :${local} )'`, { shell: '/bin/sh' }).toString();
  t.regex(ss, /timer:\(keepalive/, ss);
  quiet.end('<30>after a quiet spell\n');
  await l.waitMessages(1);
});

test('tcp: oversized non-transparent frame is dropped and the stream resynchronises', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0'], { limits: { maxMessageBytes: 1000 } });
  const s = await tcpConnect(l.port('tcp'));
  s.write(`<30>${'y'.repeat(5000)}\n`);
  s.end('<30>next\n');
  await l.waitMessages(1);
  t.deepEqual(l.texts(), ['<30>next']);
  t.is(await l.dropped('tcp', 'too-long'), 1);
});

test('pause()/resume(): TCP is not read while paused (UDP still is); close() resumes to deliver what is in hand', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0', 'udp://127.0.0.1:0']);
  const before = await tcpConnect(l.port('tcp'));
  l.set.pause();
  before.write('<30>tcp while paused\n');
  const after = await tcpConnect(l.port('tcp'));
  after.write('<30>tcp on a connection opened while paused\n');
  await sendUdp(l.port('udp'), '<30>udp marker');
  await l.waitMessages(1);
  t.deepEqual(l.texts(), ['<30>udp marker']);
  l.set.resume();
  await l.waitMessages(3);
  l.set.pause();
  before.write('<30>in hand at close\n');
  before.on('end', () => before.end());
  after.on('end', () => after.end());
  await l.set.close();
  t.deepEqual(l.texts().slice(1).sort(), ['<30>in hand at close', '<30>tcp on a connection opened while paused', '<30>tcp while paused']);
});

test('close(): stops accepting, delivers what the sender already wrote, ends connections', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0']);
  const s = await tcpConnect(l.port('tcp'));
  s.on('error', () => {});
  s.write('<30>in hand 1\n<30>in hand 2\n<30>no trailer yet');
  s.on('end', () => s.end());
  await l.waitMessages(2);
  await l.set.close();
  t.deepEqual(l.texts(), ['<30>in hand 1', '<30>in hand 2', '<30>no trailer yet']);
  const again = connect({ port: l.port('tcp'), host: '127.0.0.1' });
  const error = await new Promise<NodeJS.ErrnoException>((resolve) => again.once('error', resolve));
  t.is(error.code, 'ECONNREFUSED');
});

test('tls: frames over TLS; mutual TLS refuses a client without a certificate or with an unknown CA', async (t) => {
  const certs = await testCerts();
  const l = await startTestListeners(t, ['tls://127.0.0.1:0'], { tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert } });
  const port = l.port('tls');
  const good = tlsConnect({ port, host: '127.0.0.1', ca: certs.pem.ca, cert: certs.pem.clientCert, key: certs.pem.clientKey, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => good.once('secureConnect', resolve).once('error', reject));
  good.end(encodeOctetCounted(['<30>over tls']));
  await l.waitMessages(1);
  t.like(l.messages[0], { transport: 'tls', sender: '127.0.0.1' });

  for (const options of [{}, { cert: (await import('node:fs')).readFileSync(certs.otherClientCert), key: (await import('node:fs')).readFileSync(certs.otherClientKey) }]) {
    const bad = tlsConnect({ port, host: '127.0.0.1', ca: certs.pem.ca, servername: 'localhost', ...options });
    bad.on('error', () => {});
    bad.write('<30>forged\n');
    await new Promise<void>((resolve) => bad.once('close', () => resolve()));
  }
  await waitUntil(async () => (await l.dropped('tls', 'tls-handshake')) === 2);
  t.is(l.messages.length, 1);
  await waitUntil(async () => ((await l.registry.getSingleMetric('ptim_bridge_ingest_connections')!.get()).values[0]?.value ?? 0) === 0, 10_000, 'connections released');
});

test('tls: a connection that never finishes the handshake is closed after the frame timeout (slow-frame)', async (t) => {
  const certs = await testCerts();
  const l = await startTestListeners(t, ['tls://127.0.0.1:0'], { limits: { frameTimeoutSeconds: 1 }, tls: { cert: certs.serverCert, key: certs.serverKey } });
  const silent = await tcpConnect(l.port('tls'));
  await closed(silent);
  await waitUntil(async () => (await l.dropped('tls', 'slow-frame')) === 1);
  t.pass();
});

test('tls close(): delivers what the sender already wrote, including a last line without trailer', async (t) => {
  const certs = await testCerts();
  const l = await startTestListeners(t, ['tls://127.0.0.1:0'], { tls: { cert: certs.serverCert, key: certs.serverKey } });
  const s = tlsConnect({ port: l.port('tls'), host: '127.0.0.1', ca: certs.pem.ca, servername: 'localhost' });
  s.on('error', () => {});
  await new Promise((resolve) => s.once('secureConnect', resolve));
  s.on('end', () => s.end());
  s.write('<30>a\n<30>b');
  await l.waitMessages(1);
  await l.set.close();
  t.deepEqual(l.texts(), ['<30>a', '<30>b']);
});

test('startListeners: configuration errors say what to do', async (t) => {
  const base = { onMessage: () => {}, log: silentLogger(), registry: new Registry() };
  // Not through validateConfig: --listen values reach the listeners unchecked by the schema.
  const config = (listen: string[], senders: { allowAny: boolean }, tls = {}) => ({ ...validateConfig({ tls }), listen, senders: { allow: [], allowAny: senders.allowAny, allowUnboundDevices: false } });
  const any = { allowAny: true };
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p)) as { code?: string }).code;
  t.is(await code(startListeners({ ...base, config: config([], any) })), 'ERR_CONFIG_INVALID');
  t.is(await code(startListeners({ ...base, config: config(['tcp://127.0.0.1:0'], { allowAny: false }) })), 'ERR_CONFIG_INVALID');
  t.is(await code(startListeners({ ...base, config: config(['tls://127.0.0.1:0'], any) })), 'ERR_CONFIG_INVALID');
  t.is(await code(startListeners({ ...base, config: config(['tcp://127.0.0.1'], any) })), 'ERR_LISTEN_URL_INVALID');
  t.is(await code(startListeners({ ...base, config: config(['tls://127.0.0.1:0'], any, { cert: '/nonexistent.pem', key: '/nonexistent.key' }) })), 'ERR_CONFIG_INVALID');
  const first = await startListeners({ ...base, config: config(['tcp://127.0.0.1:0'], any) });
  t.teardown(() => first.close());
  t.is(await code(startListeners({ ...base, config: config(['udp://127.0.0.1:0', `tcp://127.0.0.1:${first.bound[0]!.port}`], any) })), 'ERR_LISTEN_FAILED');
});
