import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { generateLines } from '../../scripts/generate-capture.js';
import { captureInfo, compressionOf, readCapture } from '../../src/replay/read-capture.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

async function readAll(path: string): Promise<{ data: Buffer; raw: number }> {
  const parts: Buffer[] = [];
  let raw = 0;
  // A chunk is the caller's only until the next one: keep a copy.
  for await (const chunk of readCapture(path, (n) => (raw += n))) parts.push(Buffer.from(chunk));
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

const hasTool = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
/** .ci/run installs xz-utils, bzip2 and zstd: CI never skips; a machine without one skips its test. */
const needs = (cmd: string) => (hasTool(cmd) || process.env.CI ? test : test.skip);

for (const [name, tool, args] of [['xz', 'xz', ['-c']], ['bzip2', 'bzip2', ['-c']], ['zstd', 'zstd', ['-q', '-c']]] as const) {
  needs(tool)(`read-capture: ${name} (compressed by the ${tool} CLI), by magic bytes, in pieces; corrupt data is a clear error`, async (t) => {
    const dir = tempDir(t);
    const text = Buffer.from('line one\nline two\n'.repeat(100_000));
    const packed = spawnSync(tool, args, { input: text, maxBuffer: 64 * 1024 * 1024 }).stdout;
    const file = join(dir, 'capture.dat');
    writeFileSync(file, packed);
    const got = await readAll(file);
    t.deepEqual(got.data, text);
    t.is(got.raw, packed.length, 'progress counts compressed bytes');
    t.is(compressionOf(packed), name);
    const bad = join(dir, 'bad.dat');
    writeFileSync(bad, Buffer.concat([packed.subarray(0, Math.floor(packed.length / 2)), Buffer.alloc(64, 0x55)]));
    const error = await t.throwsAsync(readAll(bad));
    t.is((error as { code?: string }).code, 'ERR_INPUT_UNREADABLE');
    t.regex(error!.message, new RegExp(`bad\\.dat: the ${name} data is corrupt or truncated \\(${tool} exited \\d+`));
  });
}

needs('xz')('read-capture: compressed twice (gzip inside xz) is unwrapped layer by layer; stopping early ends the tool', async (t) => {
  const dir = tempDir(t);
  const text = Buffer.from('x\n'.repeat(3_000_000));
  const file = join(dir, 'twice.xz');
  writeFileSync(file, spawnSync('xz', ['-c', '-0'], { input: gzipSync(text), maxBuffer: 64 * 1024 * 1024 }).stdout);
  t.deepEqual((await readAll(file)).data, text);
  // Break out after the first chunk: the generator's finally must end the xz process.
  for await (const chunk of readCapture(file)) {
    t.true(chunk.length > 0);
    break;
  }
  t.pass();
});

test('read-capture: a compressed capture without its tool names the package to install', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'capture.log.zst');
  // A zstd frame header is enough: the tool is looked for before any byte is decoded.
  writeFileSync(file, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x00, 0x00]));
  const r = await runCli(['replay', '--dry-run', file], { env: { PATH: '/nonexistent' } });
  t.is(r.code, 1);
  t.regex(r.stderr, /ERR_INPUT_UNREADABLE: Cannot read capture .*capture\.log\.zst: it is zstd-compressed and the `zstd` tool is not installed \(Debian\/Ubuntu: apt-get install zstd\)/);
});

test('read-capture: a plain file is read into one buffer after the first chunks; compressed data gets fresh ones', async (t) => {
  const dir = tempDir(t);
  // Five 1 MiB chunks and a bit, every byte telling its offset.
  const text = Buffer.alloc(5 * 1024 * 1024 + 1000);
  for (let i = 0; i < text.length; i++) text[i] = i % 251;
  const plain = join(dir, 'plain.bin');
  writeFileSync(plain, text);
  const memories = new Set<ArrayBufferLike>();
  const kept: Buffer[] = [];
  for await (const chunk of readCapture(plain)) {
    memories.add(chunk.buffer);
    kept.push(chunk);
  }
  t.is(kept.length, 6);
  t.is(memories.size, 2, 'the first chunk fresh, the others in one reused buffer');
  t.deepEqual((await readAll(plain)).data, text, 'copied as they come, the chunks are the file');
  const zipped = join(dir, 'plain.bin.gz');
  writeFileSync(zipped, gzipSync(text));
  const parts: Buffer[] = [];
  for await (const chunk of readCapture(zipped)) parts.push(chunk);
  t.deepEqual(Buffer.concat(parts), text, 'decompressed chunks are never overwritten');
});

test('replay: exports larger than a read chunk give the same events from a file (reused read buffer) as from standard input', async (t) => {
  const dir = tempDir(t);
  const lines = [...generateLines({ lines: 12_000, seed: 7, vpnRatio: 0.4 })];
  const csvField = (s: string) => `"${s.replaceAll('"', '""')}"`;
  // A one-column CSV is not told from text by its content: --format says it.
  const files: Array<[string, string, string[]]> = [
    ['export.ndjson', lines.map((l) => JSON.stringify({ message: l })).join('\n') + '\n', []],
    ['export.csv', `"_raw"\n${lines.map(csvField).join('\n')}\n`, ['--format', 'csv']],
    ['capture.log', lines.join('\n') + '\n', []],
  ];
  for (const [name, content, format] of files) {
    t.true(content.length > 3 * 1024 * 1024, `${name} spans more than three read chunks`);
    const file = join(dir, name);
    writeFileSync(file, content);
    const args = ['replay', '--dry-run', '--no-progress', '--now', '2026-03-15T00:00:00Z', ...format];
    const [fromFile, fromStdin] = await Promise.all([runCli([...args, file]), runCli([...args, '-'], { input: content })]);
    t.is(fromFile.code, 0, fromFile.stderr);
    t.is(fromStdin.code, 0, fromStdin.stderr);
    const events = fromFile.stdout.split('\n').filter(Boolean).length;
    t.true(events > 3_000, `${name}: ${events} events`);
    t.is(fromFile.stdout, fromStdin.stdout, name);
  }
});

test('read-capture: a FIFO is streamed to its end (replay <(zcat capture.gz)), its writer never cut off', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'capture.fifo');
  t.is(spawnSync('mkfifo', [fifo]).status, 0);
  const text = Buffer.from('line one\nline two\n'.repeat(200_000));
  const source = join(dir, 'capture.log');
  writeFileSync(source, text);
  const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', source, fifo], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => writer.once('close', (code) => resolve(code)));
  const got = await readAll(fifo);
  t.is(await exited, 0, 'the writer was not cut off (SIGPIPE)');
  t.is(got.data.length, text.length);
  t.deepEqual(got.data, text);
});
