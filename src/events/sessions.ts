import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import { RateLimitedLog, silentLogger, type Logger } from '../log.js';
import { counter, gauge, hotCounter } from '../ops/metrics.js';
import type { StateDb } from '../state-db.js';
import { lineDigest, type PtimCandidate, type PtimEvent, type PtimFlag } from './ptim-event.js';
import { DeadlineHeap } from './deadline-heap.js';
import { checkLineTime, RecentLines } from './line-checks.js';
import { applyRule, runWatch, type Note, type Session, type Transition, type WatchSettings } from './session-rules.js';

export type SessionClock = 'wall' | 'capture';

/** One live session as the `sessions` command and the API show it. Times are ISO strings. */
export interface SessionRow {
  device: string;
  ip: string;
  ipv6?: string;
  user: string;
  domain: string;
  vpn?: string;
  tunnelId?: string;
  peer?: string;
  since: string;
  lastRekey?: string;
  /** When the next rekey is due; absent when the watch is off for this VPN. */
  nextDeadline?: string;
  missedRekeys: number;
  flags: PtimFlag[];
}

export interface SessionTableOptions {
  db: StateDb;
  config: Config;
  clock: SessionClock;
  log?: Logger;
  registry?: Registry;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session_snapshot (
  part INTEGER PRIMARY KEY,
  sessions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_clocks (
  device TEXT PRIMARY KEY,
  clock INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entries TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_tombstones (
  part INTEGER PRIMARY KEY,
  tombstones TEXT NOT NULL
);
`;

/**
 * One change, as journalled (arrays: half the bytes of objects): a session's new image, a
 * session ended, or only a device clock moved. The second item is the device clock after the
 * change (capture mode), null on the wall clock. An end carries the key's last applied line time,
 * kept as its tombstone (absent in journals written before issue 8).
 */
type JournalEntry =
  | [typeof OP_PUT, number | null, ...SessionValues]
  | [typeof OP_END, number | null, device: string, ip: string, lastLineAt?: number]
  | [typeof OP_CLOCK, number, device: string]
  | [typeof OP_PATCH, number | null, device: string, ip: string, ...changes: unknown[]];

const OP_END = 0;
const OP_PUT = 1;
const OP_CLOCK = 2;
/** Changed values only, as (index in SessionValues, value) pairs: a rekey is a third of a full image. */
const OP_PATCH = 3;

/** A session as a compact list of values, as the snapshot and the journal store it. */
type SessionValues = [
  device: string, ip: string, ipv6: string | null, user: string, domain: string, sender: string, vpn: string | null,
  gateway: string | null, tunnelId: string | null, peer: string | null, pattern: string, lineFlags: PtimFlag[],
  connectFlags: PtimFlag[], since: number, lastRekey: number | null, intervalMs: number, deadline: number | null, missed: number,
  // Added by issue 8; undefined when read from an older state file.
  lastLineAt?: number | null, openId?: string,
];

/** Journal entries below which the journal is never folded into the snapshot (see #flush). */
const MIN_COMPACT_ENTRIES = 65_536;

/**
 * Tombstones kept at most (~100 bytes each). Past it the oldest are forgotten first; only a flood of
 * made-up client IPs gets there (the retention bounds the rest).
 */
export const MAX_TOMBSTONES = 500_000;
/** A tombstone is kept for max(lineChecks.timeWindowSeconds, this) of the table's clock. */
const MIN_TOMBSTONE_RETENTION_MS = 86_400_000;

/** Why a line produced no event, for `ptim_bridge_session_lines_ignored_total`. */
type IgnoredReason = 'late-down-ignored' | 'stale-line' | 'duplicate' | 'time-out-of-window';

/**
 * The live VPN session table (issue 4): turns UP/DOWN candidates into connect / rekey / disconnect
 * events, and ends sessions whose rekeys stopped.
 *
 * Storage: the table is held in memory (a Map, and a deadline heap per device for the watch) and
 * made durable in the shared SQLite file as an append-only journal (one row per transaction),
 * folded into a snapshot (`session_snapshot`, JSON parts) once the journal holds twice as many
 * changes as the table has sessions. A restart loads the snapshot, then the journal, and continues
 * with the same sessions, deadlines and device clocks. Why not a row per session: updating rows in
 * place cost a random B-tree page per change (~30k transitions/s with 100k sessions), and a
 * statement costs ~5 us on the reference machine, so the hot path writes one row per batch.
 *
 * Transactions: `transaction(fn)` is the fast path (the bridge's tick, replay's chunk): changes are
 * buffered and written in one statement before commit, and a throw rolls back and reloads the
 * table. Calls made outside it (in the caller's own `db.transaction`, or in autocommit) are written
 * through at once, and each first checks that the journal is where the table left it, so a
 * rolled-back transaction of the caller is noticed and the memory reloaded.
 *
 * Clocks: 'wall' (live) takes the receipt time as now and the caller runs `expire(Date.now())` on a
 * timer. 'capture' (replay) keeps one clock per device, the latest line time seen from it; a line
 * older than its device's clock is applied at that clock (arrival order, the clock never goes back)
 * and each advance runs that device's watch first.
 *
 * Line checks (issue 8), in this order, before the rules: live only, a line time further than
 * `lineChecks.timeWindowSeconds` from the receipt time is rejected or clamped to the receipt time
 * (`lineChecks.outOfWindow`); the same lineKey again within `lineChecks.duplicateWindowSeconds` on
 * the table's clock (receipt live, the line's own time in replay) is a duplicate, applied once; the
 * rules then ignore a stale line (session-rules.ts), judged against the live session's last line
 * time or, once it ended, the key's tombstone. Tombstones are journalled with the end and
 * snapshotted in `session_tombstones`, so a restart keeps them; one counts while its line time is
 * within the retention (max(time window, 1 day)) of the table's clock, which live is never shorter
 * than the time window, so forgetting it later cannot change an outcome. The duplicate memory is not
 * stored: after a restart or a rollback a copy is applied again and meets the stale rule (equal
 * times: a rekey or an orphan-disconnect with the id of the original's event).
 */
export class SessionTable {
  readonly #db: StateDb;
  readonly #clock: SessionClock;
  #settings: WatchSettings;
  readonly #log: Logger;
  readonly #rateLog: RateLimitedLog;
  readonly #stmt: ReturnType<typeof prepare>;
  readonly #sessions = new Map<string, Session>();
  readonly #heaps = new Map<string, DeadlineHeap>();
  readonly #clocks = new Map<string, number>();
  /** Per key without a live session: the last applied line time (insertion order = oldest first). */
  readonly #tombs = new Map<string, number>();
  #tombSweepAt = 1024;
  #retentionMs = 0;
  #recent: RecentLines;
  #duplicateWindowMs = 0;
  #timeWindowMs = 0;
  #clampOutOfWindow = false;
  /** The latest wall-clock now seen (the clock tombstones are swept by on 'wall'). */
  #wallNow = -Infinity;
  /** Devices whose clock moved since the journal was last folded into the snapshot. */
  readonly #dirtyClocks = new Set<string>();
  #journalEntries = 0;
  /** The journal's last sequence number as this table wrote it; anything else means a rollback. */
  #lastSeq: number | undefined;
  /** Entries not yet written; only non-empty inside transaction(). */
  #pending: JournalEntry[] = [];
  #inOwnTransaction = false;
  readonly #runTransaction: <T>(fn: () => T) => T;
  readonly #transitions;
  readonly #ignored;
  /** Lines ignored since the table was opened, by reason (for the replay summary). */
  readonly #ignoredTally: Partial<Record<IgnoredReason, number>> = {};
  readonly #rekeyMissing;
  readonly #expired;
  readonly #clamped;

  /**
   * Creates the tables if needed and loads the table into memory.
   * @throws BridgeError ERR_STATE_UNREADABLE when the stored table cannot be read.
   */
  constructor(options: SessionTableOptions) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#settings = settingsOf(options.config);
    this.#recent = new RecentLines(0);
    this.reconfigure(options.config);
    this.#log = (options.log ?? silentLogger()).child({ module: 'events/sessions' });
    this.#rateLog = new RateLimitedLog(this.#log);
    this.#db.exec(SCHEMA);
    this.#stmt = prepare(this.#db);
    const tx = this.#db.transaction((fn: () => unknown) => {
      this.#sync();
      this.#inOwnTransaction = true;
      const result = fn();
      this.#flush();
      return result;
    });
    this.#runTransaction = <T>(fn: () => T): T => tx(fn) as T;
    try {
      this.#load();
    } catch (cause) {
      throw new BridgeError('ERR_STATE_UNREADABLE', `The session table in ${this.#db.name} cannot be read (${(cause as Error).message}). Move the state file aside to start with an empty table; the sessions it held end at their next DOWN or rekey.`, { file: this.#db.name, cause });
    }

    const registry = options.registry;
    const transitions = registry ? hotCounter(counter(registry, 'ptim_bridge_session_transitions_total', 'Session table transitions by kind', ['transition']), 'transition') : undefined;
    this.#transitions = (t: Transition) => transitions?.(t);
    const ignored = registry ? counter(registry, 'ptim_bridge_session_lines_ignored_total', 'Matched lines that produced no event, by reason', ['reason']) : undefined;
    const ignoredLabels = cacheLabels<IgnoredReason>((r) => ignored?.labels(r));
    this.#ignored = (reason: IgnoredReason) => {
      this.#ignoredTally[reason] = (this.#ignoredTally[reason] ?? 0) + 1;
      return ignoredLabels(reason);
    };
    this.#clamped = registry ? counter(registry, 'ptim_bridge_session_line_times_clamped_total', 'Live lines whose time was out of window and replaced by the receipt time') : undefined;
    this.#rekeyMissing = registry ? counter(registry, 'ptim_bridge_session_rekey_missing_total', 'Sessions whose rekey deadline passed without an UP') : undefined;
    this.#expired = registry ? counter(registry, 'ptim_bridge_session_expired_total', 'Sessions ended by the rekey watch') : undefined;
    if (registry) {
      const live = gauge(registry, 'ptim_bridge_sessions_live', 'Live VPN sessions in the table');
      const map = this.#sessions;
      // Read at scrape time rather than tracked on every transition.
      (live as unknown as { collect?: () => void }).collect = function (this: typeof live) {
        this.set(map.size);
      };
    }
  }

  /**
   * Takes new settings (a config reload): rekey intervals, grace and misses (per VPN too), and the
   * line checks. Sessions keep the deadlines they have; their next UP is judged by the new
   * settings. A longer duplicate window starts with what the shorter one remembered.
   */
  reconfigure(config: SessionTableOptions['config']): void {
    this.#settings = settingsOf(config);
    const { lineChecks } = config;
    this.#timeWindowMs = 1000 * lineChecks.timeWindowSeconds;
    this.#clampOutOfWindow = lineChecks.outOfWindow === 'clamp';
    this.#retentionMs = Math.max(this.#timeWindowMs, MIN_TOMBSTONE_RETENTION_MS);
    this.#duplicateWindowMs = 1000 * lineChecks.duplicateWindowSeconds;
    this.#recent.maxWindowMs = this.#duplicateWindowMs;
  }

  /** How many matched lines gave no event since the table was opened, by reason (stale-line, duplicate, ...). */
  ignoredCounts(): Readonly<Partial<Record<IgnoredReason, number>>> {
    return { ...this.#ignoredTally };
  }

  /**
   * Runs `fn` in one database transaction (the same connection, so the outbox's writes in `fn`
   * commit with the session changes). The table's changes are written in one statement before
   * the commit. When `fn` throws, the transaction rolls back, the table reloads its state from the
   * file, and the error is rethrown. Do not nest it in another transaction.
   */
  transaction<T>(fn: () => T): T {
    try {
      return this.#runTransaction(fn);
    } catch (error) {
      this.#pending = [];
      this.#load();
      throw error;
    } finally {
      this.#inOwnTransaction = false;
    }
  }

  /**
   * The same fast path as `transaction()`, for callers that cannot put their work in one callback
   * (replay commits between asynchronous reads): `begin()` opens a database transaction, `commit()`
   * writes the table's changes and commits, `rollback()` undoes both and reloads the table.
   * @throws Error when a transaction is already open on the connection.
   */
  begin(): void {
    if (this.#db.inTransaction) throw new Error('SessionTable.begin(): a transaction is already open on this connection');
    this.#db.exec('BEGIN');
    try {
      this.#sync();
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    this.#inOwnTransaction = true;
  }

  /** Writes the changes made since `begin()` and commits. On a throw, call `rollback()`. */
  commit(): void {
    this.#flush();
    this.#db.exec('COMMIT');
    this.#inOwnTransaction = false;
  }

  /** Rolls back the transaction `begin()` opened (if still open) and reloads the table from the file. */
  rollback(): void {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#inOwnTransaction = false;
    this.#load();
  }

  /**
   * Applies one line's candidate and returns its events in order: usually one; a superseded
   * disconnect before a connect; none for an ignored DOWN. In 'capture' mode the device's watch
   * runs first and may add expiry disconnects before them. Synchronous; never throws on any
   * candidate (a broken database still throws).
   */
  apply(candidate: PtimCandidate, receivedAt: number): PtimEvent[] {
    if (!this.#inOwnTransaction) this.#sync();
    // Parsed and digested once: both are needed by the checks and by the rules.
    let lineTime = Date.parse(candidate.time);
    if (this.#clock === 'wall') {
      if (receivedAt > this.#wallNow) this.#wallNow = receivedAt;
      const check = checkLineTime(lineTime, receivedAt, this.#timeWindowMs);
      if (check.kind === 'out-of-window') {
        const clamped = this.#outOfWindow(candidate, check.skewMs, receivedAt);
        if (clamped === undefined) return [];
        candidate = clamped;
        lineTime = receivedAt;
      }
    }
    const digest = lineDigest(candidate.lineKey);
    // Replay only: a line timed exactly at its receipt time had no time of its own (normalize stands
    // the receipt time in for a missing header time, and a replay's receipt time is the file's mtime
    // or --now). It is not judged by, and does not move, the stale mark or the duplicate memory.
    const untimed = this.#clock === 'capture' && lineTime === receivedAt;
    if (!untimed && this.#isDuplicate(candidate, digest, lineTime, receivedAt)) return [];
    const events: PtimEvent[] = [];
    const device = candidate.device;
    const before = this.#pending.length;
    let now: number;
    let advanced = false;
    if (this.#clock === 'capture') {
      const clock = this.#clocks.get(device);
      now = Number.isFinite(lineTime) ? lineTime : receivedAt;
      if (clock !== undefined && now <= clock) {
        now = clock;
      } else {
        advanced = true;
        this.#clocks.set(device, now);
        this.#dirtyClocks.add(device);
        this.#watchDevice(device, now, events);
      }
    } else {
      now = receivedAt;
    }
    const key = keyOf(device, candidate.ip);
    let current = this.#sessions.get(key);
    if (current !== undefined) {
      // Live, the timer may not have run yet: judge this session on time before the rule sees it.
      const watched = runWatch(current, now, this.#settings);
      if (watched.session !== current) {
        this.#notes(watched.notes);
        if (watched.events.length > 0) this.#transitions('expire');
        events.push(...watched.events);
        this.#put(key, watched.session, current);
        current = watched.session;
      }
    }
    const tomb = current === undefined ? this.#tombstone(key, now) : undefined;
    const result = applyRule(current, candidate, now, this.#settings, { tombstone: tomb, untimed, lineAt: lineTime, digest });
    this.#transitions(result.transition);
    this.#notes(result.notes);
    events.push(...result.events);
    if (result.session !== current) this.#put(key, result.session, current, result.lastLineAt);
    // An orphan DOWN leaves a tombstone; written even when unchanged, so that every line that gave an
    // event also wrote the journal and a rollback of the caller's transaction is noticed (#sync).
    else if (result.transition === 'orphan-disconnect') this.#end(key, device, candidate.ip, result.lastLineAt);
    // Every entry carries its device clock; only a clock that moved alone needs its own entry.
    if (advanced && this.#pending.length === before) this.#pending.push([OP_CLOCK, now, device]);
    if (!this.#inOwnTransaction) this.#flush();
    return events;
  }

  /**
   * Runs the rekey watch. 'wall': every session at `now`, events in time order. 'capture': each
   * device at the later of its own clock and `now` (device clocks are not moved); `expire(Infinity)`
   * ends every watched session at its last deadline, as if the capture went on in silence. Not
   * calling it at the end of a replay keeps the sessions live in the state file.
   */
  expire(now: number): PtimEvent[] {
    if (!this.#inOwnTransaction) this.#sync();
    if (this.#clock === 'wall' && now > this.#wallNow && Number.isFinite(now)) this.#wallNow = now;
    const events: PtimEvent[] = [];
    const devices = [...this.#heaps.keys()].sort();
    for (const device of devices) {
      const at = this.#clock === 'wall' ? now : Math.max(this.#clocks.get(device) ?? -Infinity, now);
      this.#watchDevice(device, at, events);
    }
    // Each device's events are in time order already (#watchDevice); the wall clock merges devices.
    if (this.#clock === 'wall') events.sort(byTimeDeviceIp);
    if (!this.#inOwnTransaction) this.#flush();
    return events;
  }

  /** Every live session, by device then IP. */
  list(): SessionRow[] {
    if (!this.#inOwnTransaction) this.#sync();
    return [...this.#sessions.values()].sort(bySessionKey).map(toRow);
  }

  /** The capture clock of each device seen (empty in 'wall' mode). */
  clocks(): ReadonlyMap<string, number> {
    if (!this.#inOwnTransaction) this.#sync();
    return this.#clocks;
  }

  /**
   * Folds the journal into the snapshot and `session_clocks` and empties it. Runs by
   * itself when the journal holds twice as many changes as the table has sessions; exposed for
   * tests and a tidy shutdown.
   */
  compact(): void {
    const run = () => {
      this.#flush(false);
      this.#compact();
    };
    if (this.#inOwnTransaction || this.#db.inTransaction) run();
    else this.#db.transaction(run)();
  }

  #watchDevice(device: string, now: number, events: PtimEvent[]): void {
    const heap = this.#heaps.get(device);
    if (heap === undefined) return;
    // A session that missed several deadlines is settled in one go, so its expiry can come out
    // before an earlier one of another session: sorted below, the order is the deadlines' order
    // whatever the heap held (a table reloaded after a restart holds fewer stale entries).
    const found: PtimEvent[] = [];
    while (heap.peek() < now) {
      const { deadline, key } = heap.pop()!;
      const session = this.#sessions.get(key);
      // Entries left behind by a rekey or an ended session: the session moved on.
      if (session === undefined || session.deadline !== deadline) continue;
      const watched = runWatch(session, now, this.#settings);
      this.#notes(watched.notes);
      if (watched.events.length > 0) this.#transitions('expire');
      found.push(...watched.events);
      this.#put(key, watched.session, session);
    }
    if (found.length > 1) found.sort(byTimeDeviceIp);
    events.push(...found);
  }

  /** `lastLineAt`: when the session ends, the time its tombstone keeps (default: its last line's). */
  #put(key: string, next: Session | undefined, previous: Session | undefined, lastLineAt = previous?.lastLineAt): void {
    if (next === undefined) {
      if (previous === undefined) return;
      this.#sessions.delete(key);
      this.#end(key, previous.device, previous.ip, lastLineAt);
    } else {
      // The session carries the key's last line time now.
      this.#tombs.delete(key);
      this.#sessions.set(key, next);
      if (next.deadline !== undefined && next.deadline !== previous?.deadline) this.#heapOf(next.device).push(next.deadline, key);
      const clock = this.#clocks.get(next.device) ?? null;
      if (previous === undefined) {
        this.#pending.push([OP_PUT, clock, ...toValues(next)]);
      } else {
        this.#pending.push(patchOf(clock, previous, next));
      }
    }
  }

  /** No session for the key any more; its last applied line time (if known) becomes its tombstone. */
  #end(key: string, device: string, ip: string, lastLineAt: number | undefined): void {
    const entry: JournalEntry = [OP_END, this.#clocks.get(device) ?? null, device, ip];
    if (lastLineAt !== undefined) {
      entry.push(lastLineAt);
      this.#setTomb(key, lastLineAt);
      if (this.#tombs.size >= this.#tombSweepAt) this.#sweepTombs();
    }
    this.#pending.push(entry);
  }

  #setTomb(key: string, at: number): void {
    // Delete first: the map's order stays the order of the last ends, oldest first.
    this.#tombs.delete(key);
    this.#tombs.set(key, at);
    if (this.#tombs.size > MAX_TOMBSTONES) {
      for (const oldest of this.#tombs.keys()) {
        this.#tombs.delete(oldest);
        break;
      }
    }
  }

  /** The key's tombstone, if it is within the retention of `now` (the table's clock for the line). */
  #tombstone(key: string, now: number): number | undefined {
    const at = this.#tombs.get(key);
    return at !== undefined && at >= now - this.#retentionMs ? at : undefined;
  }

  /**
   * Drops the tombstones past their retention: memory only, since #tombstone ignores them anyway.
   * Runs when the map doubled since the last sweep (O(1) per end) and before a compaction.
   */
  #sweepTombs(): void {
    for (const [key, at] of this.#tombs) {
      const now = this.#clock === 'wall' ? this.#wallNow : (this.#clocks.get(deviceOfKey(key)) ?? -Infinity);
      if (at < now - this.#retentionMs) this.#tombs.delete(key);
    }
    this.#tombSweepAt = Math.max(1024, 2 * this.#tombs.size);
  }

  /**
   * Live, a line out of the time window: a copy timed at the receipt when the config says clamp,
   * undefined (rejected) otherwise; counted and logged either way.
   */
  #outOfWindow(candidate: PtimCandidate, skewMs: number, receivedAt: number): PtimCandidate | undefined {
    const fields = {
      device: candidate.device,
      sender: candidate.sender,
      ip: candidate.ip,
      receivedAt: new Date(receivedAt).toISOString(),
      skewSeconds: Math.round(skewMs / 1000),
      input: { time: candidate.time, user: candidate.user, line: candidate.line },
    };
    if (!this.#clampOutOfWindow) {
      this.#ignored('time-out-of-window')?.inc();
      this.#rateLog.warn('time-out-of-window', { ...fields, action: 'rejected' }, 'Line time too far from its receipt time (lineChecks.timeWindowSeconds): rejected, no event; check the firewall clock (NTP)');
      return undefined;
    }
    this.#clamped?.inc();
    this.#rateLog.warn('time-out-of-window', { ...fields, action: 'clamped' }, 'Line time too far from its receipt time (lineChecks.timeWindowSeconds): clamped, the event carries the receipt time; check the firewall clock (NTP)');
    return { ...candidate, time: new Date(receivedAt).toISOString() };
  }

  /**
   * Whether the same line (lineKey) was applied within the duplicate window on the table's clock:
   * receipt time live, the line's own time in replay. The window is capped at half the VPN's rekey
   * interval, since every rekey repeats its UP text word for word.
   */
  #isDuplicate(candidate: PtimCandidate, digest: string, lineAt: number, receivedAt: number): boolean {
    if (this.#duplicateWindowMs === 0 || digest === '') return false;
    const interval = this.#settings.intervalMs(candidate.vpn);
    const windowMs = interval > 0 ? Math.min(this.#duplicateWindowMs, interval / 2) : this.#duplicateWindowMs;
    let at = receivedAt;
    let bucket = '';
    if (this.#clock === 'capture') {
      if (Number.isFinite(lineAt)) at = lineAt;
      bucket = candidate.device;
    }
    if (!this.#recent.seen(bucket, digest, at, windowMs)) return false;
    this.#ignored('duplicate')?.inc();
    this.#rateLog.warn('duplicate', { device: candidate.device, sender: candidate.sender, ip: candidate.ip, input: { time: candidate.time, user: candidate.user, line: candidate.line } }, 'The same line again within lineChecks.duplicateWindowSeconds (two relays, or UDP and TCP): applied once, no event');
    return true;
  }

  #heapOf(device: string): DeadlineHeap {
    let heap = this.#heaps.get(device);
    if (heap === undefined) {
      heap = new DeadlineHeap();
      this.#heaps.set(device, heap);
    }
    return heap;
  }

  /** Writes the pending entries as one journal row, then folds the journal when it is long. */
  #flush(mayCompact = true): void {
    if (this.#pending.length > 0) {
      const info = this.#stmt.journal.run(JSON.stringify(this.#pending));
      this.#lastSeq = Number(info.lastInsertRowid);
      this.#journalEntries += this.#pending.length;
      this.#pending = [];
    }
    if (mayCompact && this.#journalEntries >= Math.max(MIN_COMPACT_ENTRIES, 2 * (this.#sessions.size + this.#tombs.size))) this.#compact();
  }

  /**
   * Writes the whole table as a snapshot (JSON parts of SNAPSHOT_PART sessions) and empties the
   * journal. A full rewrite costs O(table) once per 2 x table journal entries, so O(1) per change;
   * row-by-row upserts into a sessions table cost ~5 us per row here and were the larger part of
   * every transition's cost.
   */
  #compact(): void {
    this.#stmt.clearSnapshot.run();
    let part = 0;
    let chunk: SessionValues[] = [];
    for (const s of this.#sessions.values()) {
      chunk.push(toValues(s));
      if (chunk.length === SNAPSHOT_PART) {
        this.#stmt.snapshot.run(part++, JSON.stringify(chunk));
        chunk = [];
      }
    }
    if (chunk.length > 0) this.#stmt.snapshot.run(part, JSON.stringify(chunk));
    this.#sweepTombs();
    this.#stmt.clearTombstones.run();
    part = 0;
    let tombs: Array<[string, string, number]> = [];
    // In the map's order, so that a reload forgets the same oldest ones first.
    for (const [key, at] of this.#tombs) {
      const cut = key.lastIndexOf('\u0000');
      tombs.push([key.slice(0, cut), key.slice(cut + 1), at]);
      if (tombs.length === SNAPSHOT_PART) {
        this.#stmt.tombstones.run(part++, JSON.stringify(tombs));
        tombs = [];
      }
    }
    if (tombs.length > 0) this.#stmt.tombstones.run(part, JSON.stringify(tombs));
    for (const device of this.#dirtyClocks) this.#stmt.setClock.run(device, this.#clocks.get(device)!);
    this.#stmt.clearJournal.run();
    this.#dirtyClocks.clear();
    this.#journalEntries = 0;
    this.#lastSeq = undefined;
    // Heaps keep the entries of moved deadlines until they surface; rebuild them when mostly stale.
    let entries = 0;
    for (const heap of this.#heaps.values()) entries += heap.size;
    if (entries > 2 * this.#sessions.size + 1024) this.#rebuildHeaps();
  }

  /** Reloads when the journal is not where this table left it (a rolled-back transaction). */
  #sync(): void {
    const top = this.#stmt.lastSeq.get() as number | undefined;
    if ((top ?? undefined) === this.#lastSeq) return;
    this.#log.warn({ expected: this.#lastSeq, found: top }, 'Session state changed under the table (a rolled-back transaction); reloading it from the state file');
    this.#load();
  }

  #load(): void {
    this.#sessions.clear();
    this.#clocks.clear();
    this.#dirtyClocks.clear();
    this.#tombs.clear();
    // Lines of a rolled-back batch will come again: they must not look like duplicates then.
    this.#recent.clear();
    this.#pending = [];
    for (const text of this.#stmt.loadSnapshot.iterate() as Iterable<string>) {
      for (const v of JSON.parse(text) as SessionValues[]) this.#sessions.set(keyOf(v[0], v[1]), fromValues(v));
    }
    for (const text of this.#stmt.loadTombstones.iterate() as Iterable<string>) {
      for (const [device, ip, at] of JSON.parse(text) as Array<[string, string, number]>) this.#setTomb(keyOf(device, ip), at);
    }
    for (const { device, clock } of this.#stmt.clocks.all() as Array<{ device: string; clock: number }>) this.#clocks.set(device, clock);
    this.#journalEntries = 0;
    this.#lastSeq = undefined;
    for (const row of this.#stmt.loadJournal.iterate() as Iterable<{ seq: number; entries: string }>) {
      this.#lastSeq = row.seq;
      for (const e of JSON.parse(row.entries) as JournalEntry[]) {
        this.#journalEntries++;
        const [op, clock, device] = e;
        if (clock !== null && !(clock <= (this.#clocks.get(device) ?? -Infinity))) {
          this.#clocks.set(device, clock);
          this.#dirtyClocks.add(device);
        }
        if (op === OP_CLOCK) continue;
        const key = keyOf(device, e[3]);
        if (op === OP_PUT) {
          this.#tombs.delete(key);
          this.#sessions.set(key, fromValues(e.slice(2) as SessionValues));
        } else if (op === OP_PATCH) {
          const base = this.#sessions.get(key);
          // Cannot happen with a journal this table wrote; a hand-edited file loses that change only.
          if (base === undefined) continue;
          const values = toValues(base) as unknown[];
          for (let i = 4; i + 1 < e.length; i += 2) values[e[i] as number] = e[i + 1];
          this.#sessions.set(key, fromValues(values as SessionValues));
        } else {
          this.#sessions.delete(key);
          if (typeof e[4] === 'number') this.#setTomb(key, e[4]);
        }
      }
    }
    this.#tombSweepAt = Math.max(1024, 2 * this.#tombs.size);
    this.#rebuildHeaps();
  }

  #rebuildHeaps(): void {
    this.#heaps.clear();
    for (const [key, s] of this.#sessions) if (s.deadline !== undefined) this.#heapOf(s.device).push(s.deadline, key);
  }

  #notes(notes: readonly Note[]): void {
    for (const note of notes) {
      if (note.kind === 'stale-line') {
        const c = note.candidate;
        this.#ignored('stale-line')?.inc();
        this.#rateLog.warn('stale-line', { device: c.device, sender: c.sender, ip: c.ip, liveUser: note.session?.user, lastLineAt: new Date(note.lastLineAt).toISOString(), input: { line: c.line, user: c.user, tunnelId: c.tunnelId, time: c.time } }, 'Line older than the last line applied for its device + IP (replayed, delayed or resent): it would undo a newer state, no event');
        continue;
      }
      const s = note.session;
      switch (note.kind) {
        case 'rekey-missing':
          this.#rekeyMissing?.inc();
          this.#rateLog.warn('rekey-missing', { device: s.device, ip: s.ip, user: s.user, vpn: s.vpn, deadline: new Date(note.deadline).toISOString() }, 'Rekey deadline passed without an UP; the session is flagged rekey-missing');
          break;
        case 'expired':
          this.#expired?.inc();
          this.#rateLog.warn('session-expired', { device: s.device, ip: s.ip, user: s.user, vpn: s.vpn, missed: s.missed }, 'Session ended by the rekey watch: its rekeys stopped');
          break;
        case 'late-down-ignored':
          this.#ignored(note.kind)?.inc();
          this.#rateLog.warn(note.kind, { device: s.device, ip: s.ip, liveUser: s.user, liveTunnelId: s.tunnelId, input: { user: note.candidate.user, tunnelId: note.candidate.tunnelId, time: note.candidate.time } }, 'DOWN for an IP now held by another user (a late DOWN of a superseded session): no event');
          break;
        default:
          note satisfies never;
      }
    }
  }
}

/** Sessions per snapshot row: keeps each JSON text a few MB at most. */
const SNAPSHOT_PART = 10_000;

function prepare(db: StateDb) {
  return {
    snapshot: db.prepare('INSERT INTO session_snapshot (part, sessions) VALUES (?, ?)'),
    clearSnapshot: db.prepare('DELETE FROM session_snapshot'),
    loadSnapshot: db.prepare('SELECT sessions FROM session_snapshot ORDER BY part').pluck(),
    loadJournal: db.prepare('SELECT seq, entries FROM session_journal ORDER BY seq'),
    journal: db.prepare('INSERT INTO session_journal (entries) VALUES (?)'),
    lastSeq: db.prepare('SELECT seq FROM session_journal ORDER BY seq DESC LIMIT 1').pluck(),
    clearJournal: db.prepare('DELETE FROM session_journal'),
    tombstones: db.prepare('INSERT INTO session_tombstones (part, tombstones) VALUES (?, ?)'),
    clearTombstones: db.prepare('DELETE FROM session_tombstones'),
    loadTombstones: db.prepare('SELECT tombstones FROM session_tombstones ORDER BY part').pluck(),
    clocks: db.prepare('SELECT device, clock FROM session_clocks'),
    setClock: db.prepare('INSERT INTO session_clocks (device, clock) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET clock = excluded.clock'),
  };
}

function keyOf(device: string, ip: string): string {
  return `${device}\u0000${ip}`;
}

/** The device of a key (an IP never holds NUL; a device name might). */
function deviceOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf('\u0000'));
}

function bySessionKey(a: Session, b: Session): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
}

function byTimeDeviceIp(a: PtimEvent, b: PtimEvent): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
}

function settingsOf(config: SessionTableOptions['config']): WatchSettings {
  const { sessions, vpns } = config;
  return {
    intervalMs: (vpn) => 1000 * ((vpn !== undefined && Object.hasOwn(vpns, vpn) ? vpns[vpn]?.rekeyIntervalSeconds : undefined) ?? sessions.rekeyIntervalSeconds),
    graceMs: 1000 * sessions.rekeyGraceSeconds,
    maxMissed: sessions.maxMissedRekeys,
  };
}

/** Label children looked up once: `labels()` on every transition is measurable at 100k/s. */
function cacheLabels<L extends string>(make: (label: L) => { inc(): void } | undefined): (label: L) => { inc(): void } | undefined {
  const cache = new Map<L, { inc(): void } | undefined>();
  return (label) => {
    if (!cache.has(label)) cache.set(label, make(label));
    return cache.get(label);
  };
}

/**
 * The journal patch from one state of a session to the next: (index in SessionValues, value) pairs
 * of what changed. Compares field by field: a rekey changes three or four of eighteen.
 */
function patchOf(clock: number | null, a: Session, b: Session): JournalEntry {
  const p: [typeof OP_PATCH, number | null, string, string, ...unknown[]] = [OP_PATCH, clock, b.device, b.ip];
  if (a.ipv6 !== b.ipv6) p.push(2, b.ipv6 ?? null);
  if (a.user !== b.user) p.push(3, b.user);
  if (a.domain !== b.domain) p.push(4, b.domain);
  if (a.sender !== b.sender) p.push(5, b.sender);
  if (a.vpn !== b.vpn) p.push(6, b.vpn ?? null);
  if (a.gateway !== b.gateway) p.push(7, b.gateway ?? null);
  if (a.tunnelId !== b.tunnelId) p.push(8, b.tunnelId ?? null);
  if (a.peer !== b.peer) p.push(9, b.peer ?? null);
  if (a.pattern !== b.pattern) p.push(10, b.pattern);
  if (!sameValue(a.lineFlags, b.lineFlags)) p.push(11, b.lineFlags);
  if (!sameValue(a.connectFlags, b.connectFlags)) p.push(12, b.connectFlags);
  if (a.since !== b.since) p.push(13, b.since);
  if (a.lastRekey !== b.lastRekey) p.push(14, b.lastRekey ?? null);
  if (a.intervalMs !== b.intervalMs) p.push(15, b.intervalMs);
  if (a.deadline !== b.deadline) p.push(16, b.deadline ?? null);
  if (a.missed !== b.missed) p.push(17, b.missed);
  if (a.lastLineAt !== b.lastLineAt) p.push(18, b.lastLineAt ?? null);
  if (a.openId !== b.openId) p.push(19, b.openId);
  return p;
}

/** Equality of two journal values: flags are compared as lists. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toValues(s: Session): SessionValues {
  return [
    s.device, s.ip, s.ipv6 ?? null, s.user, s.domain, s.sender, s.vpn ?? null, s.gateway ?? null, s.tunnelId ?? null, s.peer ?? null, s.pattern,
    s.lineFlags, s.connectFlags, s.since, s.lastRekey ?? null, s.intervalMs, s.deadline ?? null, s.missed,
    s.lastLineAt ?? null, s.openId,
  ];
}

function fromValues(v: SessionValues): Session {
  const [device, ip, ipv6, user, domain, sender, vpn, gateway, tunnelId, peer, pattern, lineFlags, connectFlags, since, lastRekey, intervalMs, deadline, missed, lastLineAt, openId] = v;
  const s: Session = { device, ip, user, domain, sender, pattern, lineFlags, connectFlags, since, intervalMs, missed, openId: openId ?? '' };
  if (lastLineAt !== undefined && lastLineAt !== null) s.lastLineAt = lastLineAt;
  if (ipv6 !== null) s.ipv6 = ipv6;
  if (vpn !== null) s.vpn = vpn;
  if (gateway !== null) s.gateway = gateway;
  if (tunnelId !== null) s.tunnelId = tunnelId;
  if (peer !== null) s.peer = peer;
  if (lastRekey !== null) s.lastRekey = lastRekey;
  if (deadline !== null) s.deadline = deadline;
  return s;
}

function toRow(s: Session): SessionRow {
  const flags: PtimFlag[] = [...s.connectFlags];
  for (const f of s.lineFlags) if (!flags.includes(f)) flags.push(f);
  if (s.missed > 0) flags.push('rekey-missing');
  const row: SessionRow = {
    device: s.device,
    ip: s.ip,
    user: s.user,
    domain: s.domain,
    since: new Date(s.since).toISOString(),
    missedRekeys: s.missed,
    flags,
  };
  if (s.ipv6 !== undefined) row.ipv6 = s.ipv6;
  if (s.vpn !== undefined) row.vpn = s.vpn;
  if (s.tunnelId !== undefined) row.tunnelId = s.tunnelId;
  if (s.peer !== undefined) row.peer = s.peer;
  if (s.lastRekey !== undefined) row.lastRekey = new Date(s.lastRekey).toISOString();
  if (s.deadline !== undefined) row.nextDeadline = new Date(s.deadline).toISOString();
  return row;
}
