import type { PtimFlag } from './ptim-event.js';
import type { Session } from './session-rules.js';

/**
 * How a session and its changes are written in the state file (session-store.ts) and read back:
 * pure functions, no SQLite. The layout is the on-disk format, so it only ever grows at the end
 * (values added by issue 8 are absent in older files and read as such).
 */

/**
 * One change, as journalled (arrays: half the bytes of objects): a session's new image, a
 * session ended, or only a device clock moved. The second item is the device clock after the
 * change (capture mode), null on the wall clock. An end carries the key's last applied line time,
 * kept as its tombstone (absent in journals written before issue 8).
 */
export type JournalEntry =
  | [typeof OP_PUT, number | null, ...SessionValues]
  | [typeof OP_END, number | null, device: string, ip: string, lastLineAt?: number]
  | [typeof OP_CLOCK, number, device: string]
  | [typeof OP_PATCH, number | null, device: string, ip: string, ...changes: unknown[]];

export const OP_END = 0;
export const OP_PUT = 1;
export const OP_CLOCK = 2;
/** Changed values only, as (index in SessionValues, value) pairs: a rekey is a third of a full image. */
export const OP_PATCH = 3;

/** A session as a compact list of values, as the snapshot and the journal store it. */
export type SessionValues = [
  device: string, ip: string, ipv6: string | null, user: string, domain: string, sender: string, vpn: string | null,
  gateway: string | null, tunnelId: string | null, peer: string | null, pattern: string, lineFlags: PtimFlag[],
  connectFlags: PtimFlag[], since: number, lastRekey: number | null, intervalMs: number, deadline: number | null, missed: number,
  // Added by issue 8; undefined when read from an older state file.
  lastLineAt?: number | null, openId?: string,
];

/** A tombstone as the snapshot stores it. */
export type TombstoneValues = [device: string, ip: string, lastLineAt: number];

/** The table's key for a device + client IP. */
export function keyOf(device: string, ip: string): string {
  return `${device}\u0000${ip}`;
}

/** The device of a key (an IP never holds NUL; a device name might). */
export function deviceOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf('\u0000'));
}

/** A key with its last line time, as the snapshot stores a tombstone. */
export function tombstoneValues(key: string, at: number): TombstoneValues {
  const cut = key.lastIndexOf('\u0000');
  return [key.slice(0, cut), key.slice(cut + 1), at];
}

export function toValues(s: Session): SessionValues {
  return [
    s.device, s.ip, s.ipv6 ?? null, s.user, s.domain, s.sender, s.vpn ?? null, s.gateway ?? null, s.tunnelId ?? null, s.peer ?? null, s.pattern,
    s.lineFlags, s.connectFlags, s.since, s.lastRekey ?? null, s.intervalMs, s.deadline ?? null, s.missed,
    s.lastLineAt ?? null, s.openId,
  ];
}

/** The session the values describe; optional fields left out when null (as `toValues` wrote them). */
export function fromValues(v: SessionValues): Session {
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

/**
 * The journal patch from one state of a session to the next: (index in SessionValues, value) pairs
 * of what changed. Compares field by field: a rekey changes three or four of eighteen.
 */
export function patchOf(clock: number | null, a: Session, b: Session): JournalEntry {
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

/** The session a patch entry (from `patchOf`) makes of `base`. */
export function applyPatch(base: Session, patch: readonly unknown[]): Session {
  const values = toValues(base) as unknown[];
  for (let i = 4; i + 1 < patch.length; i += 2) values[patch[i] as number] = patch[i + 1];
  return fromValues(values as SessionValues);
}

/** Equality of two journal values: flags are compared as lists. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
