import type { HistoryEvent, HistorySession } from '../delivery/event-history.js';
import type { PtimState } from '../events/ptim-event.js';
import type { SessionRow } from '../events/sessions.js';

/**
 * `sessions --detail`, like Junos' `show security ipsec security-associations detail`: per session
 * the live state (from the session table) and the events sent for it in order (from the state
 * file's bounded event history) with their delivery state. Pure functions over what was read.
 */
export interface SessionDetail {
  device: string;
  ip: string;
  user: string;
  domain: string;
  /** up: in the live table; ended: a disconnect was sent; gone: neither (ended unsent, e.g. push: false, or history pruned). */
  status: 'up' | 'ended' | 'gone';
  vpn?: string;
  gateway?: string;
  tunnelId?: string;
  /** The live table's row, when up. */
  session?: SessionRow;
  /** Events kept for the session, by state. */
  counts: Record<PtimState, number>;
  events: HistoryEvent[];
  /** Older events of this session were pruned (the history keeps the last ones per session). */
  truncated: boolean;
}

export interface SessionFilter {
  device?: string;
  user?: string;
  ip?: string;
}

/** Whether a live row passes the filters (device and user without case; IP exact, IPv4 or IPv6). */
export function rowMatches(r: SessionRow, f: SessionFilter): boolean {
  if (f.device !== undefined && r.device.toLowerCase() !== f.device.toLowerCase()) return false;
  if (f.user !== undefined && r.user.toLowerCase() !== f.user.toLowerCase()) return false;
  if (f.ip !== undefined && r.ip !== f.ip && r.ipv6 !== f.ip) return false;
  return true;
}

/**
 * Joins the live rows with the history: a live row takes the open history session of its device
 * and IP; live rows without history (a dry run, push: false) and history sessions no longer live
 * are listed too. By device, IP, then time. Both inputs must be filtered already.
 */
export function joinDetails(rows: readonly SessionRow[], history: readonly HistorySession[]): SessionDetail[] {
  const live = new Map(rows.map((r) => [`${r.device}\u0000${r.ip}`, r]));
  const used = new Set<string>();
  const out: SessionDetail[] = [];
  for (const h of history) {
    const key = `${h.device}\u0000${h.ip}`;
    const row = h.open && !used.has(key) ? live.get(key) : undefined;
    if (row) used.add(key);
    out.push(detailOf(h, row));
  }
  for (const [key, row] of live) {
    if (used.has(key)) continue;
    const d: SessionDetail = { device: row.device, ip: row.ip, user: row.user, domain: row.domain, status: 'up', session: row, counts: countStates([]), events: [], truncated: false };
    if (row.vpn !== undefined) d.vpn = row.vpn;
    if (row.tunnelId !== undefined) d.tunnelId = row.tunnelId;
    out.push(d);
  }
  return out.sort((a, b) => cmp(a.device, b.device) || cmp(a.ip, b.ip) || cmp(firstTime(a), firstTime(b)));
}

function detailOf(h: HistorySession, row: SessionRow | undefined): SessionDetail {
  const d: SessionDetail = {
    device: h.device, ip: h.ip, user: row?.user ?? h.user, domain: row?.domain ?? h.domain,
    status: row ? 'up' : h.open ? 'gone' : 'ended',
    counts: countStates(h.events), events: h.events, truncated: h.truncated,
  };
  const vpn = row?.vpn ?? h.vpn;
  const tunnelId = row?.tunnelId ?? h.tunnelId;
  if (vpn !== undefined) d.vpn = vpn;
  if (h.gateway !== undefined) d.gateway = h.gateway;
  if (tunnelId !== undefined) d.tunnelId = tunnelId;
  if (row) d.session = row;
  return d;
}

function countStates(events: readonly HistoryEvent[]): Record<PtimState, number> {
  const counts: Record<PtimState, number> = { connect: 0, rekey: 0, disconnect: 0 };
  for (const e of events) counts[e.state]++;
  return counts;
}

function firstTime(d: SessionDetail): string {
  return d.events[0]?.queuedAt ?? d.session?.since ?? '';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The detail listing: a block per session, then its events as a table. An empty list says so. */
export function formatSessionDetails(details: readonly SessionDetail[]): string {
  if (details.length === 0) return 'Total sessions: 0\n';
  const blocks = details.map((d) => {
    const s = d.session;
    const state = d.status === 'up' ? 'up' : d.status === 'ended' ? `ended ${short(d.events.at(-1)?.time)}` : 'not in the session table (a replay keeps its own, or it ended unsent)';
    const lines = [
      `Device: ${d.device}, Source IP: ${d.ip}, User: ${d.user}, Domain: ${d.domain}, State: ${state}`,
      `  VPN: ${d.vpn ?? '-'}, Gateway: ${d.gateway ?? '-'}, Tunnel: ${d.tunnelId ?? '-'}` +
        (s ? `, Since: ${short(s.since)}, Last rekey: ${short(s.lastRekey)}, Next deadline: ${short(s.nextDeadline)}, Flags: ${s.flags.join(',') || '-'}` : ''),
      `  Events sent: ${d.events.length} (connect ${d.counts.connect}, rekey ${d.counts.rekey}, disconnect ${d.counts.disconnect})${d.truncated ? ', older ones pruned' : ''}`,
    ];
    if (d.events.length === 0) {
      lines.push('    none recorded (a dry run, push: false for its gateway, VPN or device, or history pruned)');
      return lines.join('\n');
    }
    const headers = ['Seq', 'Event', 'Time', 'Delivery', 'Settled', 'Flags'];
    const cells = d.events.map((e) => [String(e.seq), e.state, short(e.time), deliveryText(e), short(e.settledAt), e.flags.join(',') || '-']);
    const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const row = (values: string[]) => `    ${values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')}`;
    lines.push(row(headers), ...cells.map(row));
    return lines.join('\n');
  });
  return `${blocks.join('\n\n')}\n\nTotal sessions: ${details.length}\n`;
}

function deliveryText(e: HistoryEvent): string {
  const retries = e.attempts > 0 ? ` (${e.attempts} ${e.attempts === 1 ? 'retry' : 'retries'})` : '';
  switch (e.delivery) {
    case 'queued':
      return `queued${retries}`;
    case 'delivered':
      return `delivered${retries}`;
    case 'dead-letter':
      return `dead letter${e.status !== undefined ? ` (HTTP ${e.status})` : ''}`;
    default:
      e.delivery satisfies never;
      return String(e.delivery);
  }
}

/** `2026-03-14 09:02:11` (UTC), or `-`. */
function short(iso: string | undefined): string {
  return iso === undefined ? '-' : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}
