import type { Writable } from 'node:stream';

/**
 * Collects output lines and writes them in chunks of about 64 KiB: one write per event would cost
 * more than matching the event did. `write` is synchronous; `flush` honours back-pressure.
 */
export class NdjsonWriter {
  readonly #out: Writable;
  readonly #chunkBytes: number;
  // Lines are encoded into a buffer as they come, not kept as strings until the flush: a read
  // chunk's worth of strings outlived the young generation, and the collector copied each of them
  // twice (a tenth of a VPN-only replay). A buffer's bytes are never copied by the collector.
  #buf: Buffer;
  #length = 0;
  #closed = false;

  /** `chunkBytes`: how much is queued before `flush` writes (default 64 KiB). */
  constructor(out: Writable, options: { chunkBytes?: number } = {}) {
    this.#out = out;
    this.#chunkBytes = options.chunkBytes ?? 64 * 1024;
    this.#buf = Buffer.allocUnsafe(2 * this.#chunkBytes + 1024);
    // A reader that went away (`| head`) ends the output, not the process.
    out.on('error', () => {
      this.#closed = true;
    });
  }

  /** Queues one value as a JSON line. */
  write(value: unknown): void {
    const json = JSON.stringify(value);
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the line feed one more.
    if (this.#length + 3 * json.length + 1 > this.#buf.length) this.#grow(3 * json.length + 1);
    this.#length += this.#buf.write(json, this.#length);
    this.#buf[this.#length++] = 0x0a;
  }

  /** Where the queued text ends now: `rewind` to it takes back what was queued after. */
  mark(): number {
    return this.#length;
  }

  /** Takes back the lines queued since `mark` returned `at` (no `flush` may come between). */
  rewind(at: number): void {
    this.#length = at;
  }

  /** Writes queued lines when there are enough of them (or always, with `force`). */
  async flush(force = false): Promise<void> {
    if (this.#length === 0 || (!force && this.#length < this.#chunkBytes)) return;
    // The stream keeps the bytes until they are written. A full buffer goes to it, and the next lines
    // get a new one; a forced flush of a few lines (run --dry-run flushes every turn) goes as a copy,
    // so the stream's queue does not hold a whole buffer for each of them.
    let bytes: Buffer;
    if (this.#length >= this.#chunkBytes / 2) {
      bytes = this.#buf.subarray(0, this.#length);
      this.#buf = Buffer.allocUnsafe(Math.max(2 * this.#chunkBytes + 1024, this.#length));
    } else {
      bytes = Buffer.from(this.#buf.subarray(0, this.#length));
    }
    this.#length = 0;
    if (this.#closed) return;
    if (!this.#out.write(bytes)) await this.#drained();
  }

  /** Room for `bytes` more after what is queued. */
  #grow(bytes: number): void {
    const bigger = Buffer.allocUnsafe(2 * (this.#length + bytes));
    this.#buf.copy(bigger, 0, 0, this.#length);
    this.#buf = bigger;
  }

  /** True once the reader went away: there is no point producing more output. */
  get closed(): boolean {
    return this.#closed;
  }

  #drained(): Promise<void> {
    // Not events.once: it rejects on 'error', and a closed reader is an end, not a failure.
    return new Promise((resolve) => {
      const done = () => {
        this.#out.off('drain', done).off('error', done).off('close', done);
        resolve();
      };
      this.#out.on('drain', done).on('error', done).on('close', done);
    });
  }
}
