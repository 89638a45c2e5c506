import { spawn } from 'node:child_process';
import { closeSync, createReadStream, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BridgeError } from '../errors.js';

/**
 * Readers for captures: a file or standard input (`-`), decompressed when its first bytes say so
 * (never its name): gzip in-process (node:zlib), xz, bzip2 and zstd through the system's own tools
 * (`xz -dc`, `bzip2 -dc`, `zstd -dc`, run without a shell, the data on their stdin and stdout). A
 * capture compressed twice (`.pcap.gz.xz`) is unwrapped layer by layer. They yield raw chunks;
 * what the bytes are is the format detector's job.
 *
 * Why the tools and not npm packages: Node 20's zlib has no xz or bzip2 (zstd only from Node 22.15),
 * and the npm decoders are either native builds with prebuilt downloads (lzma-native, zstd-napi)
 * or pure JavaScript several times slower than the reference C implementations, some unmaintained.
 * The tools are those reference implementations, in every distribution (xz-utils, bzip2, zstd),
 * stream with bounded memory, and decompress on the second core while this process parses.
 * Without the tool a compressed capture is a clear error that names the package to install.
 */

const CHUNK_BYTES = 1024 * 1024;
/** Layers of compression unwrapped at most (a zip bomb of nested layers stops here). */
const MAX_LAYERS = 3;

export type Compression = 'gzip' | 'xz' | 'bzip2' | 'zstd';

interface Tool {
  command: string;
  args: readonly string[];
  /** Debian/Ubuntu package that has it. */
  pkg: string;
}

const TOOLS: Readonly<Record<Exclude<Compression, 'gzip'>, Tool>> = {
  xz: { command: 'xz', args: ['-dc'], pkg: 'xz-utils' },
  bzip2: { command: 'bzip2', args: ['-dc'], pkg: 'bzip2' },
  zstd: { command: 'zstd', args: ['-dcq'], pkg: 'zstd' },
};

export interface CaptureInfo {
  /** Size on disk (compressed size for compressed files), or undefined for stdin and pipes. */
  size: number | undefined;
  /** Modification time in ms, or undefined for stdin. */
  mtimeMs: number | undefined;
}

/**
 * Size and modification time of a capture.
 * @throws BridgeError ERR_INPUT_UNREADABLE when the file does not exist or is not a regular file.
 */
export function captureInfo(path: string): CaptureInfo {
  if (path === '-') return { size: undefined, mtimeMs: undefined };
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new BridgeError('ERR_INPUT_UNREADABLE', `${path} is a directory; give capture files (or - for standard input).`, { file: path });
    return { size: st.isFile() ? st.size : undefined, mtimeMs: st.mtimeMs };
  } catch (cause) {
    if (cause instanceof BridgeError) throw cause;
    throw unreadable(path, cause);
  }
}

/** The compression of a stream from its first bytes (magic numbers), or undefined. */
export function compressionOf(head: Buffer): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 6 && head.readUInt32BE(0) === 0xfd377a58 && head[4] === 0x5a && head[5] === 0x00) return 'xz';
  // `BZh` + block size 1-9 + the block magic (pi) or the end-of-stream magic (sqrt pi) of an empty stream.
  if (head.length >= 10 && head.toString('latin1', 0, 3) === 'BZh' && head[3]! >= 0x31 && head[3]! <= 0x39) {
    const magic = head.subarray(4, 10).toString('hex');
    if (magic === '314159265359' || magic === '177245385090') return 'bzip2';
  }
  if (head.length >= 4) {
    const m = head.readUInt32LE(0);
    // A zstd frame, or a skippable frame (0x184D2A50-5F) zstd reads past.
    if (m === 0xfd2fb528 || (m >>> 4) === 0x184d2a5) return 'zstd';
  }
  return undefined;
}

/**
 * Yields the decompressed bytes of a capture in chunks of about 1 MiB. `onRawBytes` reports bytes
 * read from the source (compressed bytes for compressed files), for progress.
 *
 * A chunk is only the caller's until it asks for the next one: an uncompressed regular file is read
 * into one buffer over and over (a read stream's fresh 1 MiB buffers, each sent through the thread
 * pool, took 93-130 ms to read a 336 MB capture, one reused buffer 26-31 ms), so copy what you keep.
 * Compressed data, FIFOs and standard input give fresh chunks (the decompressors hold on to theirs).
 * @throws BridgeError ERR_INPUT_UNREADABLE (during iteration) when the file cannot be read, the
 *   compressed data is corrupt or truncated, or the tool for it is not installed.
 */
export async function* readCapture(path: string, onRawBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  const reuse = { allowed: false };
  // A FIFO or a device is streamed: opening one to look at it would block until a writer came,
  // and closing it again would end the writer (SIGPIPE).
  const raw: Readable | undefined = path === '-' ? process.stdin : isRegularFile(path) ? undefined : createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const source = async function* (): AsyncGenerator<Buffer> {
    try {
      if (raw === undefined) {
        yield* fileChunks(path, reuse, onRawBytes);
        return;
      }
      yield* streamChunks(raw, onRawBytes);
    } catch (cause) {
      throw cause instanceof BridgeError ? cause : unreadable(path, cause);
    }
  };
  try {
    yield* unwrap(source(), path, 0, reuse);
  } finally {
    if (raw !== undefined && path !== '-') raw.destroy();
  }
}

/** A stream's chunks (fresh buffers), each reported to `onRawBytes`. */
async function* streamChunks(stream: Readable, onRawBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    onRawBytes?.((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch (cause) {
    throw unreadable(path, cause);
  }
}

/**
 * A regular file's bytes, read synchronously: a page-cached file is read at memory speed, where a
 * read stream hands each chunk to the thread pool and back. Chunks read before `reuse.allowed` (the
 * first, which `unwrap` and the format detector look at) are fresh; later ones share one buffer. Each chunk is
 * followed by a turn of the event loop, so signals, timers and deliveries still run. The
 * descriptor is this generator's own: closed when it ends, however it ends (a decompressor that
 * stops asking may still have a read pending, which must not meet a closed, reused descriptor).
 */
async function* fileChunks(path: string, reuse: { allowed: boolean }, onRawBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  const fd = openSync(path, 'r');
  let regular: boolean;
  try {
    regular = fstatSync(fd).isFile();
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (!regular) {
    // Swapped for something else since it was looked at: read as a stream, which owns the
    // descriptor from here (it closes it once any read in flight is done).
    const stream = createReadStream('', { fd, highWaterMark: CHUNK_BYTES });
    try {
      yield* streamChunks(stream, onRawBytes);
    } finally {
      stream.destroy();
    }
    return;
  }
  try {
    let spare: Buffer | undefined;
    for (;;) {
      const buf = spare ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
      const n = readSync(fd, buf, 0, CHUNK_BYTES, null);
      if (n === 0) return;
      onRawBytes?.(n);
      // Not before `unwrap` has seen the first chunk: that one is always fresh.
      if (reuse.allowed) spare = buf;
      yield n === CHUNK_BYTES ? buf : buf.subarray(0, n);
      await nextTurn();
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Peeks at the first chunk; decompresses when it is compressed (again, layer by layer). Plain
 * bytes straight from the file may reuse their buffer (`reuse`); what feeds a decompressor may not.
 */
async function* unwrap(input: AsyncGenerator<Buffer>, path: string, depth: number, reuse?: { allowed: boolean }): AsyncGenerator<Buffer> {
  let first = await input.next();
  // Compressed streams can begin with an empty chunk; magic numbers need a few bytes.
  while (!first.done && first.value.length === 0) first = await input.next();
  if (first.done) return;
  const head = first.value;
  const kind = compressionOf(head);
  const whole = async function* (): AsyncGenerator<Buffer> {
    yield head;
    yield* input;
  };
  if (kind === undefined || depth >= MAX_LAYERS) {
    if (reuse !== undefined) reuse.allowed = true;
    yield* whole();
    return;
  }
  const decoded = kind === 'gzip' ? gunzipped(whole(), path) : viaTool(whole(), kind, path);
  yield* unwrap(decoded, path, depth + 1);
}

async function* gunzipped(input: AsyncGenerator<Buffer>, path: string): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  // pipeline forwards a source error into gunzip, so the loop below sees it.
  pipeline(Readable.from(input, { objectMode: false }), gunzip, () => {});
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (cause) {
    throw cause instanceof BridgeError ? cause : unreadable(path, cause, 'gzip');
  } finally {
    gunzip.destroy();
  }
}

/**
 * Decompresses through the system tool: our bytes on its stdin, its stdout to the caller. Success
 * only when the tool exits 0: a truncated or corrupt stream makes it fail, and its own words say why.
 */
async function* viaTool(input: AsyncGenerator<Buffer>, kind: Exclude<Compression, 'gzip'>, path: string): AsyncGenerator<Buffer> {
  const tool = TOOLS[kind];
  const child = spawn(tool.command, tool.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 2000) stderr += s;
  });
  let spawnError: NodeJS.ErrnoException | undefined;
  let sourceError: unknown;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // The tool may stop reading (corrupt data, or we stopped early): that is not our error to raise.
  child.stdin.on('error', () => {});
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (!child.stdin.write(chunk)) await new Promise<void>((resolve) => { child.stdin.once('drain', resolve); child.once('close', resolve); });
        if (child.exitCode !== null || child.killed || spawnError) break;
      }
    } catch (error) {
      sourceError = error;
      child.kill();
    } finally {
      child.stdin.end();
    }
  })();
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const { code, signal } = await exited;
    await feeding;
    finished = true;
    if (sourceError !== undefined) throw sourceError;
    if (spawnError !== undefined) throw missingTool(path, kind, tool, spawnError);
    if (code !== 0) {
      const said = stderr.trim().split('\n').at(-1)?.replace(/^[^:]*: (\(stdin\): )?/, '') ?? '';
      throw new BridgeError(
        'ERR_INPUT_UNREADABLE',
        `Cannot read capture ${shown(path)}: the ${kind} data is corrupt or truncated (${tool.command} ${signal ? `stopped by ${signal}` : `exited ${code}`}${said ? `: ${said.slice(0, 200)}` : ''}). Re-copy the file, or replay what decompresses: ${tool.command} -dc FILE | ptim-bridge replay --dry-run -`,
        { file: path },
      );
    }
  } catch (error) {
    if (spawnError !== undefined && !(error instanceof BridgeError)) throw missingTool(path, kind, tool, spawnError);
    throw error;
  } finally {
    if (!finished) {
      // The caller stopped early (output closed) or failed: the tool must not outlive the replay.
      child.kill();
      await exited;
      await feeding.catch(() => {});
    }
  }
}

function missingTool(path: string, kind: Compression, tool: Tool, error: NodeJS.ErrnoException): BridgeError {
  const why = error.code === 'ENOENT' ? `the \`${tool.command}\` tool is not installed (Debian/Ubuntu: apt-get install ${tool.pkg})` : `\`${tool.command}\` could not be started (${error.code ?? error.message})`;
  return new BridgeError('ERR_INPUT_UNREADABLE', `Cannot read capture ${shown(path)}: it is ${kind}-compressed and ${why}. Or decompress it first and replay the result.`, { file: path, cause: error });
}

function unreadable(path: string, cause: unknown, compression?: 'gzip'): BridgeError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const hint =
    code === 'ENOENT' ? 'No such file: check the path.'
    : code === 'EACCES' ? 'Permission denied: check the file mode or run as a user that may read it.'
    : code?.startsWith('Z_') || compression === 'gzip' ? 'The gzip data is corrupt or truncated: re-copy the file or replay the plain text.'
    : `${(cause as Error | undefined)?.message ?? String(cause)}.`;
  return new BridgeError('ERR_INPUT_UNREADABLE', `Cannot read capture ${shown(path)}: ${hint}`, { file: path, cause });
}

function shown(path: string): string {
  return path === '-' ? 'standard input' : path;
}
