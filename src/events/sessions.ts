import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { BridgeError } from '../errors.js';
import { RateLimitedLog, silentLogger, type Logger } from '../log.js';
import { counter, gauge, hotCounter } from '../ops/metrics.js';
import type { StateDb } from '../state-db.js';
import { lineDigest, type PtimCandidate, type PtimEvent, type PtimFlag } from './ptim-event.js';
import { DeviceClocks } from './device-clocks.js';
import { checkLineTime, RecentLines } from './line-checks.js';
import { RekeyDeadlines } from './rekey-deadlines.js';
import { deviceOfKey, keyOf, OP_CLOCK, OP_END, OP_PUT, patchOf, toValues, type JournalEntry } from './session-codec.js';
import { applyRule, runWatch, type Note, type Session, type Transition, type WatchSettings } from './session-rules.js';
import { SessionStore } from './session-store.js';
import { Tombstones } from './tombstones.js';

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
  /**
   * The state file the table is kept in. Without one (`replay --dry-run` with no `--state`, whose
   * temporary state would be deleted at the end) the table lives in memory only: nothing is
   * journalled, and a transaction that throws cannot be undone, so the table refuses further work.
   */
  db: StateDb | undefined;
  config: Config;
  clock: SessionClock;
  log?: Logger;
  registry?: Registry;
}

/** A tombstone is kept for max(lineChecks.timeWindowSeconds, this) of the table's clock. */
const MIN_TOMBSTONE_RETENTION_MS = 86_400_000;

/** Why a line produced no event, for `ptim_bridge_session_lines_ignored_total`. */
type IgnoredReason = 'late-down-ignored' | 'stale-line' | 'duplicate' | 'time-out-of-window';

/**
 * The live VPN session table (issue 4): turns UP/DOWN candidates into connect / rekey / disconnect
 * events, and ends sessions whose rekeys stopped.
 *
 * The table is held in memory: the sessions (a Map by device + IP), their rekey deadlines
 * (rekey-deadlines.ts), the device clocks (device-clocks.ts) and the tombstones (tombstones.ts).
 * It is made durable by session-store.ts (a journal folded into a snapshot, in the shared SQLite
 * file): a restart continues with the same sessions, deadlines and device clocks. A replay keeps
 * its table in memory only (no `db`): what it would write is never read again.
 *
 * Transactions: every change happens in `transaction(fn)` (the tick of live intake, the rekey watch
 * and replay's read chunks): changes are buffered and written in one statement before the commit,
 * and a throw rolls back and reloads the table. Each transaction first
 * checks that the journal is where the table left it (a commit that failed after the write), and
 * reloads if not.
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
  readonly #clock: SessionClock;
  #settings: WatchSettings;
  readonly #log: Logger;
  readonly #rateLog: RateLimitedLog;
  /** Undefined without a state file (in memory only). */
  readonly #store: SessionStore | undefined;
  /** In memory only: a transaction threw half-way, so the table's state is not to be trusted. */
  #broken = false;
  readonly #sessions = new Map<string, Session>();
  readonly #deadlines = new RekeyDeadlines();
  readonly #clocks = new DeviceClocks();
  readonly #tombs: Tombstones;
  #recent: RecentLines;
  #duplicateWindowMs = 0;
  #timeWindowMs = 0;
  #clampOutOfWindow = false;
  /** The latest wall-clock now seen (the clock tombstones are swept by on 'wall'). */
  #wallNow = -Infinity;
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
    this.#clock = options.clock;
    this.#settings = settingsOf(options.config);
    this.#recent = new RecentLines(0);
    this.#tombs = new Tombstones(this.#clock === 'wall' ? () => this.#wallNow : (key) => this.#clocks.get(deviceOfKey(key)) ?? -Infinity);
    this.reconfigure(options.config);
    this.#log = (options.log ?? silentLogger()).child({ module: 'events/sessions' });
    this.#rateLog = new RateLimitedLog(this.#log);
    const db = options.db;
    const body = (fn: () => unknown): unknown => {
      this.#sync();
      this.#inOwnTransaction = true;
      const result = fn();
      this.#flush();
      return result;
    };
    if (db === undefined) {
      this.#store = undefined;
      this.#runTransaction = <T>(fn: () => T): T => body(fn) as T;
    } else {
      this.#store = new SessionStore(db, { sessions: this.#sessions, tombstones: this.#tombs, clocks: this.#clocks });
      const tx = db.transaction(body);
      this.#runTransaction = <T>(fn: () => T): T => tx(fn) as T;
      try {
        this.#load();
      } catch (cause) {
        throw new BridgeError('ERR_STATE_UNREADABLE', `The session table in ${db.name} cannot be read (${(cause as Error).message}). Move the state file aside to start with an empty table; the sessions it held end at their next DOWN or rekey.`, { file: db.name, cause });
      }
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
    this.#tombs.retentionMs = Math.max(this.#timeWindowMs, MIN_TOMBSTONE_RETENTION_MS);
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
   * @throws Error, without a state file, once a transaction threw: there is nothing to reload from.
   */
  transaction<T>(fn: () => T): T {
    if (this.#broken) throw new Error('SessionTable: an earlier transaction failed half-way and the table has no state file to reload from; open a new table');
    try {
      return this.#runTransaction(fn);
    } catch (error) {
      if (this.#store === undefined) this.#broken = true;
      else this.#load();
      throw error;
    } finally {
      this.#inOwnTransaction = false;
    }
  }

  /**
   * Applies one line's candidate and returns its events in order: usually one; a superseded
   * disconnect before a connect; none for an ignored DOWN. In 'capture' mode the device's watch
   * runs first and may add expiry disconnects before them. Synchronous; never throws on any
   * candidate.
   * @throws Error when called outside `transaction()`.
   */
  apply(candidate: PtimCandidate, receivedAt: number): PtimEvent[] {
    if (!this.#inOwnTransaction) throw outsideTransaction('apply');
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
    const before = this.#store?.pendingCount ?? 0;
    let now: number;
    let advanced = false;
    if (this.#clock === 'capture') {
      const clock = this.#clocks.get(device);
      now = Number.isFinite(lineTime) ? lineTime : receivedAt;
      if (clock !== undefined && now <= clock) {
        now = clock;
      } else {
        advanced = true;
        this.#clocks.move(device, now);
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
    const tomb = current === undefined ? this.#tombs.get(key, now) : undefined;
    const result = applyRule(current, candidate, now, this.#settings, { tombstone: tomb, untimed, lineAt: lineTime, digest });
    this.#transitions(result.transition);
    this.#notes(result.notes);
    events.push(...result.events);
    if (result.session !== current) this.#put(key, result.session, current, result.lastLineAt);
    // An orphan DOWN leaves no session but a tombstone, journalled like an end so a restart keeps it.
    else if (result.transition === 'orphan-disconnect') this.#end(key, device, candidate.ip, result.lastLineAt);
    // Every entry carries its device clock; only a clock that moved alone needs its own entry.
    if (advanced && this.#store !== undefined && this.#store.pendingCount === before) this.#store.record([OP_CLOCK, now, device]);
    return events;
  }

  /**
   * Runs the rekey watch. 'wall': every session at `now`, events in time order. 'capture': each
   * device at the later of its own clock and `now` (device clocks are not moved); `expire(Infinity)`
   * ends every watched session at its last deadline, as if the capture went on in silence. Not
   * calling it at the end of a replay keeps the sessions live in the state file.
   * @throws Error when called outside `transaction()`.
   */
  expire(now: number): PtimEvent[] {
    if (!this.#inOwnTransaction) throw outsideTransaction('expire');
    if (this.#clock === 'wall' && now > this.#wallNow && Number.isFinite(now)) this.#wallNow = now;
    const events: PtimEvent[] = [];
    for (const device of this.#deadlines.devices()) {
      const at = this.#clock === 'wall' ? now : Math.max(this.#clocks.get(device) ?? -Infinity, now);
      this.#watchDevice(device, at, events);
    }
    // Each device's events are in time order already (#watchDevice); the wall clock merges devices.
    if (this.#clock === 'wall') events.sort(byTimeDeviceIp);
    return events;
  }

  /** Every live session, by device then IP. */
  list(): SessionRow[] {
    return [...this.#sessions.values()].sort(bySessionKey).map(toRow);
  }

  /** The capture clock of each device seen (empty in 'wall' mode). */
  clocks(): ReadonlyMap<string, number> {
    return this.#clocks.all;
  }

  /**
   * Folds the journal into the snapshot and `session_clocks` and empties it, in one go (tests, a
   * tidy shutdown). By itself the table compacts in slices instead (see SessionStore): it begins
   * when the journal holds twice as many changes as the table has entries, and each transaction
   * then writes a part (one per part's worth of changes it journalled).
   */
  compact(): void {
    const store = this.#store;
    const run = () => {
      store?.flush();
      this.#beforeCompaction();
      store?.compact();
    };
    // Outside a tick, through transaction(): a failed write must reload the table like any other.
    if (this.#inOwnTransaction) run();
    else this.transaction(run);
  }

  #watchDevice(device: string, now: number, events: PtimEvent[]): void {
    const heap = this.#deadlines.of(device);
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
      if (next.deadline !== undefined && next.deadline !== previous?.deadline) this.#deadlines.schedule(next.device, next.deadline, key);
      const store = this.#store;
      if (store === undefined) return;
      const clock = this.#clocks.get(next.device) ?? null;
      if (previous === undefined) {
        store.record([OP_PUT, clock, ...toValues(next)]);
      } else {
        store.record(patchOf(clock, previous, next));
      }
    }
  }

  /** No session for the key any more; its last applied line time (if known) becomes its tombstone. */
  #end(key: string, device: string, ip: string, lastLineAt: number | undefined): void {
    if (lastLineAt !== undefined) this.#tombs.end(key, lastLineAt);
    if (this.#store === undefined) return;
    const entry: JournalEntry = [OP_END, this.#clocks.get(device) ?? null, device, ip];
    if (lastLineAt !== undefined) entry.push(lastLineAt);
    this.#store.record(entry);
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

  /** Writes the recorded changes as one journal row (and a compaction step), then begins a compaction when the journal is long. */
  #flush(): void {
    const store = this.#store;
    if (store === undefined) {
      // In memory there is no compaction to tidy the heaps before; tombstones sweep themselves.
      this.#tidyDeadlines();
      return;
    }
    store.flush();
    if (store.wantsCompaction) {
      this.#beforeCompaction();
      store.beginCompaction();
    }
  }

  /** Before the table is frozen for a compaction: past-retention tombstones left out, stale heap entries dropped. */
  #beforeCompaction(): void {
    this.#tombs.sweep();
    this.#tidyDeadlines();
  }

  /** Heaps keep the entries of moved deadlines until they surface; rebuilt when mostly stale. */
  #tidyDeadlines(): void {
    if (this.#deadlines.entries > 2 * this.#sessions.size + 1024) this.#deadlines.rebuild(this.#sessions);
  }

  /** Reloads when the journal is not where this table left it (a transaction that failed after its write). */
  #sync(): void {
    const store = this.#store;
    if (store === undefined) return;
    const top = store.journalTop();
    if (top === store.lastWritten) return;
    this.#log.warn({ expected: store.lastWritten, found: top }, 'Session state changed under the table (a rolled-back transaction); reloading it from the state file');
    this.#load();
  }

  /** Empties the table and reads it again from the state file. */
  #load(): void {
    // Lines of a rolled-back batch will come again: they must not look like duplicates then.
    this.#recent.clear();
    this.#store?.load();
    this.#tombs.rearmSweep();
    this.#deadlines.rebuild(this.#sessions);
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

function outsideTransaction(method: string): Error {
  return new Error(`SessionTable.${method}(): call it inside transaction()`);
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
