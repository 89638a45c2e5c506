import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateLines } from '../../scripts/generate-capture.js';
import { loadPatterns } from '../../src/patterns/load.js';
import { CsvReader } from '../../src/replay/csv-records.js';
import { JsonLinesReader } from '../../src/replay/json-lines.js';
import { PcapParser } from '../../src/replay/pcap.js';
import { ChunkScanner } from '../../src/replay/scan-chunk.js';
import { repoRoot } from '../helpers/cli.js';
import { frame, pcap, type TestPacket } from '../helpers/pcap-writer.js';

// read-capture.ts reads a plain file into one buffer over and over: a chunk is the reader's only
// during push(). Each reader is fed its input twice, in fresh chunks and in one buffer that is
// overwritten after every push: whatever a reader kept without copying comes out garbled.

const literals = loadPatterns().literals;
const lines = [...generateLines({ lines: 3_000, seed: 11, vpnRatio: 0.3 })];
const SIZES = [1, 7, 100, 4096, 65_536];

interface Reader {
  push(chunk: Buffer): void;
  end(): void;
}

/**
 * What `make(out)` reports for `input` pushed in pieces of `size` bytes (or of the lengths listed),
 * the pieces reused (and scribbled on after each push) or fresh.
 */
function run(make: (out: string[]) => Reader, input: Buffer, size: number | readonly number[], reuse: boolean): string[] {
  const out: string[] = [];
  const reader = make(out);
  const lengths = typeof size === 'number' ? [] : size;
  const shared = Buffer.alloc(typeof size === 'number' ? size : Math.max(...size));
  for (let at = 0, k = 0; at < input.length; at += lengths[k++] ?? (size as number)) {
    const piece = input.subarray(at, Math.min(input.length, at + (lengths[k] ?? (size as number))));
    if (reuse) {
      const chunk = shared.subarray(0, piece.length);
      piece.copy(chunk);
      reader.push(chunk);
      shared.fill(0xa5);
    } else {
      reader.push(Buffer.from(piece));
    }
  }
  reader.end();
  return out;
}

const readers: Array<[string, Buffer, (out: string[]) => Reader]> = [
  ['text (ChunkScanner)', Buffer.from(lines.join('\n') + '\n'), (out) => new ChunkScanner(literals, (line, no) => out.push(`${no} ${line.toString('latin1')}`))],
  [
    'JSON lines',
    Buffer.from(lines.map((l) => JSON.stringify({ message: l, host: { name: 'srx-hq' } })).join('\n') + '\n'),
    (out) => new JsonLinesReader({ file: 'x.ndjson', fields: {}, zones: undefined, literals, maxLineBytes: 64 * 1024, maxExamples: 5, onRecord: (r) => out.push(`${r.lineNo} ${r.text.toString('latin1')} ${JSON.stringify(r.recorded)}`) }),
  ],
  [
    'CSV',
    Buffer.from(`"_raw","host"\n${lines.map((l) => `"${l.replaceAll('"', '""')}","srx-hq"`).join('\n')}\n`),
    (out) => new CsvReader({ file: 'x.csv', fields: {}, zones: undefined, literals, maxRecordBytes: 64 * 1024, maxExamples: 5, onRecord: (r) => out.push(`${r.lineNo} ${r.text.toString('latin1')} ${JSON.stringify(r.recorded)}`) }),
  ],
  ...['tcp-lf.pcap', 'tcp-octet.pcap', 'udp-any.pcap'].map((name): [string, Buffer, (out: string[]) => Reader] => [
    `pcap ${name}`,
    readFileSync(join(repoRoot, 'fixtures', 'replay-formats', name)),
    (out) => new PcapParser((m) => out.push(`${m.transport} ${m.sender} ${m.receivedAt} ${m.data.toString('latin1')}`)),
  ]),
];

for (const [name, input, make] of readers) {
  test(`chunk reuse: the ${name} reader keeps nothing of a chunk past push (pieces of ${SIZES.join(', ')} bytes)`, (t) => {
    const expected = run(make, input, input.length, false);
    t.true(expected.length > 0, 'the input gives something');
    for (const size of SIZES) t.deepEqual(run(make, input, size, true), expected, `pieces of ${size} bytes, reused`);
  });
}

test('chunk reuse: pcap with one TCP stream read record by record: frames that span segments survive a chunk ending on a record boundary', (t) => {
  // The parser then works in the chunk itself, and the framer holds the start of a frame whose end
  // is in the next segment: that start must be a copy.
  const text = Buffer.from(lines.slice(0, 1_500).join('\n') + '\n');
  const packets: TestPacket[] = [{ src: '192.0.2.10', protocol: 'tcp', payload: Buffer.alloc(0), timeMs: Date.UTC(2026, 2, 14, 9), seq: 1000, flags: { syn: true } }];
  for (let at = 0, seq = 1001; at < text.length; at += 1000, seq += 1000) {
    packets.push({ src: '192.0.2.10', protocol: 'tcp', payload: text.subarray(at, at + 1000), timeMs: Date.UTC(2026, 2, 14, 9) + at, seq });
  }
  const input = pcap(packets);
  const records = packets.map((p) => 16 + frame(p).length);
  records[0]! += 24; // the file header comes with the first record
  const make = (out: string[]): Reader => new PcapParser((m) => out.push(`${m.transport} ${m.sender} ${m.data.toString('latin1')}`));
  const expected = run(make, input, input.length, false);
  t.is(expected.length, 1_500);
  t.deepEqual(run(make, input, records, true), expected);
});
