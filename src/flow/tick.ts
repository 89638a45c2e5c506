import { toEvent, type PtimCandidate, type PtimEvent } from '../events/ptim-event.js';
import type { SessionTable } from '../events/sessions.js';
import type { EventSink } from './event-sink.js';

/**
 * What a tick applies candidates to: the session table (`SessionTable` is one), or `LINE_STATES`
 * where there is none.
 */
export interface TickTable {
  transaction: SessionTable['transaction'];
  apply(candidate: PtimCandidate, receivedAt: number): readonly PtimEvent[];
  expire(now: number): readonly PtimEvent[];
}

/**
 * No session table (pattern coverage, tests): every up is a connect, every down a disconnect,
 * nothing expires, and there is no transaction to keep.
 */
export const LINE_STATES: TickTable = {
  transaction: (fn) => fn(),
  apply: (candidate) => [toEvent(candidate, candidate.line === 'up' ? 'connect' : 'disconnect')],
  expire: () => [],
};

/**
 * `table`, with every batch of its events passed through `select` before a sink sees it (replay
 * marks events `replayed`, a dry-run replay leaves out push: false ones before they are counted).
 */
export function selectEvents(table: TickTable, select: (events: readonly PtimEvent[]) => readonly PtimEvent[]): TickTable {
  return {
    transaction: (fn) => table.transaction(fn),
    apply: (candidate, receivedAt) => select(table.apply(candidate, receivedAt)),
    expire: (now) => select(table.expire(now)),
  };
}

/**
 * The one step live intake, the rekey watch and replay share: a batch of work (one event-loop
 * turn's messages, one run of the watch, one read chunk of a capture) goes table -> sink in one
 * transaction. Inside `run`, the caller puts each message through its pipeline and hands the
 * candidates to `apply` (or calls `expire`); their events are queued in the sink. The sink's
 * `beforeCommit` is the transaction's last step and `committed` follows the commit; a tick that
 * queued nothing leaves the sink alone.
 */
export class Tick {
  readonly #table: TickTable;
  readonly #sink: EventSink;
  #queued = false;

  constructor(options: { table: TickTable; sink: EventSink }) {
    this.#table = options.table;
    this.#sink = options.sink;
  }

  /**
   * Runs `work` as one tick and returns what it returned. Do not nest.
   * @throws whatever `work`, the table or the sink threw: the transaction rolled back (the table
   *   reloaded) and the sink discarded what it queued.
   */
  run<T>(work: () => T): T {
    this.#queued = false;
    let result: T;
    try {
      result = this.#table.transaction(() => {
        const r = work();
        if (this.#queued) this.#sink.beforeCommit?.();
        return r;
      });
    } catch (error) {
      if (this.#queued) this.#sink.discard?.();
      this.#queued = false;
      throw error;
    }
    if (this.#queued) {
      this.#queued = false;
      this.#sink.committed();
    }
    return result;
  }

  /** Inside `run`: one candidate through the table; its events (usually one) go to the sink. */
  apply(candidate: PtimCandidate, receivedAt: number): readonly PtimEvent[] {
    return this.queue(this.#table.apply(candidate, receivedAt), receivedAt);
  }

  /** Inside `run`: the rekey watch at `now`; the disconnects of the sessions it ended go to the sink. */
  expire(now: number): readonly PtimEvent[] {
    return this.queue(this.#table.expire(now), now);
  }

  /** Inside `run`: events made beside the table (replay's --final-state connects) go to the sink. */
  queue(events: readonly PtimEvent[], receivedAt: number): readonly PtimEvent[] {
    if (events.length === 0) return events;
    // Set first: a sink that throws half-way still gets its discard.
    this.#queued = true;
    this.#sink.queue(events, receivedAt);
    return events;
  }
}
