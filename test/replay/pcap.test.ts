import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ipv6Text, PcapParser, type PcapMessage } from '../../src/replay/pcap.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { pcap, pcapng, type TestPacket } from '../helpers/pcap-writer.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 2, 14, 9, 2, 11, 250);
const UP = readFileSync(join(repoRoot, 'fixtures', 'replay-iked.log'), 'utf8').split('\n')[1]!;

const packets: TestPacket[] = [
  { src: '192.0.2.10', payload: `${UP}\n`, timeMs: T0 },
  { src: '192.0.2.11', payload: '<14>Mar 14 09:02:12 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: x\u0000', timeMs: T0 + 1000, vlan: true },
  { src: '2001:db8:0:0:1::10', payload: UP.replace('srx-hq', 'srx-v6'), timeMs: T0 + 2000 },
  { src: '192.0.2.12', payload: 'tcp segment', timeMs: T0 + 3000, protocol: 'tcp' },
  { src: '192.0.2.13', payload: 'fragment', timeMs: T0 + 4000, fragment: true },
];

function parse(bytes: Buffer, chunk = bytes.length): { messages: PcapMessage[]; counts: PcapParser['counts'] } {
  const messages: PcapMessage[] = [];
  const p = new PcapParser((m) => messages.push({ ...m, data: Buffer.from(m.data) }));
  for (let i = 0; i < bytes.length; i += chunk) p.push(bytes.subarray(i, i + chunk));
  p.end();
  return { messages, counts: p.counts };
}

for (const [name, bytes] of [['pcap', pcap(packets)], ['pcap big-endian', pcap(packets, { bigEndian: true })], ['pcapng', pcapng(packets)]] as const) {
  test(`pcap: ${name}, whole and in 7-byte chunks`, (t) => {
    for (const chunk of [bytes.length, 7]) {
      const { messages, counts } = parse(bytes, chunk);
      t.deepEqual(counts, { packets: 5, udp: 3, skipped: 2, malformed: 0 });
      t.deepEqual(messages.map((m) => m.sender), ['192.0.2.10', '192.0.2.11', '2001:db8::1:0:0:10']);
      t.deepEqual(messages.map((m) => m.receivedAt), [T0, T0 + 1000, T0 + 2000]);
      t.is(messages[0]!.data.toString(), UP, 'trailing LF removed');
      t.true(messages[1]!.data.toString().endsWith(': x'), 'trailing NUL removed');
    }
  });
}

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
  t.regex(r.stderr, /packets: 5, syslog over UDP 3 .*skipped 2/);
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
