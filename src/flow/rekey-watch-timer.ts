import type { PtimEvent } from '../events/ptim-event.js';
import type { Tick } from './tick.js';

export interface RekeyWatchTimerOptions {
  /** The tick the expiries run in (the same table and sink as the intake's). */
  tick: Pick<Tick, 'run' | 'expire'>;
  /** How often the watch runs; default 1,000 ms. */
  everyMs?: number;
  /** The wall clock; tests pass their own. */
  now?: () => number;
  /** A tick that throws (a full disk) is reported here and retried at the next tick. */
  onError?: (error: unknown) => void;
}

/**
 * Runs the live rekey watch on the wall clock, so a quiet night still ends stale sessions: every
 * `everyMs`, one tick of `expire(now())` (the session changes and the disconnects they queue in
 * the sink commit together). The timer does not keep the process alive.
 */
export class RekeyWatchTimer {
  readonly #options: RekeyWatchTimerOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RekeyWatchTimerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.tick(), this.#options.everyMs ?? 1000);
    this.#timer.unref();
  }

  /** One run of the watch; returns the events it queued. Never throws (see `onError`). */
  tick(): readonly PtimEvent[] {
    const { tick, now = Date.now, onError } = this.#options;
    try {
      return tick.run(() => tick.expire(now()));
    } catch (error) {
      onError?.(error);
      return [];
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
