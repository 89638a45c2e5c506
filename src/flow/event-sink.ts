import type { PtimEvent } from '../events/ptim-event.js';

/**
 * Where a tick's events go (src/flow/tick.ts): the one contract for live intake, the rekey watch
 * and replay. Events are queued inside the tick's transaction and released after its commit, so a
 * session change and the event it made are kept together or not at all.
 *
 * Sinks: the delivery (outbox in the same database), `OutboxSink` (an outbox in another database:
 * a delivering replay), `PrintingSink` (live --dry-run), `NdjsonSink` (replay --dry-run),
 * `CountingSink` (pattern coverage); `holdBack` (push opt-outs) wraps any of them.
 */
export interface EventSink {
  /** Inside the transaction: the events one candidate (or one run of the watch) made, in order. */
  queue(events: readonly PtimEvent[], receivedAt: number): void;
  /** The transaction's last step: write what the sink keeps per transaction (delivery statistics, history). */
  beforeCommit?(): void;
  /** The transaction committed: release what was queued (wake the forwarder, print). */
  committed(): void;
  /** The transaction rolled back: forget what it queued (a sink that queues in the database need not act). */
  discard?(): void;
  /**
   * For a sink whose reader can fall behind (stdout): resolves once released events were handed on,
   * when enough wait or always with `force`, honouring back-pressure. Replay awaits it between reads.
   */
  flush?(force?: boolean): Promise<void>;
  /** True once nobody takes the output any more (the reader of stdout went away): replay stops reading. */
  readonly closed?: boolean;
}
