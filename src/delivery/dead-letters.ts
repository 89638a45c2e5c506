import { BridgeError } from '../errors.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { StateDb } from '../state-db.js';
import { redactSecrets } from '../redact.js';
import { ensureOutboxSchema } from './outbox.js';

/** One batch JIMS refused, as `dlq list` shows it (the events stay in the database). */
export interface DeadLetter {
  id: number;
  batchId: string;
  status: number;
  body: string;
  /** ms since the epoch. */
  time: number;
  eventCount: number;
}

interface StoredEvent {
  seq: number;
  ip: string;
  receivedAt: number;
  event: PtimEvent;
}

export interface MoveResult {
  letters: number;
  events: number;
}

/**
 * The dead-letter table the forwarder fills (see Outbox.deadLetter), for people: list, put back
 * into the outbox, purge. Safe to use from another process while the bridge runs: each change is
 * one transaction, and the running forwarder notices it (PRAGMA data_version) within a second.
 */
export class DeadLetters {
  readonly #db: StateDb;

  constructor(db: StateDb) {
    this.#db = db;
    ensureOutboxSchema(db);
  }

  /**
   * All dead letters, oldest first, without their events. `bodyChars` cuts each body in SQL, so a
   * table of many letters does not load every full error page. Bodies are redacted again on the
   * way out, so letters stored before redaction existed show no credentials either.
   */
  list(options: { bodyChars?: number } = {}): DeadLetter[] {
    const body = options.bodyChars === undefined ? 'body' : `substr(body, 1, ${Math.max(0, Math.floor(options.bodyChars))}) AS body`;
    const rows = this.#db.prepare(`SELECT id, batch_id, status, ${body}, time, event_count FROM dead_letters ORDER BY id`).all() as Array<{ id: number; batch_id: string; status: number; body: string; time: number; event_count: number }>;
    return rows.map((r) => ({ id: r.id, batchId: r.batch_id, status: r.status, body: redactSecrets(r.body), time: r.time, eventCount: r.event_count }));
  }

  /**
   * Moves dead letters (all when `ids` is empty) back into the outbox in one transaction. Each
   * event gets its original seq back, so it regains its place in line: ahead of any later event
   * of the same IP still waiting, and in its original order within and across batches.
   * @throws BridgeError ERR_USAGE naming an id that does not exist (nothing is moved then).
   */
  retry(ids: readonly number[] = []): MoveResult {
    const insert = this.#db.prepare('INSERT OR IGNORE INTO outbox (seq, ip, received_at, event) VALUES (?, ?, ?, ?)');
    const remove = this.#db.prepare('DELETE FROM dead_letters WHERE id = ?');
    const get = this.#db.prepare('SELECT events FROM dead_letters WHERE id = ?');
    return this.#db.transaction((): MoveResult => {
      const chosen = this.#resolve(ids);
      let events = 0;
      for (const id of chosen) {
        const row = get.get(id) as { events: string };
        for (const e of JSON.parse(row.events) as StoredEvent[]) {
          insert.run(e.seq, e.ip, e.receivedAt, JSON.stringify(e.event));
          events++;
        }
        remove.run(id);
      }
      return { letters: chosen.length, events };
    })();
  }

  /**
   * Deletes dead letters (all when `ids` is empty) for good.
   * @throws BridgeError ERR_USAGE naming an id that does not exist (nothing is deleted then).
   */
  purge(ids: readonly number[] = []): MoveResult {
    const remove = this.#db.prepare('DELETE FROM dead_letters WHERE id = ?');
    return this.#db.transaction((): MoveResult => {
      const chosen = this.#resolve(ids);
      const events = this.#count(chosen);
      for (const id of chosen) remove.run(id);
      return { letters: chosen.length, events };
    })();
  }

  /** What `purge(ids)` would delete, for the confirmation question. Same errors as purge. */
  preview(ids: readonly number[] = []): MoveResult {
    const chosen = this.#resolve(ids);
    return { letters: chosen.length, events: this.#count(chosen) };
  }

  #count(ids: readonly number[]): number {
    const get = this.#db.prepare('SELECT event_count FROM dead_letters WHERE id = ?');
    return ids.reduce((sum, id) => sum + (get.get(id) as { event_count: number }).event_count, 0);
  }

  #resolve(ids: readonly number[]): number[] {
    const existing = new Set((this.#db.prepare('SELECT id FROM dead_letters ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id));
    if (ids.length === 0) return [...existing];
    const missing = ids.filter((id) => !existing.has(id));
    if (missing.length > 0) {
      throw new BridgeError('ERR_USAGE', `No dead letter with id ${missing.join(', ')}; run \`ptim-bridge dlq list\` to see the ids.`);
    }
    return [...new Set(ids)].sort((a, b) => a - b);
  }
}
