import type { PtimEvent } from '../events/ptim-event.js';
import type { SessionTable } from '../events/sessions.js';

export interface RekeyWatchTimerOptions {
  table: Pick<SessionTable, 'expire' | 'transaction'>;
  /** Queues the expiry disconnects; runs inside the table's transaction (e.g. `outbox.add`). */
  queue: (events: readonly PtimEvent[]) => void;
  /** Runs after a commit that queued events (e.g. `forwarder.notify()`). */
  afterCommit?: () => void;
  /** How often the watch runs; default 1,000 ms. */
  everyMs?: number;
  /** The wall clock; tests pass their own. */
  now?: () => number;
  /** A tick that throws (a full disk) is reported here and retried at the next tick. */
  onError?: (error: unknown) => void;
}

/**
 * Runs the live rekey watch on the wall clock, so a quiet night still ends stale sessions: every
 * `everyMs`, `table.expire(now())` in one transaction with `queue` (its events and the session
 * changes commit together), then `afterCommit`. The timer does not keep the process alive.
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
    const { table, queue, afterCommit, now = Date.now, onError } = this.#options;
    let events: readonly PtimEvent[] = [];
    try {
      events = table.transaction(() => {
        const expired = table.expire(now());
        if (expired.length > 0) queue(expired);
        return expired;
      });
    } catch (error) {
      onError?.(error);
      return [];
    }
    if (events.length > 0) afterCommit?.();
    return events;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
