import type { Writable } from 'node:stream';

/**
 * Collects output lines and writes them in chunks of about 64 KiB: one write per event would cost
 * more than matching the event did. `write` is synchronous; `flush` honours back-pressure.
 */
export class NdjsonWriter {
  readonly #out: Writable;
  readonly #chunkChars: number;
  // One growing string: V8 appends by building a rope, cheaper than an array joined later.
  #text = '';
  #closed = false;

  constructor(out: Writable, options: { chunkChars?: number } = {}) {
    this.#out = out;
    this.#chunkChars = options.chunkChars ?? 64 * 1024;
    // A reader that went away (`| head`) ends the output, not the process.
    out.on('error', () => {
      this.#closed = true;
    });
  }

  /** Queues one value as a JSON line. */
  write(value: unknown): void {
    this.#text += `${JSON.stringify(value)}\n`;
  }

  /** Where the queued text ends now: `rewind` to it takes back what was queued after. */
  mark(): number {
    return this.#text.length;
  }

  /** Takes back the lines queued since `mark` returned `at` (no `flush` may come between). */
  rewind(at: number): void {
    this.#text = this.#text.slice(0, at);
  }

  /** Writes queued lines when there are enough of them (or always, with `force`). */
  async flush(force = false): Promise<void> {
    if (this.#text.length === 0 || (!force && this.#text.length < this.#chunkChars)) return;
    const text = this.#text;
    this.#text = '';
    if (this.#closed) return;
    if (!this.#out.write(text)) await this.#drained();
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
