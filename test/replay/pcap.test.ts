import test from 'ava';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeOctetCounted } from '../../src/ingest/framing.js';
import { ipv6Text, PcapParser, type PcapMessage } from '../../src/replay/pcap.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { startTestListeners } from '../helpers/ingest.js';
import { pcap, pcapng, type TestPacket } from '../helpers/pcap-writer.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 2, 14, 9, 2, 11, 250);
const UP = readFileSync(join(repoRoot, 'fixtures', 'replay-iked.log'), 'utf8').split('\n')[1]!;
const UP2 = UP.replace('alice', 'bob').replaceAll('10.20.0.5', '10.20.0.6').replace('500011', '500012');

const packets: TestPacket[] = [
  { src: '192.0.2.10', payload: `${UP}\n`, timeMs: T0 },
  { src: '192.0.2.11', payload: '<14>Mar 14 09:02:12 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: x\u0000', timeMs: T0 + 1000, vlan: true },
  { src: '2001:db8:0:0:1::10', payload: UP.replace('srx-hq', 'srx-v6'), timeMs: T0 + 2000 },
  { src: '192.0.2.13', payload: 'fragment', timeMs: T0 + 4000, fragment: true },
];

function parse(bytes: Buffer, chunk = bytes.length, maxMessageBytes?: number, splitDatagramLines?: boolean): { messages: PcapMessage[]; counts: PcapParser['counts'] } {
  const messages: PcapMessage[] = [];
  const p = new PcapParser((m) => messages.push({ ...m, data: Buffer.from(m.data) }), { maxMessageBytes, splitDatagramLines });
  for (let i = 0; i < bytes.length; i += chunk) p.push(bytes.subarray(i, i + chunk));
  p.end();
  return { messages, counts: p.counts };
}

for (const [name, bytes] of [['pcap', pcap(packets)], ['pcap big-endian', pcap(packets, { bigEndian: true })], ['pcapng', pcapng(packets)]] as const) {
  test(`pcap: ${name}, whole and in 7-byte chunks`, (t) => {
    for (const chunk of [bytes.length, 7]) {
      const { messages, counts } = parse(bytes, chunk);
      t.like(counts, { packets: 4, udp: 3, messages: 3, skipped: 1, malformed: 0 });
      t.deepEqual(messages.map((m) => m.sender), ['192.0.2.10', '192.0.2.11', '2001:db8::1:0:0:10']);
      t.deepEqual(messages.map((m) => m.receivedAt), [T0, T0 + 1000, T0 + 2000]);
      t.is(messages[0]!.data.toString(), UP, 'trailing LF removed');
      t.true(messages[1]!.data.toString().endsWith(': x'), 'trailing NUL removed');
    }
  });
}

for (const split of [false, true]) {
  test(`pcap: a datagram with two lines gives what the live UDP listener gives (one splitter), limits.splitDatagramLines ${split}`, async (t) => {
    const payload = `${UP}\r\n${UP2}\n\u0000`;
    const live = await startTestListeners(t, ['udp://127.0.0.1:0'], { limits: { splitDatagramLines: split } });
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => socket.send(Buffer.from(payload), live.port('udp'), '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    socket.close();
    await live.waitMessages(split ? 2 : 1);
    const fromPcap = parse(pcap([{ src: '127.0.0.1', payload, timeMs: T0 }]), undefined, undefined, split);
    t.deepEqual(fromPcap.messages.map((m) => m.data.toString()), live.texts());
    t.deepEqual(live.texts(), split ? [UP, UP2] : [`${UP}\r\n${UP2}`]);
    t.like(fromPcap.counts, { udp: 1, messages: split ? 2 : 1 });
  });
}

test('pcap: a line over the limit in a split datagram is dropped and counted, the other kept (as live); unsplit, the datagram is the message', (t) => {
  const payload = `${'x'.repeat(2000)}\n${UP}`;
  const r = parse(pcap([{ src: '192.0.2.10', payload, timeMs: T0 }]), undefined, 1000, true);
  t.deepEqual(r.messages.map((m) => m.data.toString()), [UP]);
  t.is(r.counts.tooLong, 1);
  const whole = parse(pcap([{ src: '192.0.2.10', payload, timeMs: T0 }]), undefined, 1000);
  t.deepEqual(whole.messages, []);
  t.is(whole.counts.tooLong, 1);
});

test('pcap: TCP syslog is reassembled per stream and framed (octet counting, LF), Ethernet padding ignored', (t) => {
  const counted = encodeOctetCounted([UP, UP2]);
  const lines = Buffer.from(`${UP2}\n${UP}\n`);
  const tcp = (src: string, srcPort: number, seq: number, payload: Buffer | string, timeMs: number, flags?: TestPacket['flags']): TestPacket => ({ src, srcPort, seq, payload, timeMs, protocol: 'tcp', flags, padding: 6 });
  const capture = [
    tcp('192.0.2.20', 40001, 999, '', T0, { syn: true }),
    tcp('192.0.2.21', 40002, 4999, '', T0, { syn: true }),
    // Interleaved streams, one segment out of order.
    tcp('192.0.2.21', 40002, 5000, lines.subarray(0, 100), T0 + 1),
    tcp('192.0.2.20', 40001, 1000 + 300, counted.subarray(300), T0 + 3),
    tcp('192.0.2.20', 40001, 1000, counted.subarray(0, 300), T0 + 2),
    tcp('192.0.2.21', 40002, 5100, lines.subarray(100), T0 + 4),
    tcp('192.0.2.20', 40001, 1000 + counted.length, '', T0 + 5, { fin: true }),
  ];
  for (const bytes of [pcap(capture), pcapng(capture)]) {
    const r = parse(bytes, 13);
    t.deepEqual(r.messages.map((m) => [m.sender, m.transport, m.data.toString()]), [
      ['192.0.2.20', 'tcp', UP],
      ['192.0.2.20', 'tcp', UP2],
      ['192.0.2.21', 'tcp', UP2],
      ['192.0.2.21', 'tcp', UP],
    ]);
    t.like(r.counts.tcp, { streams: 2, gaps: 0, truncated: 0 });
    // A message's receipt time is that of the packet that completed it (the late segment filled the hole).
    t.deepEqual(r.messages.map((m) => m.receivedAt), [T0 + 2, T0 + 2, T0 + 4, T0 + 4]);
  }
});

test('pcap: truncated and garbage input is counted, never thrown', (t) => {
  const bytes = pcap(packets);
  t.is(parse(bytes.subarray(0, bytes.length - 5)).counts.malformed, 1);
  const garbage = Buffer.concat([bytes.subarray(0, 24), Buffer.alloc(16, 0xff)]);
  t.notThrows(() => parse(garbage));
  t.is(parse(garbage).counts.malformed, 1);
});

test('pcap: IPv6 text is RFC 5952', (t) => {
  const b = Buffer.alloc(16);
  t.is(ipv6Text(b), '::');
  b.writeUInt16BE(0x2001, 0);
  b.writeUInt16BE(0xdb8, 2);
  b.writeUInt16BE(1, 14);
  t.is(ipv6Text(b), '2001:db8::1');
  b.writeUInt16BE(5, 6);
  t.is(ipv6Text(b), '2001:db8:0:5::1');
});

test('replay: a packet capture (also gzipped) gives events with the packet sender and time', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'syslog.pcapng');
  writeFileSync(file, pcapng(packets));
  writeFileSync(join(dir, 'syslog.pcap.gz'), gzipSync(pcap(packets)));
  const [r, gz] = await Promise.all([runCli(['replay', '--dry-run', file]), runCli(['replay', '--dry-run', join(dir, 'syslog.pcap.gz')])]);
  t.is(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { sender: string; device: string; time: string; user: string });
  t.deepEqual(events.map((e) => [e.sender, e.device, e.user]), [['192.0.2.10', 'srx-hq', 'alice'], ['2001:db8::1:0:0:10', 'srx-v6', 'alice']]);
  t.is(events[0]!.time, '2026-03-14T09:02:11.000Z');
  t.regex(r.stderr, /packets: 4, UDP datagrams 3, TCP streams 0 \(0 segments\), syslog messages 3 .*skipped 1/);
  t.is(gz.stdout, r.stdout);
});

test('pcap: random bytes after a valid header never throw', async (t) => {
  const fc = (await import('fast-check')).default;
  const headers = [pcap([]), pcapng([])];
  fc.assert(
    fc.property(fc.constantFrom(...headers), fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 1, max: 64 }), (header, tail, chunk) => {
      parse(Buffer.concat([header, Buffer.from(tail)]), chunk);
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
