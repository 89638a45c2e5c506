import { hash } from 'node:crypto';

/**
 * The one schema everything speaks (DESIGN.md §3). Pure data; no behaviour but the id.
 */
export type PtimState = 'connect' | 'disconnect' | 'rekey';

export type PtimFlag =
  | 'rekey-inferred'
  | 'rekey-late'
  | 'rekey-missing'
  | 'expired'
  | 'reconnected'
  | 'superseded'
  | 'orphan-disconnect'
  | 'domain-missing'
  | 'replayed';

export const MISSING_DOMAIN = 'missing-domain-secureconnect';

export interface PtimEvent {
  id: string;
  state: PtimState;
  user: string;
  domain: string;
  ip: string;
  ipv6?: string;
  time: string;
  device: string;
  sender: string;
  vpn?: string;
  gateway?: string;
  tunnelId?: string;
  peer?: string;
  reason?: string;
  flags: PtimFlag[];
  pattern: string;
}

/** What a matched line says, before the session table decides connect vs rekey. */
export type LineState = 'up' | 'down';

/**
 * A normalized line: everything of the event except the state the session table derives,
 * and the id, which depends on that state.
 */
export interface PtimCandidate extends Omit<PtimEvent, 'id' | 'state'> {
  line: LineState;
  /**
   * What identifies the line itself: device, tag and message text (not the syslog header, which
   * relays rewrite). Two arrivals with the same key are one line sent twice. Never sent to JIMS.
   */
  lineKey: string;
}

/**
 * Deterministic idempotency key: the same device, IP, tunnel, user, state, time and `origin` always
 * give the same id, so a replayed line or a retried batch is recognisable as a duplicate at JIMS.
 * `origin` is what tells apart two events those fields cannot (after a firewall clock jump, a new
 * connect can repeat an old one's time, tunnel id, user and IP): the line's `lineKey` (its device,
 * tag and message text) for an event of a line, and for an event the session table makes up itself
 * its kind and the id of the event that opened the session it ends (see session-rules.ts).
 */
export function eventId(e: Pick<PtimEvent, 'device' | 'ip' | 'tunnelId' | 'user' | 'state' | 'time'>, origin = ''): string {
  // crypto.hash: one call instead of a Hash object per event (measurable on a VPN-only replay).
  return hash('sha256', [e.device, e.ip, e.tunnelId ?? '', e.user, e.state, e.time, origin].join('\u0000'), 'hex').slice(0, 32);
}

/**
 * A short digest of a `lineKey` (22 base64 characters of SHA-256): what the duplicate memory keeps and
 * what an event id hashes, so neither holds nor rehashes a long line. '' for '' (and for a candidate
 * built without one by JavaScript code, such as the benches).
 */
export function lineDigest(lineKey: string | undefined): string {
  return lineKey ? hash('sha256', lineKey, 'base64').slice(0, 22) : '';
}

/**
 * Builds an event from a candidate and the state the session table chose; its id's origin is
 * `origin`, by default the digest of the candidate's `lineKey` (pass it when already computed).
 */
export function toEvent(c: PtimCandidate, state: PtimState, extraFlags: readonly PtimFlag[] = [], origin = lineDigest(c.lineKey)): PtimEvent {
  const flags = [...c.flags];
  for (const f of extraFlags) if (!flags.includes(f)) flags.push(f);
  // Built key by key in the order of DESIGN.md §3 (stable NDJSON and golden files): an object
  // spread of the candidate without `line`/`lineKey` cost more than the rest of this function.
  const event = { id: '', state, user: c.user, domain: c.domain, ip: c.ip } as PtimEvent;
  if (c.ipv6 !== undefined) event.ipv6 = c.ipv6;
  event.time = c.time;
  event.device = c.device;
  event.sender = c.sender;
  if (c.vpn !== undefined) event.vpn = c.vpn;
  if (c.gateway !== undefined) event.gateway = c.gateway;
  if (c.tunnelId !== undefined) event.tunnelId = c.tunnelId;
  if (c.peer !== undefined) event.peer = c.peer;
  if (c.reason !== undefined) event.reason = c.reason;
  event.flags = flags;
  event.pattern = c.pattern;
  event.id = eventId(event, origin);
  return event;
}
