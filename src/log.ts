import { pino, destination, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** stdout for a service; stderr when stdout carries data (NDJSON events, reports). */
  destination?: 'stdout' | 'stderr';
  /** Human-readable lines; defaults to on when a person is watching (a TTY). */
  pretty?: boolean;
}

/**
 * The process logger: pino JSON, pretty on a terminal. Modules take a child:
 * `log.child({ module: 'ingest/tcp' })`. Untrusted text (a received line) goes under the fixed
 * key `input`, never into the message, so a crafted line cannot forge log structure.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const fd = options.destination === 'stderr' ? 2 : 1;
  const isTty = fd === 2 ? process.stderr.isTTY : process.stdout.isTTY;
  const level = options.level ?? 'info';
  const redact = {
    paths: ['*.clientSecret', '*.client_secret', '*.access_token', '*.refresh_token', '*.id_token', '*.accessToken', '*.authorization', '*.headers.authorization', '*.password', 'authorization', 'clientSecret', 'secret'],
    censor: '[redacted]',
  };
  // pino-pretty as a stream in this thread, never `pino({ transport })`: pino's transports start a
  // worker from files found through __dirname, which the bundled CLI (dist/bundle/) has not.
  if (options.pretty ?? isTty) {
    return pino({ level, redact }, pretty({ destination: fd, sync: true, colorize: isTty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, redact, base: { pid: process.pid } }, destination({ fd, sync: false }));
}

/** A logger that discards everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Logs at most `perInterval` messages per key per interval and counts the rest, so a flood of
 * bad input cannot flood the log. The suppressed count is reported with the next message.
 */
export class RateLimitedLog {
  readonly #log: Logger;
  readonly #perInterval: number;
  readonly #intervalMs: number;
  readonly #windows = new Map<string, { start: number; logged: number; suppressed: number }>();

  constructor(log: Logger, perInterval = 5, intervalMs = 10_000) {
    this.#log = log;
    this.#perInterval = perInterval;
    this.#intervalMs = intervalMs;
  }

  warn(key: string, fields: Record<string, unknown>, message: string, now = Date.now()): void {
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.#intervalMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, logged: 0, suppressed: 0 };
      this.#windows.set(key, w);
      if (this.#windows.size > 1000) this.#windows.clear();
      if (suppressed > 0) fields = { ...fields, suppressed };
    }
    if (w.logged < this.#perInterval) {
      w.logged++;
      this.#log.warn({ reason: key, ...fields }, message);
    } else {
      w.suppressed++;
    }
  }
}
