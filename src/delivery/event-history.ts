import type { Statement } from 'better-sqlite3';
import type { PtimEvent, PtimFlag, PtimState } from '../events/ptim-event.js';
import type { StateDb } from '../state-db.js';

/**
 * The events sent for each session, for `ptim-bridge sessions --detail` (like Junos' `show
 * security ipsec security-associations detail`): what was queued for JIMS, when, and what became
 * of it (queued, delivered, dead letter). The outbox cannot tell: it deletes a row when JIMS takes
 * it. So each queued event also gets a row in `event_history`, keyed by its outbox seq (one id for
 * both, so acknowledging a batch updates its history rows by primary key with one statement),
 * written in the transaction that queues it, and updated in the one that acknowledges or
 * dead-letters it. Events held back by a push opt-out are not sent and not kept here (stats and
 * `tap` count them).
 *
 * Bounds (the table never grows without limit):
 * - HISTORY_PER_SESSION events per device + client IP (the oldest go first);
 * - the events of a session that ended (a disconnect was queued) are deleted HISTORY_RETENTION_MS
 *   after that disconnect was queued;
 * - HISTORY_MAX_ROWS rows in all (the oldest go first), whatever the number of sessions.
 * Pruning runs in the same transactions, a few indexed deletes per ended session: O(1) per event.
 */
export const HISTORY_PER_SESSION = 64;
export const HISTORY_RETENTION_MS = 24 * 3600 * 1000;
export const HISTORY_MAX_ROWS = 100_000;
/** Rows over the cap before the oldest are deleted (one delete per this many events, not one per event). */
const CAP_SLACK = 1000;

export type DeliveryState = 'queued' | 'delivered' | 'dead-letter';

export interface HistoryEvent {
  /** The outbox seq the event was queued under. */
  seq: number;
  id: string;
  state: PtimState;
  user: string;
  domain: string;
  /** The event's own time (ISO), as sent. */
  time: string;
  flags: PtimFlag[];
  vpn?: string;
  gateway?: string;
  tunnelId?: string;
  /** When it was queued (ISO, wall clock). */
  queuedAt: string;
  delivery: DeliveryState;
  /** When JIMS acknowledged or refused it (ISO). */
  settledAt?: string;
  /** Failed pushes (retries) so far. */
  attempts: number;
  /** JIMS' status for a dead letter. */
  status?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS event_history (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  ip TEXT NOT NULL,
  event_id TEXT NOT NULL,
  state TEXT NOT NULL,
  user TEXT NOT NULL,
  domain TEXT NOT NULL,
  time TEXT NOT NULL,
  flags TEXT NOT NULL,
  vpn TEXT,
  gateway TEXT,
  tunnel_id TEXT,
  queued_at INTEGER NOT NULL,
  delivery TEXT NOT NULL,
  settled_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  status INTEGER
);
CREATE INDEX IF NOT EXISTS event_history_session ON event_history (device, ip, id);
`;

/** One queued event as `flush()` passes it to SQLite (json_each): an array is half the bytes of an object. */
type PendingRow = [seq: number, device: string, ip: string, eventId: string, state: string, user: string, domain: string, time: string, flags: string, vpn: string | null, gateway: string | null, tunnelId: string | null, queuedAt: number];

/** Writes the history; one per delivering process, on its state file connection. */
export class EventHistory {
  readonly #stmt;
  #pending: PendingRow[] = [];
  /** device NUL ip -> rows kept (an estimate after a rolled-back transaction; it only steers pruning). */
  readonly #perKey = new Map<string, number>();
  /** Ended sessions waiting for their retention to pass, oldest first. */
  #ends: Array<{ at: number; device: string; ip: string; upTo: number }> = [];
  #rows = 0;

  /** Creates the table if needed and reads what pruning needs (one pass over at most HISTORY_MAX_ROWS rows). */
  constructor(db: StateDb) {
    db.exec(SCHEMA);
    this.#stmt = {
      insert: db.prepare(`INSERT OR REPLACE INTO event_history (id, device, ip, event_id, state, user, domain, time, flags, vpn, gateway, tunnel_id, queued_at, delivery)
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, 'queued' FROM json_each(?)`) as Statement<[string]>,
      settle: db.prepare('UPDATE event_history SET delivery = ?, settled_at = ?, status = ? WHERE id IN (SELECT value FROM json_each(?))') as Statement<[string, number, number | null, string]>,
      retried: db.prepare('UPDATE event_history SET attempts = attempts + 1 WHERE id IN (SELECT value FROM json_each(?))') as Statement<[string]>,
      trimKey: db.prepare('DELETE FROM event_history WHERE id IN (SELECT id FROM event_history WHERE device = ? AND ip = ? ORDER BY id LIMIT ?)') as Statement<[string, string, number]>,
      endKey: db.prepare('DELETE FROM event_history WHERE device = ? AND ip = ? AND id <= ?') as Statement<[string, string, number]>,
      oldest: db.prepare('DELETE FROM event_history WHERE id IN (SELECT id FROM event_history ORDER BY id LIMIT ?) RETURNING device, ip') as Statement<[number], { device: string; ip: string }>,
    };
    for (const r of db.prepare('SELECT device, ip, count(*) AS n FROM event_history GROUP BY device, ip').all() as Array<{ device: string; ip: string; n: number }>) {
      this.#perKey.set(keyOf(r.device, r.ip), r.n);
      this.#rows += r.n;
    }
    this.#ends = (db.prepare("SELECT device, ip, id, queued_at FROM event_history WHERE state = 'disconnect' ORDER BY queued_at, id").all() as Array<{ device: string; ip: string; id: number; queued_at: number }>)
      .map((r) => ({ at: r.queued_at, device: r.device, ip: r.ip, upTo: r.id }));
  }

  /** Notes a queued event; written by `flush()`. */
  queued(seq: number, event: PtimEvent, at: number): void {
    this.#pending.push([seq, event.device, event.ip, event.id, event.state, event.user, event.domain, event.time, JSON.stringify(event.flags), event.vpn ?? null, event.gateway ?? null, event.tunnelId ?? null, at]);
  }

  /** Writes the queued events (one statement) and prunes; inside the transaction that queued them. */
  flush(now: number): void {
    if (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      this.#stmt.insert.run(JSON.stringify(pending));
      for (const row of pending) {
        const key = keyOf(row[1], row[2]);
        const n = (this.#perKey.get(key) ?? 0) + 1;
        this.#perKey.set(key, n);
        this.#rows++;
        if (n > HISTORY_PER_SESSION) {
          const excess = n - HISTORY_PER_SESSION;
          this.#stmt.trimKey.run(row[1], row[2], excess);
          this.#perKey.set(key, HISTORY_PER_SESSION);
          this.#rows -= excess;
        }
        if (row[4] === 'disconnect') this.#ends.push({ at: row[12], device: row[1], ip: row[2], upTo: row[0] });
      }
    }
    this.#prune(now);
  }

  discard(): void {
    this.#pending = [];
  }

  /** Marks events delivered or dead-lettered; inside the transaction that removed them from the outbox. */
  settled(delivery: Exclude<DeliveryState, 'queued'>, seqs: readonly number[], at: number, status?: number): void {
    if (seqs.length > 0) this.#stmt.settle.run(delivery, at, status ?? null, JSON.stringify(seqs));
  }

  /** Counts a failed push of these events. */
  retried(seqs: readonly number[]): void {
    if (seqs.length > 0) this.#stmt.retried.run(JSON.stringify(seqs));
  }

  #prune(now: number): void {
    let cut = 0;
    while (cut < this.#ends.length && this.#ends[cut]!.at < now - HISTORY_RETENTION_MS) {
      const end = this.#ends[cut++]!;
      const removed = this.#stmt.endKey.run(end.device, end.ip, end.upTo).changes;
      this.#forget(keyOf(end.device, end.ip), removed);
    }
    if (cut > 0) this.#ends = this.#ends.slice(cut);
    if (this.#rows > HISTORY_MAX_ROWS + CAP_SLACK) {
      for (const r of this.#stmt.oldest.all(this.#rows - HISTORY_MAX_ROWS)) this.#forget(keyOf(r.device, r.ip), 1);
    }
  }

  #forget(key: string, removed: number): void {
    if (removed === 0) return;
    this.#rows = Math.max(0, this.#rows - removed);
    const left = (this.#perKey.get(key) ?? 0) - removed;
    if (left > 0) this.#perKey.set(key, left);
    else this.#perKey.delete(key);
  }
}

function keyOf(device: string, ip: string): string {
  return `${device}\u0000${ip}`;
}

/** The history of one device + client IP run, from a connect to its disconnect (or to now). */
export interface HistorySession {
  device: string;
  ip: string;
  /** The user of its first event. */
  user: string;
  domain: string;
  vpn?: string;
  gateway?: string;
  tunnelId?: string;
  /** True while no disconnect ended it. */
  open: boolean;
  /** Events of this session were pruned (HISTORY_PER_SESSION) before the first one shown. */
  truncated: boolean;
  events: HistoryEvent[];
}

interface RawHistory {
  id: number; device: string; ip: string; event_id: string; state: string; user: string; domain: string; time: string; flags: string;
  vpn: string | null; gateway: string | null; tunnel_id: string | null; queued_at: number; delivery: string; settled_at: number | null; attempts: number; status: number | null;
}

/**
 * The kept history of a state file, split into sessions: per device + IP in queue order, a
 * session starts at a connect (or with the first kept event) and ends at a disconnect. Read-only.
 * Filters: device (without case), IP (exact, the event's IPv4 or IPv6 key), user (any event of the
 * session, without case). A file without the table gives [].
 */
export function readHistory(db: StateDb, filter: { device?: string; ip?: string; user?: string } = {}): HistorySession[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_history'").get();
  if (exists === undefined) return [];
  const where: string[] = [];
  const args: string[] = [];
  if (filter.device !== undefined) {
    where.push('device = ? COLLATE NOCASE');
    args.push(filter.device);
  }
  if (filter.ip !== undefined) {
    where.push('ip = ?');
    args.push(filter.ip);
  }
  const rows = db.prepare(`SELECT * FROM event_history ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY device, ip, id`).all(...args) as RawHistory[];
  const sessions: HistorySession[] = [];
  let current: HistorySession | undefined;
  for (const r of rows) {
    const event = toHistoryEvent(r);
    const sameKey = current !== undefined && current.device === r.device && current.ip === r.ip;
    if (current === undefined || !sameKey || !current.open || event.state === 'connect') {
      current = { device: r.device, ip: r.ip, user: r.user, domain: r.domain, open: true, truncated: !sameKey && event.state !== 'connect' && !event.flags.includes('orphan-disconnect'), events: [] };
      if (r.vpn !== null) current.vpn = r.vpn;
      if (r.gateway !== null) current.gateway = r.gateway;
      if (r.tunnel_id !== null) current.tunnelId = r.tunnel_id;
      sessions.push(current);
    }
    current.events.push(event);
    if (event.state === 'disconnect') current.open = false;
  }
  const user = filter.user?.toLowerCase();
  return user === undefined ? sessions : sessions.filter((s) => s.events.some((e) => e.user.toLowerCase() === user));
}

function toHistoryEvent(r: RawHistory): HistoryEvent {
  const e: HistoryEvent = {
    seq: r.id,
    id: r.event_id,
    state: r.state as PtimState,
    user: r.user,
    domain: r.domain,
    time: r.time,
    flags: JSON.parse(r.flags) as PtimFlag[],
    queuedAt: new Date(r.queued_at).toISOString(),
    delivery: r.delivery as DeliveryState,
    attempts: r.attempts,
  };
  if (r.vpn !== null) e.vpn = r.vpn;
  if (r.gateway !== null) e.gateway = r.gateway;
  if (r.tunnel_id !== null) e.tunnelId = r.tunnel_id;
  if (r.settled_at !== null) e.settledAt = new Date(r.settled_at).toISOString();
  if (r.status !== null) e.status = r.status;
  return e;
}
