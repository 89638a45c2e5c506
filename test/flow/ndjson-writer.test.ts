import test from 'ava';
import { Writable } from 'node:stream';
import { NdjsonWriter } from '../../src/flow/ndjson-writer.js';

function sink(): { out: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { out, chunks };
}

test('lines come out as JSON, multi-byte text and lone surrogates included; rewind takes back what came after mark', async (t) => {
  const { out, chunks } = sink();
  const w = new NdjsonWriter(out, { chunkBytes: 64 });
  w.write({ user: 'zoë', note: '\ud800 alone', n: 1 });
  const at = w.mark();
  w.write({ dropped: true });
  w.rewind(at);
  for (let i = 0; i < 50; i++) w.write({ i, text: 'é'.repeat(i) });
  await w.flush(true);
  const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(lines[0], { user: 'zoë', note: '\ud800 alone', n: 1 });
  t.is(lines.length, 51);
  t.deepEqual(lines[50], { i: 49, text: 'é'.repeat(49) });
});

test('a forced flush of a few lines hands the stream a copy, not the writer\'s whole buffer', async (t) => {
  const { out, chunks } = sink();
  const w = new NdjsonWriter(out);
  for (let turn = 0; turn < 3; turn++) {
    w.write({ turn });
    await w.flush(true);
  }
  t.is(chunks.length, 3);
  // run --dry-run flushes every turn: each small write must not keep a 129 KiB buffer queued.
  for (const c of chunks) t.true(c.buffer.byteLength < 64 * 1024, `a ${c.length}-byte write held ${c.buffer.byteLength} bytes`);
  t.deepEqual(Buffer.concat(chunks).toString().trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [{ turn: 0 }, { turn: 1 }, { turn: 2 }]);
});
