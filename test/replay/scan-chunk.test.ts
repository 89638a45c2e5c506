import test from 'ava';
import fc from 'fast-check';
import { ChunkScanner, countLf } from '../../src/replay/scan-chunk.js';

const LITERALS = ['VPN_UP_ALARM', 'VPN_DOWN_ALARM'];

function scan(chunks: Buffer[], literals = LITERALS, maxLineBytes?: number): { hits: string[]; counts: ChunkScanner['counts'] } {
  const hits: string[] = [];
  const s = new ChunkScanner(literals, (line) => hits.push(line.toString('latin1')), { maxLineBytes });
  for (const c of chunks) s.push(c);
  s.end();
  return { hits, counts: s.counts };
}

/** Reference: split into lines, keep the ones containing a literal. */
function reference(text: string, literals = LITERALS, maxLineBytes = 64 * 1024): { hits: string[]; lines: number } {
  if (text === '') return { hits: [], lines: 0 };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const hits = lines
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => literals.some((lit) => l.includes(lit)) && Buffer.byteLength(l, 'latin1') <= maxLineBytes);
  return { hits, lines: lines.length };
}

test('scanner: only lines with a literal come out, in order, CRLF stripped', (t) => {
  const text = 'noise 1\nA VPN_UP_ALARM x\r\nnoise 2\nVPN_DOWN_ALARM and VPN_UP_ALARM twice\nlast VPN_DOWN_ALARM';
  const r = scan([Buffer.from(text)]);
  t.deepEqual(r.hits, ['A VPN_UP_ALARM x', 'VPN_DOWN_ALARM and VPN_UP_ALARM twice', 'last VPN_DOWN_ALARM']);
  t.deepEqual(r.counts, { lines: 5, hits: 3, oversized: 0 });
});

test('scanner: lines and literals split across chunk boundaries', (t) => {
  const text = 'aaa\nbb VPN_UP_ALARM cc\ndd\nVPN_DOWN_ALARM\n';
  for (let cut = 0; cut <= text.length; cut++) {
    for (let cut2 = cut; cut2 <= text.length; cut2 += 3) {
      const b = Buffer.from(text);
      const r = scan([b.subarray(0, cut), b.subarray(cut, cut2), b.subarray(cut2)]);
      t.deepEqual(r.hits, ['bb VPN_UP_ALARM cc', 'VPN_DOWN_ALARM'], `cuts ${cut},${cut2}`);
      t.is(r.counts.lines, 4);
    }
  }
});

test('scanner: an endless line is dropped and counted, memory bounded', (t) => {
  const long = Buffer.alloc(5000, 0x41);
  const chunks = [Buffer.from('ok VPN_UP_ALARM\n'), long, long, Buffer.from('VPN_UP_ALARM\nafter VPN_DOWN_ALARM\n')];
  const r = scan(chunks, LITERALS, 4096);
  t.deepEqual(r.hits, ['ok VPN_UP_ALARM', 'after VPN_DOWN_ALARM']);
  t.deepEqual(r.counts, { lines: 3, hits: 2, oversized: 1 });
  const inChunk = scan([Buffer.from(`${'x'.repeat(5000)} VPN_UP_ALARM\nshort VPN_UP_ALARM\n`)], LITERALS, 4096);
  t.deepEqual(inChunk.hits, ['short VPN_UP_ALARM']);
  t.is(inChunk.counts.oversized, 1);
});

test('scanner: no literals means every line is noise, still counted', (t) => {
  const r = scan([Buffer.from('a\nb\nc')], []);
  t.deepEqual(r.hits, []);
  t.is(r.counts.lines, 3);
});

test('scanner: matches the line-split reference on random input and random chunking', (t) => {
  const alphabet = fc.constantFrom('a', ' ', '\n', '\r', 'VPN_UP_ALARM', 'VPN_DOWN_ALARM', 'VPN_', '\u00e9', '\n\n');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 5 }), (parts, cuts) => {
      const text = parts.join('');
      const bytes = Buffer.from(text, 'latin1');
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        chunks.push(bytes.subarray(prev, p));
        prev = p;
      }
      chunks.push(bytes.subarray(prev));
      const got = scan(chunks);
      const want = reference(text);
      return JSON.stringify(got.hits) === JSON.stringify(want.hits) && got.counts.lines === want.lines;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('countLf counts within the range only', (t) => {
  const b = Buffer.from('\na\nb\n\n');
  t.is(countLf(b, 0, b.length), 4);
  t.is(countLf(b, 1, 3), 1);
  t.is(countLf(b, 5, 5), 0);
});

test('scanner: each hit comes with its line number, across chunks and carried lines', (t) => {
  const text = 'a\nVPN_UP_ALARM 2\nb\nc\nx VPN_DOWN_ALARM 5\n\nlast VPN_UP_ALARM';
  const want = [[2, 'VPN_UP_ALARM 2'], [5, 'x VPN_DOWN_ALARM 5'], [7, 'last VPN_UP_ALARM']];
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const got: Array<[number, string]> = [];
    const s = new ChunkScanner(LITERALS, (line, n) => got.push([n, line.toString()]));
    s.push(bytes.subarray(0, cut));
    s.push(bytes.subarray(cut));
    s.end();
    t.deepEqual(got, want, `cut at ${cut}`);
    t.is(s.counts.lines, 7);
  }
});

test('scanner: any literals, any text: the lines found are the lines holding a literal, whatever anchors the first chunk chose', (t) => {
  const letters = fc.constantFrom('V', 'P', 'N', '_', 'U', ' ', 'L', 'o', 'c', ':', 'a');
  const literal = fc.array(letters, { minLength: 1, maxLength: 8 }).map((l) => l.join(''));
  fc.assert(
    fc.property(fc.uniqueArray(literal, { minLength: 1, maxLength: 4 }), fc.array(fc.oneof(letters, fc.constant('\n')), { maxLength: 200 }), fc.nat(), (literals, parts, cut) => {
      const text = parts.join('');
      const bytes = Buffer.from(text, 'latin1');
      const at = cut % (bytes.length + 1);
      const got = scan([bytes.subarray(0, at), bytes.subarray(at)], literals);
      const want = reference(text, literals);
      return JSON.stringify(got.hits) === JSON.stringify(want.hits) && got.counts.lines === want.lines;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
