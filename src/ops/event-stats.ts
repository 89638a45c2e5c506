import type { Statement } from 'better-sqlite3';
import type { PtimEvent, PtimState } from '../events/ptim-event.js';
import type { StateDb } from '../state-db.js';

/**
 * Tunnel-event statistics, like Junos' `show security ipsec tunnel-events statistics`: how many
 * connect / disconnect / rekey events the bridge queued for JIMS, JIMS acknowledged, were retried,
 * went to the dead-letter store or were skipped (push opt-out), per device and IKE gateway, since
 * the delivering process started and in total.
 *
 * Storage: one small table in the state file, `event_stats`, a row per (device, gateway, state,
 * kind) with `total` and `run` (since start). Counts are kept in memory during a transaction and
 * written as one UPSERT per row touched, just before the commit of the same transaction that
 * queued, acknowledged or dead-lettered the events: a restart keeps them, a rolled-back
 * transaction counts nothing and a crash cannot count an event twice (the count commits with the
 * outbox change it describes). A retry changes no outbox row; its count commits on its own.
 */
export type StatKind = 'queued' | 'acked' | 'retried' | 'dead-lettered' | 'skipped';

export const STAT_KINDS: readonly StatKind[] = ['queued', 'acked', 'retried', 'dead-lettered', 'skipped'];
const STATES: readonly PtimState[] = ['connect', 'disconnect', 'rekey'];

export type StatCounts = Record<StatKind, number>;

export interface StatsRow {
  device: string;
  /** The IKE gateway of the events; null when the log line named none. */
  gateway: string | null;
  state: PtimState;
  sinceStart: StatCounts;
  total: StatCounts;
}

export interface StatsReport {
  /** When the delivering process that counts "since start" started (ISO), and what it was (`run`, `replay`). */
  startedAt?: string;
  startedBy?: string;
  /** When this state file began counting (ISO). */
  countingSince?: string;
  rows: StatsRow[];
  totals: { sinceStart: StatCounts; total: StatCounts };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS event_stats (
  device TEXT NOT NULL,
  gateway TEXT NOT NULL,
  state TEXT NOT NULL,
  kind TEXT NOT NULL,
  total INTEGER NOT NULL,
  run INTEGER NOT NULL,
  PRIMARY KEY (device, gateway, state, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_stats_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  counting_since INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  started_by TEXT NOT NULL
);
`;

/** The counts of one transaction, written by `flush()` inside it. */
export class StatsRecorder {
  readonly #upsert: Statement<[string, string, string, string, number, number]>;
  /** device NUL gateway NUL state NUL kind -> count, for the open transaction. */
  #pending = new Map<string, number>();

  /**
   * Creates the tables if needed and starts a new "since start" period (the `run` column is set
   * to 0), for the process that delivers from this state file (it holds the file's lock).
   */
  constructor(db: StateDb, options: { startedBy: string; now?: number }) {
    db.exec(SCHEMA);
    this.#upsert = db.prepare('INSERT INTO event_stats (device, gateway, state, kind, total, run) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device, gateway, state, kind) DO UPDATE SET total = total + excluded.total, run = run + excluded.run');
    const now = options.now ?? Date.now();
    db.transaction(() => {
      db.prepare('UPDATE event_stats SET run = 0 WHERE run <> 0').run();
      db.prepare('INSERT INTO event_stats_meta (id, counting_since, started_at, started_by) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, started_by = excluded.started_by').run(now, now, options.startedBy);
    })();
  }

  /** Counts `kind` once for each event. Memory only, until `flush()`. */
  add(kind: StatKind, events: Iterable<Pick<PtimEvent, 'device' | 'gateway' | 'state'>>): void {
    for (const e of events) {
      const key = `${e.device}\u0000${e.gateway ?? ''}\u0000${e.state}\u0000${kind}`;
      this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    }
  }

  /** Writes what was counted: one UPSERT per (device, gateway, state, kind). Call inside the transaction. */
  flush(): void {
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [key, n] of pending) {
      const [device, gateway, state, kind] = key.split('\u0000') as [string, string, string, string];
      this.#upsert.run(device, gateway, state, kind, n, n);
    }
  }

  /** The transaction rolled back before `flush()`: forget its counts. */
  discard(): void {
    this.#pending.clear();
  }
}

const zero = (): StatCounts => ({ queued: 0, acked: 0, retried: 0, 'dead-lettered': 0, skipped: 0 });

/**
 * Reads the statistics of a state file (read-only; safe while the bridge writes: WAL readers see
 * the last commit). A file without the tables (never delivered from) gives an empty report.
 * Rows come by device, gateway, then connect / disconnect / rekey; filters compare exactly
 * (devices without case).
 */
export function readStats(db: StateDb, filter: { device?: string; gateway?: string } = {}): StatsReport {
  const exists = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('event_stats', 'event_stats_meta')").get() as { n: number };
  const report: StatsReport = { rows: [], totals: { sinceStart: zero(), total: zero() } };
  if (exists.n < 2) return report;
  const meta = db.prepare('SELECT counting_since, started_at, started_by FROM event_stats_meta WHERE id = 1').get() as { counting_since: number; started_at: number; started_by: string } | undefined;
  if (meta) {
    report.countingSince = new Date(meta.counting_since).toISOString();
    report.startedAt = new Date(meta.started_at).toISOString();
    report.startedBy = meta.started_by;
  }
  const byKey = new Map<string, StatsRow>();
  const all = db.prepare('SELECT device, gateway, state, kind, total, run FROM event_stats').all() as Array<{ device: string; gateway: string; state: string; kind: string; total: number; run: number }>;
  for (const r of all) {
    if (filter.device !== undefined && r.device.toLowerCase() !== filter.device.toLowerCase()) continue;
    if (filter.gateway !== undefined && r.gateway !== filter.gateway) continue;
    if (!STATES.includes(r.state as PtimState) || !STAT_KINDS.includes(r.kind as StatKind)) continue;
    const key = `${r.device}\u0000${r.gateway}\u0000${r.state}`;
    let row = byKey.get(key);
    if (row === undefined) {
      row = { device: r.device, gateway: r.gateway === '' ? null : r.gateway, state: r.state as PtimState, sinceStart: zero(), total: zero() };
      byKey.set(key, row);
    }
    const kind = r.kind as StatKind;
    row.sinceStart[kind] += r.run;
    row.total[kind] += r.total;
    report.totals.sinceStart[kind] += r.run;
    report.totals.total[kind] += r.total;
  }
  report.rows = [...byKey.values()].sort((a, b) => cmp(a.device, b.device) || cmp(a.gateway ?? '', b.gateway ?? '') || STATES.indexOf(a.state) - STATES.indexOf(b.state));
  return report;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const HEADERS = ['Device', 'Gateway', 'Event', 'Queued', 'Acknowledged', 'Retried', 'Dead letters', 'Skipped'];

/**
 * The report as `show security ipsec tunnel-events statistics` would print it: a block since the
 * start of the delivering process, then one in total, each a row per device, gateway and event
 * with a total line. Pure.
 */
export function formatStats(report: StatsReport): string {
  if (report.rows.length === 0) return 'No tunnel events counted yet (the state file has no statistics, or the filter matches none).\n';
  const block = (title: string, pick: (r: { sinceStart: StatCounts; total: StatCounts }) => StatCounts): string[] => {
    const rows = report.rows.map((r) => [r.device, r.gateway ?? '-', r.state, ...STAT_KINDS.map((k) => String(pick(r)[k]))]);
    rows.push(['Total', '', '', ...STAT_KINDS.map((k) => String(pick(report.totals)[k]))]);
    const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
    return [title, line(HEADERS), ...rows.map(line)];
  };
  const since = report.startedAt ? ` (${shortTime(report.startedAt)}${report.startedBy ? `, ${report.startedBy}` : ''})` : '';
  const counting = report.countingSince ? ` (counting since ${shortTime(report.countingSince)})` : '';
  return `${[...block(`Tunnel events since start${since}:`, (r) => r.sinceStart), '', ...block(`Tunnel events in total${counting}:`, (r) => r.total)].join('\n')}\n`;
}

/** `2026-03-14 09:02:11` (UTC). */
function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}
