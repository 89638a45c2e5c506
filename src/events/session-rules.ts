import { toEvent, type PtimCandidate, type PtimEvent, type PtimFlag } from './ptim-event.js';

/**
 * The session state machine as pure functions: (session | undefined, candidate, now) -> events and
 * the session's next state. No SQLite, no clock, no logging: the table (sessions.ts) looks up the
 * session for the key, calls these, stores the result and turns `notes` into logs and metrics.
 *
 * Key: device + client IP. User and tunnel id are attributes, compared to tell a rekey from a
 * reconnect or a new user.
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
  | { kind: 'late-down-ignored'; session: Session; candidate: PtimCandidate };

/** What a transition did, for the transitions metric. */
export type Transition =
  | 'connect'
  | 'reconnect'
  | 'supersede'
  | 'rekey'
  | 'disconnect'
  | 'orphan-disconnect'
  | 'ignored-down'
  | 'expire';

export interface RuleResult {
  events: PtimEvent[];
  /** The session's next state; undefined = no live session for the key afterwards. */
  session: Session | undefined;
  transition: Transition;
  notes: Note[];
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
      const event = toEvent(candidateOf(next, deadline, WATCH_PATTERN), 'disconnect', ['rekey-missing', 'expired']);
      return { events: [event], session: undefined, notes };
    }
    next.deadline = deadline + next.intervalMs;
  }
  return { events: [], session: next, notes };
}

/**
 * Applies one matched line to the session for its key (already run through `runWatch` at `now`).
 * `now` is the table's clock for the line: receipt time live, the device clock in replay.
 * Never throws.
 */
export function applyRule(current: Session | undefined, candidate: PtimCandidate, now: number, settings: WatchSettings): RuleResult {
  switch (candidate.line) {
    case 'up':
      return applyUp(current, candidate, now, settings);
    case 'down':
      return applyDown(current, candidate);
    default:
      return candidate.line satisfies never;
  }
}

function applyUp(current: Session | undefined, c: PtimCandidate, now: number, settings: WatchSettings): RuleResult {
  if (current === undefined) {
    return { events: [toEvent(c, 'connect')], session: newSession(c, now, settings, []), transition: 'connect', notes: [] };
  }
  if (current.user !== c.user) {
    // Another user holds this IP: the old user's DOWN was lost. End the old mapping first so JIMS
    // never shows the IP under two names, timed at the line that revealed it.
    const old = toEvent(candidateOf(current, Date.parse(c.time), c.pattern, c.time), 'disconnect', ['superseded']);
    return {
      events: [old, toEvent(c, 'connect')],
      session: newSession(c, now, settings, []),
      transition: 'supersede',
      notes: [],
    };
  }
  if (!sameTunnel(current.tunnelId, c.tunnelId)) {
    return {
      events: [toEvent(c, 'connect', ['reconnected'])],
      session: newSession(c, now, settings, ['reconnected']),
      transition: 'reconnect',
      notes: [],
    };
  }
  const late = current.missed > 0 || (current.deadline !== undefined && now > current.deadline);
  const flags: PtimFlag[] = late ? ['rekey-inferred', 'rekey-late'] : ['rekey-inferred'];
  const next = refresh(current, c);
  next.lastRekey = now;
  next.missed = 0;
  const { intervalMs, deadline } = deadlineFields(c.vpn, now, settings);
  next.intervalMs = intervalMs;
  if (deadline === undefined) delete next.deadline;
  else next.deadline = deadline;
  return { events: [toEvent(c, 'rekey', flags)], session: next, transition: 'rekey', notes: [] };
}

function applyDown(current: Session | undefined, c: PtimCandidate): RuleResult {
  if (current === undefined) {
    return { events: [toEvent(c, 'disconnect', ['orphan-disconnect'])], session: undefined, transition: 'orphan-disconnect', notes: [] };
  }
  if (current.user !== c.user) {
    // A late DOWN of a superseded session: forwarding it could make JIMS drop the new user's mapping.
    return { events: [], session: current, transition: 'ignored-down', notes: [{ kind: 'late-down-ignored', session: current, candidate: c }] };
  }
  // Same user, even with another tunnel id (a late DOWN of a tunnel the user replaced, or a
  // firmware that numbers tunnels differently): ending the mapping is the safe side. A mapping that
  // outlives its session is a hole; a user who loses it early gets it back at the next rekey.
  return { events: [toEvent(c, 'disconnect')], session: undefined, transition: 'disconnect', notes: [] };
}

/** A missing tunnel id (a pattern without it) matches any: the user alone decides then. */
function sameTunnel(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

function newSession(c: PtimCandidate, now: number, settings: WatchSettings, connectFlags: PtimFlag[]): Session {
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
  };
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
  };
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

/** A candidate standing for a stored session, for the events the table makes up itself. */
function candidateOf(s: Session, at: number, pattern: string, time = new Date(at).toISOString()): PtimCandidate {
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
    lineKey: '',
  };
  Object.assign(c, optional(s));
  return c;
}
