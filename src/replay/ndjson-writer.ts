import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Collects output lines and writes them in chunks of about 64 KiB: one write per event would cost
 * more than matching the event did. `write` is synchronous; `flush` honours back-pressure.
 */
export class NdjsonWriter {
  readonly #out: Writable;
  readonly #chunkChars: number;
  #parts: string[] = [];
  #chars = 0;
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
    const line = `${JSON.stringify(value)}\n`;
    this.#parts.push(line);
    this.#chars += line.length;
  }

  /** Writes queued lines when there are enough of them (or always, with `force`). */
  async flush(force = false): Promise<void> {
    if (this.#chars === 0 || (!force && this.#chars < this.#chunkChars)) return;
    const text = this.#parts.join('');
    this.#parts = [];
    this.#chars = 0;
    if (this.#closed) return;
    if (!this.#out.write(text)) await Promise.race([once(this.#out, 'drain'), once(this.#out, 'error'), once(this.#out, 'close')]);
  }
}
