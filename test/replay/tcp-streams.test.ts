import test from 'ava';
import fc from 'fast-check';
import { encodeNonTransparent, encodeOctetCounted } from '../../src/ingest/framing.js';
import { TcpStreams, type TcpSegment } from '../../src/replay/tcp-streams.js';

const MSGS = ['<30>one IKE_VPN_UP_ALARM_USER: a', '<30>two IKE_VPN_UP_ALARM_USER: b', '<30>three IKE_VPN_DOWN_ALARM_USER: c, Reason: x'];
const ISN = 0xfffffff0; // sequence numbers wrap inside the stream

function seg(seq: number, payload: Buffer | string, extra: Partial<TcpSegment> = {}): TcpSegment {
  return { src: '192.0.2.10', srcPort: 40000, dst: '192.0.2.1', dstPort: 514, seq: seq >>> 0, syn: false, fin: false, rst: false, payload: Buffer.from(payload), time: 1000, ...extra };
}

/** A stream's bytes as segments of `size` after a SYN, then a FIN. */
function stream(bytes: Buffer, size: number, options: { fin?: boolean } = {}): TcpSegment[] {
  const out = [seg(ISN, '', { syn: true })];
  for (let i = 0; i < bytes.length; i += size) out.push(seg(ISN + 1 + i, bytes.subarray(i, i + size), { time: 1000 + i }));
  if (options.fin !== false) out.push(seg(ISN + 1 + bytes.length, '', { fin: true }));
  return out;
}

function run(segments: readonly TcpSegment[], maxMessageBytes = 4096) {
  const messages: string[] = [];
  const s = new TcpStreams((m) => messages.push(m.data.toString()), { maxMessageBytes });
  for (const x of segments) s.segment(x);
  s.end();
  return { messages, counts: s.counts };
}

for (const [name, bytes] of [['LF framing', encodeNonTransparent(MSGS)], ['octet counting', encodeOctetCounted(MSGS)]] as const) {
  test(`tcp: ${name}, any segment size, across the sequence-number wrap`, (t) => {
    for (const size of [1, 3, 7, 50, 1000]) {
      const r = run(stream(bytes, size));
      t.deepEqual(r.messages, MSGS, `size ${size}`);
      t.like(r.counts, { streams: 1, gaps: 0, truncated: 0, badFraming: 0, midstream: 0 });
    }
  });

  test(`tcp: ${name}, segments reordered and retransmitted give the same messages`, (t) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 10 }), (size, swaps, dups) => {
        const all = stream(bytes, size);
        const data = all.slice(1, -1);
        // Reorder within a small window (a capture sees near-order), then repeat some (retransmits).
        for (const s of swaps) {
          const i = s % data.length;
          const j = Math.min(data.length - 1, i + 1 + (s % 3));
          [data[i], data[j]] = [data[j]!, data[i]!];
        }
        for (const d of dups) data.splice(d % (data.length + 1), 0, data[d % data.length]!);
        const r = run([all[0]!, ...data, all.at(-1)!]);
        return JSON.stringify(r.messages) === JSON.stringify(MSGS) && r.counts.gaps === 0;
      }),
      { numRuns: 300 },
    );
    t.pass();
  });
}

test('tcp: an overlapping retransmission takes only its new bytes', (t) => {
  const bytes = encodeNonTransparent(MSGS);
  const r = run([seg(ISN, '', { syn: true }), seg(ISN + 1, bytes.subarray(0, 20)), seg(ISN + 11, bytes.subarray(10, 40)), seg(ISN + 41, bytes.subarray(40)), seg(ISN + 1 + bytes.length, '', { fin: true })]);
  t.deepEqual(r.messages, MSGS);
  t.is(r.counts.retransmitted, 1);
});

test('tcp: a lost segment drops the message it cut, counts a gap, and reading goes on at the next LF', (t) => {
  const bytes = encodeNonTransparent(MSGS);
  const all = stream(bytes, 10);
  // Bytes 40-49: inside the second message, after the first one's LF.
  const lost = all.findIndex((s) => s.seq === ((ISN + 1 + 40) >>> 0));
  t.true(bytes.indexOf('two') < 40 && bytes.indexOf('three') > 50);
  const r = run(all.filter((_, i) => i !== lost));
  t.deepEqual(r.messages, [MSGS[0], MSGS[2]]);
  t.like(r.counts, { gaps: 1, truncated: 1 });
});

test('tcp: a stream joined after its start is read from its first LF on', (t) => {
  const bytes = encodeNonTransparent(MSGS);
  const cut = 5; // inside the first message: its tail must not pass as a message
  const r = run([seg(ISN + 1 + cut, bytes.subarray(cut)), seg(ISN + 1 + bytes.length, '', { fin: true })]);
  t.deepEqual(r.messages, MSGS.slice(1));
  t.is(r.counts.midstream, 1);
});

test('tcp: FIN ends a stream as a live close does (a last line without LF counts); RST and the capture end drop an unfinished frame', (t) => {
  const noTrailer = Buffer.from(`${MSGS[0]}\n${MSGS[1]}`);
  t.deepEqual(run(stream(noTrailer, 8)).messages, MSGS.slice(0, 2));
  const reset = stream(noTrailer, 8, { fin: false });
  reset.push(seg(ISN + 1 + noTrailer.length, '', { rst: true }));
  const r = run(reset);
  t.deepEqual(r.messages, [MSGS[0]]);
  t.is(r.counts.truncated, 1);
  const cut = run(stream(noTrailer, 8, { fin: false }));
  t.deepEqual(cut.messages, [MSGS[0]]);
  t.is(cut.counts.truncated, 1);
  const octetCut = run(stream(encodeOctetCounted(MSGS).subarray(0, 40), 8, { fin: true }));
  t.deepEqual(octetCut.messages, [MSGS[0]]);
  t.is(octetCut.counts.truncated, 1);
});

test('tcp: broken octet counting stops that stream (as live), TLS is skipped, other streams go on', (t) => {
  const good = encodeNonTransparent(MSGS);
  const other = { srcPort: 40001 };
  const tls = { srcPort: 40002 };
  const segments = [
    seg(100, '', { syn: true }), seg(101, '12 <30>short!!xZ7 garbage\n'),
    seg(500, '', { syn: true, ...other }), seg(501, good, other), seg(501 + good.length, '', { fin: true, ...other }),
    seg(900, '', { syn: true, ...tls }), seg(901, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]), tls),
  ];
  const r = run(segments);
  t.deepEqual(r.messages, ['<30>short!!x', ...MSGS]);
  t.like(r.counts, { streams: 3, badFraming: 1, tls: 1 });
});

test('tcp: a frame over the limit is dropped and counted, memory stays bounded', (t) => {
  const big = `<30>${'x'.repeat(5000)}`;
  const r = run(stream(encodeNonTransparent([big, MSGS[0]!]), 700), 1000);
  t.deepEqual(r.messages, [MSGS[0]]);
  t.is(r.counts.tooLong, 1);
});

test('tcp: random segments never throw', (t) => {
  fc.assert(
    fc.property(fc.array(fc.record({ seq: fc.nat(), syn: fc.boolean(), fin: fc.boolean(), rst: fc.boolean(), payload: fc.uint8Array({ maxLength: 60 }), port: fc.integer({ min: 1, max: 3 }) }), { maxLength: 40 }), (xs) => {
      run(xs.map((x) => seg(x.seq, Buffer.from(x.payload), { syn: x.syn, fin: x.fin, rst: x.rst, srcPort: x.port })), 100);
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass();
});
