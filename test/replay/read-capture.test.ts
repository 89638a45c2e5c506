import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { captureInfo, readCapture } from '../../src/replay/read-capture.js';
import { tempDir } from '../helpers/tmp.js';

async function readAll(path: string): Promise<{ data: Buffer; raw: number }> {
  const parts: Buffer[] = [];
  let raw = 0;
  for await (const chunk of readCapture(path, (n) => (raw += n))) parts.push(chunk);
  return { data: Buffer.concat(parts), raw };
}

test('read-capture: plain, gzip by magic bytes (any name), concatenated gzip members', async (t) => {
  const dir = tempDir(t);
  const text = Buffer.from('line one\nline two\n'.repeat(5_000));
  const plain = join(dir, 'a.log');
  const zipped = join(dir, 'a.txt');
  const twoMembers = join(dir, 'b.gz');
  writeFileSync(plain, text);
  writeFileSync(zipped, gzipSync(text));
  writeFileSync(twoMembers, Buffer.concat([gzipSync(text), gzipSync(text)]));
  const p = await readAll(plain);
  t.deepEqual(p.data, text);
  t.is(p.raw, text.length);
  const z = await readAll(zipped);
  t.deepEqual(z.data, text);
  t.is(z.raw, gzipSync(text).length, 'progress counts compressed bytes');
  t.deepEqual((await readAll(twoMembers)).data, Buffer.concat([text, text]));
  t.deepEqual(await readAll(join(dir, 'empty')).catch(() => 'error'), 'error');
  writeFileSync(join(dir, 'empty'), '');
  t.is((await readAll(join(dir, 'empty'))).data.length, 0);
});

test('read-capture: errors name the file and say what to do', async (t) => {
  const dir = tempDir(t);
  const missing = await t.throwsAsync(readAll(join(dir, 'nope.log')));
  t.is((missing as { code?: string }).code, 'ERR_INPUT_UNREADABLE');
  t.regex(missing!.message, /nope\.log: No such file/);
  t.throws(() => captureInfo(dir), { code: 'ERR_INPUT_UNREADABLE' as never, message: /is a directory/ });
  t.throws(() => captureInfo(join(dir, 'nope.log')), { code: 'ERR_INPUT_UNREADABLE' as never });
  const bad = join(dir, 'bad.gz');
  writeFileSync(bad, Buffer.concat([gzipSync(Buffer.alloc(100_000, 'a')).subarray(0, 50), Buffer.from('garbage')]));
  const corrupt = await t.throwsAsync(readAll(bad));
  t.is((corrupt as { code?: string }).code, 'ERR_INPUT_UNREADABLE');
  t.deepEqual(captureInfo('-'), { size: undefined, mtimeMs: undefined });
});
