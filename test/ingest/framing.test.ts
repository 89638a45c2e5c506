import test from 'ava';
import fc from 'fast-check';
import { FrameDecoder, encodeNonTransparent, encodeOctetCounted, type FrameFault } from '../../src/ingest/framing.js';

interface Decoded {
  frames: string[];
  oversized: number[];
  fault: FrameFault | undefined;
  discarded: number;
}

function decode(chunks: readonly Buffer[], maxMessageBytes = 1024, end = true): Decoded {
  const decoder = new FrameDecoder({ maxMessageBytes });
  const out: Decoded = { frames: [], oversized: [], fault: undefined, discarded: 0 };
  const sink = { frame: (b: Buffer) => out.frames.push(b.toString('latin1')), oversized: (n: number) => out.oversized.push(n) };
  for (const chunk of chunks) {
    const fault = decoder.push(chunk, sink);
    if (fault) {
      out.fault = fault;
      break;
    }
  }
  if (end && !out.fault) out.discarded = decoder.end(sink);
  return out;
}

const b = (s: string) => Buffer.from(s, 'latin1');

const table: Array<{ name: string; input: string[]; frames: string[]; fault?: FrameFault['reason']; oversized?: number; discarded?: number; max?: number }> = [
  { name: 'LF lines', input: ['<30>a\n<30>b\n'], frames: ['<30>a', '<30>b'] },
  { name: 'CRLF lines', input: ['<30>a\r\n<30>b\r\n'], frames: ['<30>a', '<30>b'] },
  { name: 'NUL trailers', input: ['<30>a\0<30>b\0'], frames: ['<30>a', '<30>b'] },
  { name: 'after a NUL trailer, LF also ends frames', input: ['<30>a\0<30>b\nc\0'], frames: ['<30>a', '<30>b', 'c'] },
  { name: 'LF trailer keeps NUL inside a message', input: ['<30>a\n<30>b\0c\n'], frames: ['<30>a', '<30>b\0c'] },
  { name: 'last line without trailer is delivered at close', input: ['<30>a\n<30>b'], frames: ['<30>a', '<30>b'] },
  { name: 'empty lines are skipped', input: ['\n\n<30>a\n\r\n'], frames: ['<30>a'] },
  { name: 'octet counting', input: ['5 <30>a5 <30>b'], frames: ['<30>a', '<30>b'] },
  { name: 'octet counting with LF between frames', input: ['5 <30>a\n5 <30>b\n'], frames: ['<30>a', '<30>b'] },
  { name: 'octet counted frame may contain LF', input: ['7 <30>a\nb'], frames: ['<30>a\nb'] },
  { name: 'octet counting split everywhere', input: ['9', ' <30>', 'ab', 'cde', '3 x', 'yz'], frames: ['<30>abcde', 'xyz'] },
  { name: 'count over limit closes', input: ['99999999999 <30>a'], frames: [], fault: 'frame-too-long' },
  { name: 'count just over limit closes', input: ['1025 x'], frames: [], fault: 'frame-too-long' },
  { name: 'count exactly at limit passes', input: [`1024 ${'x'.repeat(1024)}`], frames: ['x'.repeat(1024)] },
  { name: 'garbage after a counted frame closes', input: ['5 <30>a<30>b\n'], frames: ['<30>a'], fault: 'bad-octet-count' },
  { name: 'missing space after count closes', input: ['5x<30>a'], frames: [], fault: 'bad-octet-count' },
  { name: 'count then too few bytes then close', input: ['100 <30>short'], frames: [], discarded: 10 },
  { name: 'count without body then close', input: ['12'], frames: [], discarded: 2 },
  { name: 'garbage bytes start a non-transparent stream', input: ['\xff\xfe\x00\x01garbage\n<30>ok\n'], frames: ['\xff\xfe', '\x01garbage', '<30>ok'] },
  { name: 'garbage bytes without NUL become lines', input: ['\xff\xfe\x01garbage\n<30>ok\n'], frames: ['\xff\xfe\x01garbage', '<30>ok'] },
  { name: 'oversized line is dropped and the stream resynchronises', input: [`${'x'.repeat(2000)}\n<30>ok\n`], frames: ['<30>ok'], oversized: 1 },
  { name: 'oversized line across chunks resynchronises', input: ['x'.repeat(700), 'x'.repeat(700), 'x'.repeat(700), '\n<30>ok\n'], frames: ['<30>ok'], oversized: 1 },
  { name: 'line exactly at the limit passes', input: [`${'x'.repeat(1024)}\n`], frames: ['x'.repeat(1024)] },
];

for (const row of table) {
  test(`framing: ${row.name}`, (t) => {
    const out = decode(row.input.map(b), row.max ?? 1024);
    t.deepEqual(out.frames, row.frames);
    t.is(out.fault?.reason, row.fault);
    t.is(out.oversized.length, row.oversized ?? 0);
    t.is(out.discarded, row.discarded ?? 0);
  });
}

test('framing: mode is detected from the first byte and held', (t) => {
  const counted = new FrameDecoder({ maxMessageBytes: 100 });
  const sink = { frame: () => {}, oversized: () => {} };
  counted.push(b('3 abc'), sink);
  t.is(counted.mode, 'octet-counting');
  const lines = new FrameDecoder({ maxMessageBytes: 100 });
  lines.push(b('<1>x\n3 abc\n'), sink);
  t.is(lines.mode, 'non-transparent');
  t.false(lines.failed);
});

test('framing: fault codes are the documented error codes', (t) => {
  t.is(decode([b('99999999999 x')]).fault?.code, 'ERR_FRAME_TOO_LONG');
  t.is(decode([b('3 abcX')]).fault?.code, 'ERR_FRAME_INVALID');
});

/** Splits a buffer at the given (sorted, deduplicated) cut points. */
function chunkAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

// Messages that a sender could frame in every mode: no LF, CR, NUL inside, and not empty.
const message = fc.string({ minLength: 1, maxLength: 80, unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) });

test('framing property: any chunking of a valid stream gives the same messages', (t) => {
  fc.assert(
    fc.property(
      fc.array(message, { minLength: 1, maxLength: 30 }),
      fc.constantFrom('octet', '\n', '\r\n', '\0'),
      fc.array(fc.nat(), { maxLength: 40 }),
      (messages, mode, cuts) => {
        // A non-transparent stream cannot start with a digit (it would read as a count) - real
        // senders start with "<PRI>"; prefix all messages the same way.
        const msgs = messages.map((m) => `<13>${m}`);
        const stream = mode === 'octet' ? encodeOctetCounted(msgs.map(b)) : encodeNonTransparent(msgs.map(b), mode);
        const out = decode(chunkAt(stream, cuts));
        // Trailing spaces survive; only trailer bytes are stripped.
        return out.fault === undefined && out.oversized.length === 0 && JSON.stringify(out.frames) === JSON.stringify(msgs);
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});

test('framing property: random bytes never throw and memory stays bounded', (t) => {
  const max = 512;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 20 }), (chunks) => {
      const decoder = new FrameDecoder({ maxMessageBytes: max });
      let biggest = 0;
      const sink = {
        frame: (f: Buffer) => {
          biggest = Math.max(biggest, f.length);
        },
        oversized: () => {},
      };
      for (const c of chunks) {
        decoder.push(Buffer.from(c), sink);
        if (decoder.bufferedBytes > max) return false;
      }
      decoder.end(sink);
      return biggest <= max;
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('framing property: random bytes between valid lines never lose later lines after a resync', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 10 }), (garbage, cuts) => {
      // Garbage without a trailer, then a good line: the good line must come out (possibly after the garbage).
      const junk = Buffer.from(garbage.filter((x) => x !== 0x0a && x !== 0x00));
      const stream = Buffer.concat([b('<1>start\n'), junk, b('\n<13>good\n')]);
      const out = decode(chunkAt(stream, cuts), 1024);
      return out.frames.at(-1) === '<13>good' && out.fault === undefined;
    }),
    { numRuns: 300 },
  );
  t.pass();
});
