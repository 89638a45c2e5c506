import { lineDigest, toEvent, type PtimCandidate, type PtimEvent, type PtimFlag } from './ptim-event.js';
import { isoTime } from './iso-time.js';

/**
 * The session state machine as pure functions: (session | undefined, candidate, now) -> events and
 * the session's next state. No SQLite, no clock, no logging: the table (sessions.ts) looks up the
 * session for the key, calls these, stores the result and turns `notes` into logs and metrics.
 *
 * Key: device + client IP. User and tunnel id are attributes, compared to tell a rekey from a
 * reconnect or a new user.
 *
 * Time sanity: per key, a line older (by its own time) than the last line applied for the key is
 * stale and does not undo it: no event (transition `stale-line`). The one exception is an older UP of
 * the live session's own user and tunnel, which undoes nothing and is a rekey as usual (so a firewall
 * whose clock stepped back keeps its sessions). Times are compared to the second (RFC 3164 has no
 * fractions, RFC 5424 has), and the same second is not stale: a DOWN and an UP in the same second are
 * a normal reconnect, and arrival order decides. After a session ends the table keeps the key's last
 * line time (a tombstone) and passes it in, so an old UP cannot bring the user back.
 */

/** One live VPN session, as stored. Times are ms since the epoch on the table's clock. */
export interface Session {
  device: string;
  ip: string;
  ipv6?: string;
  user: string;
  domain: string;
  sender: string;
  vpn?: string;
  gateway?: string;
  tunnelId?: string;
  peer?: string;
  /** Rule that matched the session's last UP. */
  pattern: string;
  /** The candidate flags of the last UP (domain-missing, replayed), carried into synthetic events. */
  lineFlags: PtimFlag[];
  /** How the session began (connect flags such as `reconnected`), shown in the listing. */
  connectFlags: PtimFlag[];
  since: number;
  lastRekey?: number;
  /** Rekey interval in ms fixed at the last UP; 0 = no watch. */
  intervalMs: number;
  /** When the next UP is due (interval + grace after the last UP, then one interval per miss). */
  deadline?: number;
  /** Deadlines passed without an UP since the last one. */
  missed: number;
  /** The latest own time (ms) of the lines applied to the session; undefined for a state file older than issue 8. */
  lastLineAt?: number;
  /** Id of the connect that opened the session: what makes the events the table makes up for it unique. */
  openId: string;
}

/** Settings the rules need, already resolved for the candidate's VPN. */
export interface WatchSettings {
  /** Rekey interval for a VPN name, in ms; 0 turns the watch off. */
  intervalMs(vpn: string | undefined): number;
  graceMs: number;
  /** Missed intervals after which the session is ended (>= 1). */
  maxMissed: number;
}

/** Things worth a log line and a metric that are not events. */
export type Note =
  | { kind: 'rekey-missing'; session: Session; deadline: number }
  | { kind: 'expired'; session: Session; deadline: number }
  | { kind: 'late-down-ignored'; session: Session; candidate: PtimCandidate }
  | { kind: 'stale-line'; session: Session | undefined; candidate: PtimCandidate; lastLineAt: number };

/** What a transition did, for the transitions metric. */
export type Transition =
  | 'connect'
  | 'reconnect'
  | 'supersede'
  | 'rekey'
  | 'disconnect'
  | 'orphan-disconnect'
  | 'ignored-down'
  | 'stale-line'
  | 'expire';

export interface RuleResult {
  events: PtimEvent[];
  /** The session's next state; undefined = no live session for the key afterwards. */
  session: Session | undefined;
  transition: Transition;
  notes: Note[];
  /** The key's last applied line time after the step (the table keeps it as a tombstone when no session is left). */
  lastLineAt: number | undefined;
}

export interface WatchResult {
  events: PtimEvent[];
  session: Session | undefined;
  notes: Note[];
}

/** The watch's own rule id, for events no syslog line matched (an expiry). */
export const WATCH_PATTERN = 'sessions/rekey-watch';

/**
 * Runs one session's rekey watch up to `now`: every deadline strictly before `now` counts as
 * missed. The first miss flags the session `rekey-missing` (a note, no event); the miss that
 * reaches `maxMissed` ends it with a `disconnect` flagged `rekey-missing` + `expired`, timed at
 * that deadline so that its id is the same whenever the watch happens to run.
 */
export function runWatch(session: Session, now: number, settings: WatchSettings): WatchResult {
  if (session.deadline === undefined || session.intervalMs <= 0 || !(now > session.deadline)) {
    return { events: [], session, notes: [] };
  }
  const next: Session = { ...session };
  const notes: Note[] = [];
  while (next.deadline !== undefined && now > next.deadline) {
    next.missed += 1;
    const deadline = next.deadline;
    if (next.missed === 1) notes.push({ kind: 'rekey-missing', session: next, deadline });
    if (next.missed >= settings.maxMissed) {
      notes.push({ kind: 'expired', session: next, deadline });
      const event = toEvent(candidateOf(next, deadline, WATCH_PATTERN, `expired\u0000${next.openId}`), 'disconnect', ['rekey-missing', 'expired']);
      return { events: [event], session: undefined, notes };
    }
    next.deadline = deadline + next.intervalMs;
  }
  return { events: [], session: next, notes };
}

/** What the table knows of the key's history besides its live session. */
export interface LineContext {
  /** When no session is live: the last applied line time the table kept for the key. */
  tombstone?: number;
  /**
   * The line has no time of its own (a replayed line without a header time carries the replay's
   * receipt time, which says nothing about when it happened): it is never stale and does not move
   * the key's last line time; arrival order decides for it.
   */
  untimed?: boolean;
  /** The line's own time in ms, when the caller parsed it already (default: parsed from `time`). */
  lineAt?: number;
  /** lineDigest(candidate.lineKey), when the caller computed it already (the events' id origin). */
  digest?: string;
}

/**
 * Applies one matched line to the session for its key (already run through `runWatch` at `now`).
 * `now` is the table's clock for the line: receipt time live, the device clock in replay.
 * Never throws.
 */
export function applyRule(current: Session | undefined, candidate: PtimCandidate, now: number, settings: WatchSettings, context: LineContext = {}): RuleResult {
  const lineAt = context.untimed ? NaN : (context.lineAt ?? Date.parse(candidate.time));
  const last = current === undefined ? context.tombstone : current.lastLineAt;
  if (isStale(current, candidate, lineAt, last)) {
    return { events: [], session: current, transition: 'stale-line', notes: [{ kind: 'stale-line', session: current, candidate, lastLineAt: last! }], lastLineAt: last };
  }
  // No time (untimed, or unreadable, which normalize never makes): never stale, never moves the mark.
  const after = !Number.isFinite(lineAt) ? last : last === undefined || lineAt > last ? lineAt : last;
  const digest = context.digest ?? lineDigest(candidate.lineKey);
  switch (candidate.line) {
    case 'up':
      return applyUp(current, candidate, now, settings, after, digest);
    case 'down':
      return applyDown(current, candidate, after, digest);
    default:
      return candidate.line satisfies never;
  }
}

/**
 * Whether a line (at `lineAt`, ms) is in an earlier second than the last one applied for its key
 * (`last`) and would undo it. An older UP of the live session's own user and tunnel only confirms the
 * session (a rekey), so it is not. NaN is never stale.
 */
export function isStale(current: Session | undefined, c: PtimCandidate, lineAt: number, last: number | undefined): boolean {
  if (last === undefined || !(Math.floor(lineAt / 1000) < Math.floor(last / 1000))) return false;
  return !(c.line === 'up' && current !== undefined && current.user === c.user && sameTunnel(current.tunnelId, c.tunnelId));
}

function applyUp(current: Session | undefined, c: PtimCandidate, now: number, settings: WatchSettings, lastLineAt: number | undefined, digest: string): RuleResult {
  if (current === undefined) {
    const connect = toEvent(c, 'connect', [], digest);
    return { events: [connect], session: newSession(c, now, settings, [], connect.id, lastLineAt), transition: 'connect', notes: [], lastLineAt };
  }
  if (current.user !== c.user) {
    // Another user holds this IP: the old user's DOWN was lost. End the old mapping first so JIMS
    // never shows the IP under two names, timed at the line that revealed it.
    const old = toEvent(candidateOf(current, Date.parse(c.time), c.pattern, `superseded\u0000${current.openId}`, c.time), 'disconnect', ['superseded']);
    const connect = toEvent(c, 'connect', [], digest);
    return {
      events: [old, connect],
      session: newSession(c, now, settings, [], connect.id, lastLineAt),
      transition: 'supersede',
      notes: [],
      lastLineAt,
    };
  }
  if (!sameTunnel(current.tunnelId, c.tunnelId)) {
    const connect = toEvent(c, 'connect', ['reconnected'], digest);
    return {
      events: [connect],
      session: newSession(c, now, settings, ['reconnected'], connect.id, lastLineAt),
      transition: 'reconnect',
      notes: [],
      lastLineAt,
    };
  }
  const late = current.missed > 0 || (current.deadline !== undefined && now > current.deadline);
  const flags: PtimFlag[] = late ? ['rekey-inferred', 'rekey-late'] : ['rekey-inferred'];
  const next = refresh(current, c);
  if (lastLineAt !== undefined) next.lastLineAt = lastLineAt;
  next.lastRekey = now;
  next.missed = 0;
  const { intervalMs, deadline } = deadlineFields(c.vpn, now, settings);
  next.intervalMs = intervalMs;
  if (deadline === undefined) delete next.deadline;
  else next.deadline = deadline;
  return { events: [toEvent(c, 'rekey', flags, digest)], session: next, transition: 'rekey', notes: [], lastLineAt };
}

function applyDown(current: Session | undefined, c: PtimCandidate, lastLineAt: number | undefined, digest: string): RuleResult {
  if (current === undefined) {
    return { events: [toEvent(c, 'disconnect', ['orphan-disconnect'], digest)], session: undefined, transition: 'orphan-disconnect', notes: [], lastLineAt };
  }
  if (current.user !== c.user) {
    // A late DOWN of a superseded session: forwarding it could make JIMS drop the new user's mapping.
    // Not applied, so it does not move the key's last line time either.
    return { events: [], session: current, transition: 'ignored-down', notes: [{ kind: 'late-down-ignored', session: current, candidate: c }], lastLineAt: current.lastLineAt };
  }
  // Same user, even with another tunnel id (a late DOWN of a tunnel the user replaced, or a
  // firmware that numbers tunnels differently): ending the mapping is the safe side. A mapping that
  // outlives its session is a hole; a user who loses it early gets it back at the next rekey.
  return { events: [toEvent(c, 'disconnect', [], digest)], session: undefined, transition: 'disconnect', notes: [], lastLineAt };
}

/** A missing tunnel id (a pattern without it) matches any: the user alone decides then. */
function sameTunnel(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

function newSession(c: PtimCandidate, now: number, settings: WatchSettings, connectFlags: PtimFlag[], openId: string, lastLineAt: number | undefined): Session {
  // Built field by field: object spread in this hot path costs more than the rule itself.
  const s: Session = {
    device: c.device,
    ip: c.ip,
    user: c.user,
    domain: c.domain,
    sender: c.sender,
    pattern: c.pattern,
    lineFlags: [...c.flags],
    connectFlags,
    since: now,
    intervalMs: 0,
    missed: 0,
    openId,
  };
  if (lastLineAt !== undefined) s.lastLineAt = lastLineAt;
  if (c.ipv6 !== undefined) s.ipv6 = c.ipv6;
  if (c.vpn !== undefined) s.vpn = c.vpn;
  if (c.gateway !== undefined) s.gateway = c.gateway;
  if (c.tunnelId !== undefined) s.tunnelId = c.tunnelId;
  if (c.peer !== undefined) s.peer = c.peer;
  const { intervalMs, deadline } = deadlineFields(c.vpn, now, settings);
  s.intervalMs = intervalMs;
  if (deadline !== undefined) s.deadline = deadline;
  return s;
}

/** The attributes a rekey may legitimately change (peer after a NAT change, a corrected domain). */
function refresh(s: Session, c: PtimCandidate): Session {
  // Built field by field: rest/spread copies of a hot object cost more than the rule itself.
  const next: Session = {
    device: s.device,
    ip: s.ip,
    user: s.user,
    domain: c.domain,
    sender: c.sender,
    pattern: c.pattern,
    lineFlags: [...c.flags],
    connectFlags: s.connectFlags,
    since: s.since,
    intervalMs: s.intervalMs,
    missed: s.missed,
    openId: s.openId,
  };
  if (s.lastLineAt !== undefined) next.lastLineAt = s.lastLineAt;
  if (s.lastRekey !== undefined) next.lastRekey = s.lastRekey;
  if (s.deadline !== undefined) next.deadline = s.deadline;
  return Object.assign(next, optional(c));
}

function deadlineFields(vpn: string | undefined, now: number, settings: WatchSettings): Pick<Session, 'intervalMs' | 'deadline'> {
  const intervalMs = settings.intervalMs(vpn);
  return intervalMs > 0 ? { intervalMs, deadline: now + intervalMs + settings.graceMs } : { intervalMs: 0 };
}

function optional(c: Pick<PtimCandidate, 'ipv6' | 'vpn' | 'gateway' | 'tunnelId' | 'peer'>): Partial<Session> {
  const o: Partial<Session> = {};
  if (c.ipv6 !== undefined) o.ipv6 = c.ipv6;
  if (c.vpn !== undefined) o.vpn = c.vpn;
  if (c.gateway !== undefined) o.gateway = c.gateway;
  if (c.tunnelId !== undefined) o.tunnelId = c.tunnelId;
  if (c.peer !== undefined) o.peer = c.peer;
  return o;
}

/**
 * A candidate standing for a stored session, for the events the table makes up itself. Its lineKey
 * is `origin` (what the event is and which session it ends), so the event's id cannot repeat another's.
 */
function candidateOf(s: Session, at: number, pattern: string, origin: string, time = isoTime(at)): PtimCandidate {
  const c: PtimCandidate = {
    line: 'down',
    user: s.user,
    domain: s.domain,
    ip: s.ip,
    time,
    device: s.device,
    sender: s.sender,
    flags: [...s.lineFlags],
    pattern,
    lineKey: origin,
  };
  Object.assign(c, optional(s));
  return c;
}
