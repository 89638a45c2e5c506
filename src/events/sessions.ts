import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { RateLimitedLog, silentLogger, type Logger } from '../log.js';
import { counter, gauge } from '../ops/metrics.js';
import type { StateDb } from '../state-db.js';
import type { PtimCandidate, PtimEvent, PtimFlag } from './ptim-event.js';
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

interface DbRow {
  device: string;
  ip: string;
  ipv6: string | null;
  user: string;
  domain: string;
  sender: string;
  vpn: string | null;
  gateway: string | null;
  tunnel_id: string | null;
  peer: string | null;
  pattern: string;
  line_flags: string;
  connect_flags: string;
  since: number;
  last_rekey: number | null;
  interval_ms: number;
  deadline: number | null;
  missed: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  device TEXT NOT NULL,
  ip TEXT NOT NULL,
  ipv6 TEXT,
  user TEXT NOT NULL,
  domain TEXT NOT NULL,
  sender TEXT NOT NULL,
  vpn TEXT,
  gateway TEXT,
  tunnel_id TEXT,
  peer TEXT,
  pattern TEXT NOT NULL,
  line_flags TEXT NOT NULL,
  connect_flags TEXT NOT NULL,
  since INTEGER NOT NULL,
  last_rekey INTEGER,
  interval_ms INTEGER NOT NULL,
  deadline INTEGER,
  missed INTEGER NOT NULL,
  PRIMARY KEY (device, ip)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_deadline ON sessions (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_by_device_deadline ON sessions (device, deadline) WHERE deadline IS NOT NULL;
CREATE TABLE IF NOT EXISTS session_clocks (
  device TEXT PRIMARY KEY,
  clock INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * The live VPN session table (issue 4): turns UP/DOWN candidates into connect / rekey / disconnect
 * events, and ends sessions whose rekeys stopped. State lives in SQLite (the shared state file),
 * so a restart continues with the same sessions, deadlines and device clocks. Every method is
 * synchronous and runs inside the caller's transaction, so "session changed" and "event queued"
 * commit together.
 *
 * Clocks: 'wall' (live) takes the receipt time as now and the caller runs `expire(Date.now())` on a
 * timer. 'capture' (replay) keeps one clock per device, the latest line time seen from it; a line
 * older than its device's clock is applied at that clock (arrival order, the clock never goes back)
 * and each advance runs that device's watch first.
 */
export class SessionTable {
  readonly #db: StateDb;
  readonly #clock: SessionClock;
  readonly #settings: WatchSettings;
  readonly #log: Logger;
  readonly #rateLog: RateLimitedLog;
  readonly #stmt: ReturnType<typeof prepare>;
  /** Device clocks (capture mode), mirrored from session_clocks: a handful of devices. */
  readonly #clocks = new Map<string, number>();
  /** Per device, a lower bound of its earliest deadline, so most lines skip the watch query. */
  readonly #nextDeadline = new Map<string, number>();
  readonly #transitions;
  readonly #ignored;
  readonly #rekeyMissing;
  readonly #expired;

  /** Creates the tables if needed and loads the device clocks. Throws what better-sqlite3 throws on a broken file. */
  constructor(options: SessionTableOptions) {
    this.#db = options.db;
    this.#clock = options.clock;
    const { sessions, vpns } = options.config;
    this.#settings = {
      intervalMs: (vpn) => 1000 * ((vpn === undefined ? undefined : vpns[vpn]?.rekeyIntervalSeconds) ?? sessions.rekeyIntervalSeconds),
      graceMs: 1000 * sessions.rekeyGraceSeconds,
      maxMissed: sessions.maxMissedRekeys,
    };
    this.#log = (options.log ?? silentLogger()).child({ module: 'events/sessions' });
    this.#rateLog = new RateLimitedLog(this.#log);
    this.#db.exec(SCHEMA);
    this.#stmt = prepare(this.#db);
    for (const { device, clock } of this.#stmt.clocks.all() as Array<{ device: string; clock: number }>) this.#clocks.set(device, clock);

    const registry = options.registry;
    const transitions = registry ? counter(registry, 'ptim_bridge_session_transitions_total', 'Session table transitions by kind', ['transition']) : undefined;
    this.#transitions = cacheLabels<Transition>((t) => transitions?.labels(t));
    const ignored = registry ? counter(registry, 'ptim_bridge_session_lines_ignored_total', 'DOWN lines that produced no event, by reason', ['reason']) : undefined;
    this.#ignored = cacheLabels<'late-down-ignored' | 'stale-down-ignored'>((r) => ignored?.labels(r));
    this.#rekeyMissing = registry ? counter(registry, 'ptim_bridge_session_rekey_missing_total', 'Sessions whose rekey deadline passed without an UP') : undefined;
    this.#expired = registry ? counter(registry, 'ptim_bridge_session_expired_total', 'Sessions ended by the rekey watch') : undefined;
    if (registry) {
      const count = this.#stmt.count;
      const live = gauge(registry, 'ptim_bridge_sessions_live', 'Live VPN sessions in the table');
      // Read at scrape time rather than tracked on every transition.
      (live as unknown as { collect?: () => void }).collect = function (this: typeof live) {
        this.set((count.get() as { n: number }).n);
      };
    }
  }

  /**
   * Applies one line's candidate and returns its events in order: usually one; a superseded
   * disconnect before a connect; none for an ignored DOWN. In 'capture' mode the device's watch
   * runs first and may add expiry disconnects before them. Synchronous; never throws on any
   * candidate (a broken database still throws).
   */
  apply(candidate: PtimCandidate, receivedAt: number): PtimEvent[] {
    const events: PtimEvent[] = [];
    let now: number;
    if (this.#clock === 'capture') {
      const lineTime = Date.parse(candidate.time);
      now = this.#advance(candidate.device, Number.isFinite(lineTime) ? lineTime : receivedAt, events);
    } else {
      now = receivedAt;
    }
    let current = this.#get(candidate.device, candidate.ip);
    if (current !== undefined) {
      // Live, the timer may not have run yet: judge this session on time before the rule sees it.
      const watched = runWatch(current, now, this.#settings);
      this.#notes(watched.notes, now);
      if (watched.events.length > 0) this.#transitions('expire')?.inc();
      events.push(...watched.events);
      if (watched.session !== current) this.#put(candidate.device, candidate.ip, watched.session, current);
      current = watched.session;
    }
    const result = applyRule(current, candidate, now, this.#settings);
    this.#transitions(result.transition)?.inc();
    this.#notes(result.notes, now);
    events.push(...result.events);
    if (result.session !== current) this.#put(candidate.device, candidate.ip, result.session, current);
    return events;
  }

  /**
   * Runs the rekey watch. 'wall': every session at `now`. 'capture': each device at the later of
   * its own clock and `now` (device clocks are not moved); `expire(Infinity)` ends every watched
   * session at its last deadline, as if the capture went on in silence. Not calling it at the end
   * of a replay keeps the sessions live in the state file. Returns the expiry disconnects in
   * deadline order (per device in capture mode).
   */
  expire(now: number): PtimEvent[] {
    const events: PtimEvent[] = [];
    if (this.#clock === 'wall') {
      this.#watchRows(this.#stmt.due.all(now) as DbRow[], now, events);
      return events;
    }
    for (const device of this.#devices()) {
      const at = Math.max(this.#clocks.get(device) ?? -Infinity, now);
      this.#watchDevice(device, at, events);
    }
    return events;
  }

  /** Every live session, by device then IP. */
  list(): SessionRow[] {
    return (this.#stmt.list.all() as DbRow[]).map((r) => toRow(fromDb(r)));
  }

  /** The capture clock of each device seen (empty in 'wall' mode). */
  clocks(): ReadonlyMap<string, number> {
    return this.#clocks;
  }

  /** Moves a device's clock forward (never back) and runs its watch; returns the clock. */
  #advance(device: string, lineTime: number, events: PtimEvent[]): number {
    const clock = this.#clocks.get(device);
    if (clock !== undefined && lineTime <= clock) return clock;
    this.#clocks.set(device, lineTime);
    this.#stmt.setClock.run(device, lineTime);
    this.#watchDevice(device, lineTime, events);
    return lineTime;
  }

  #watchDevice(device: string, now: number, events: PtimEvent[]): void {
    const next = this.#nextDeadline.get(device);
    if (next !== undefined && !(now > next)) return;
    this.#watchRows(this.#stmt.dueOnDevice.all(device, now) as DbRow[], now, events);
    const min = (this.#stmt.minDeadline.get(device) as { d: number | null }).d;
    this.#nextDeadline.set(device, min ?? Infinity);
  }

  #watchRows(rows: DbRow[], now: number, events: PtimEvent[]): void {
    for (const row of rows) {
      const session = fromDb(row);
      const watched = runWatch(session, now, this.#settings);
      this.#notes(watched.notes, now);
      if (watched.events.length > 0) this.#transitions('expire')?.inc();
      events.push(...watched.events);
      this.#put(session.device, session.ip, watched.session, session);
    }
  }

  #devices(): string[] {
    const devices = new Set(this.#clocks.keys());
    for (const { device } of this.#stmt.devices.all() as Array<{ device: string }>) devices.add(device);
    return [...devices].sort();
  }

  #get(device: string, ip: string): Session | undefined {
    const row = this.#stmt.get.get(device, ip) as DbRow | undefined;
    return row === undefined ? undefined : fromDb(row);
  }

  #put(device: string, ip: string, next: Session | undefined, previous: Session | undefined): void {
    if (next === undefined) {
      if (previous !== undefined) this.#stmt.delete.run(device, ip);
      return;
    }
    this.#stmt.upsert.run(toDb(next));
    if (next.deadline !== undefined) {
      const bound = this.#nextDeadline.get(device);
      if (bound === undefined || next.deadline < bound) this.#nextDeadline.set(device, next.deadline);
    }
  }

  #notes(notes: readonly Note[], now: number): void {
    for (const note of notes) {
      const s = note.session;
      switch (note.kind) {
        case 'rekey-missing':
          this.#rekeyMissing?.inc();
          this.#rateLog.warn('rekey-missing', { device: s.device, ip: s.ip, user: s.user, vpn: s.vpn, deadline: new Date(note.deadline).toISOString() }, 'Rekey deadline passed without an UP; the session is flagged rekey-missing', wallish(now));
          break;
        case 'expired':
          this.#expired?.inc();
          this.#rateLog.warn('session-expired', { device: s.device, ip: s.ip, user: s.user, vpn: s.vpn, missed: s.missed }, 'Session ended by the rekey watch: its rekeys stopped', wallish(now));
          break;
        case 'late-down-ignored':
        case 'stale-down-ignored':
          this.#ignored(note.kind)?.inc();
          this.#rateLog.warn(note.kind, { device: s.device, ip: s.ip, liveUser: s.user, liveTunnelId: s.tunnelId, input: { user: note.candidate.user, tunnelId: note.candidate.tunnelId, time: note.candidate.time } }, note.kind === 'late-down-ignored' ? 'DOWN for an IP now held by another user (a late DOWN of a superseded session): no event' : 'DOWN for a tunnel the user already replaced: no event', wallish(now));
          break;
        default:
          note satisfies never;
      }
    }
  }
}

/** Rate limiting needs a monotone-ish time; capture clocks jump, so use the wall clock there. */
function wallish(_now: number): number {
  return Date.now();
}

function prepare(db: StateDb) {
  const columns = 'device, ip, ipv6, user, domain, sender, vpn, gateway, tunnel_id, peer, pattern, line_flags, connect_flags, since, last_rekey, interval_ms, deadline, missed';
  return {
    get: db.prepare(`SELECT ${columns} FROM sessions WHERE device = ? AND ip = ?`),
    upsert: db.prepare(`INSERT OR REPLACE INTO sessions (${columns}) VALUES (@device, @ip, @ipv6, @user, @domain, @sender, @vpn, @gateway, @tunnel_id, @peer, @pattern, @line_flags, @connect_flags, @since, @last_rekey, @interval_ms, @deadline, @missed)`),
    delete: db.prepare('DELETE FROM sessions WHERE device = ? AND ip = ?'),
    due: db.prepare(`SELECT ${columns} FROM sessions WHERE deadline IS NOT NULL AND deadline < ? ORDER BY deadline, device, ip`),
    dueOnDevice: db.prepare(`SELECT ${columns} FROM sessions WHERE device = ? AND deadline IS NOT NULL AND deadline < ? ORDER BY deadline, ip`),
    minDeadline: db.prepare('SELECT min(deadline) AS d FROM sessions WHERE device = ? AND deadline IS NOT NULL'),
    list: db.prepare(`SELECT ${columns} FROM sessions ORDER BY device, ip`),
    count: db.prepare('SELECT count(*) AS n FROM sessions'),
    devices: db.prepare('SELECT DISTINCT device FROM sessions WHERE deadline IS NOT NULL'),
    clocks: db.prepare('SELECT device, clock FROM session_clocks'),
    setClock: db.prepare('INSERT INTO session_clocks (device, clock) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET clock = excluded.clock'),
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

function fromDb(r: DbRow): Session {
  const s: Session = {
    device: r.device,
    ip: r.ip,
    user: r.user,
    domain: r.domain,
    sender: r.sender,
    pattern: r.pattern,
    lineFlags: JSON.parse(r.line_flags) as PtimFlag[],
    connectFlags: JSON.parse(r.connect_flags) as PtimFlag[],
    since: r.since,
    intervalMs: r.interval_ms,
    missed: r.missed,
  };
  if (r.ipv6 !== null) s.ipv6 = r.ipv6;
  if (r.vpn !== null) s.vpn = r.vpn;
  if (r.gateway !== null) s.gateway = r.gateway;
  if (r.tunnel_id !== null) s.tunnelId = r.tunnel_id;
  if (r.peer !== null) s.peer = r.peer;
  if (r.last_rekey !== null) s.lastRekey = r.last_rekey;
  if (r.deadline !== null) s.deadline = r.deadline;
  return s;
}

function toDb(s: Session): DbRow {
  return {
    device: s.device,
    ip: s.ip,
    ipv6: s.ipv6 ?? null,
    user: s.user,
    domain: s.domain,
    sender: s.sender,
    vpn: s.vpn ?? null,
    gateway: s.gateway ?? null,
    tunnel_id: s.tunnelId ?? null,
    peer: s.peer ?? null,
    pattern: s.pattern,
    line_flags: JSON.stringify(s.lineFlags),
    connect_flags: JSON.stringify(s.connectFlags),
    since: s.since,
    last_rekey: s.lastRekey ?? null,
    interval_ms: s.intervalMs,
    deadline: s.deadline ?? null,
    missed: s.missed,
  };
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
