import { createReadStream, statSync } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BridgeError } from '../errors.js';

/**
 * Readers for text captures: a plain file, a gzip file (recognised by its magic bytes, not its
 * name), or standard input (`-`). They yield raw chunks; line cutting is the scanner's job.
 */

const CHUNK_BYTES = 1024 * 1024;

export interface CaptureInfo {
  /** Size on disk (compressed size for .gz), or undefined for stdin and pipes. */
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

/**
 * Yields the decompressed bytes of a capture in chunks of about 1 MiB. `onRawBytes` reports bytes
 * read from the source (compressed bytes for gzip), for progress.
 * @throws BridgeError ERR_INPUT_UNREADABLE (during iteration) when the file cannot be read or a
 *   gzip stream is corrupt.
 */
export async function* readCapture(path: string, onRawBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  const raw: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    let first: IteratorResult<Buffer>;
    try {
      first = await it.next();
    } catch (cause) {
      throw unreadable(path, cause);
    }
    if (first.done) return;
    onRawBytes?.(first.value.length);
    const isGzip = first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b;
    const rest = async function* (): AsyncGenerator<Buffer> {
      yield first.value;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        onRawBytes?.(n.value.length);
        yield n.value;
      }
    };
    const source = isGzip ? gunzipped(Readable.from(rest(), { objectMode: false })) : rest();
    try {
      for await (const chunk of source) yield chunk as Buffer;
    } catch (cause) {
      throw unreadable(path, cause);
    }
  } finally {
    if (path !== '-') raw.destroy();
  }
}

function gunzipped(source: Readable): Readable {
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  // pipeline forwards a source error into gunzip, so the consumer's loop sees it.
  pipeline(source, gunzip, () => {});
  return gunzip;
}

function unreadable(path: string, cause: unknown): BridgeError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const what = path === '-' ? 'standard input' : path;
  const hint =
    code === 'ENOENT' ? 'No such file: check the path.'
    : code === 'EACCES' ? 'Permission denied: check the file mode or run as a user that may read it.'
    : code?.startsWith('Z_') ? 'The gzip data is corrupt or truncated: re-copy the file or replay the plain text.'
    : `${(cause as Error | undefined)?.message ?? String(cause)}.`;
  return new BridgeError('ERR_INPUT_UNREADABLE', `Cannot read capture ${what}: ${hint}`, { file: path, cause });
}
