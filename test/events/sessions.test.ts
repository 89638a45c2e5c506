import test from 'ava';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { validateConfig } from '../../src/config.js';
import type { PtimCandidate, PtimEvent } from '../../src/events/ptim-event.js';
import { SNAPSHOT_PART } from '../../src/events/session-store.js';
import { SessionTable } from '../../src/events/sessions.js';
import { openStateDb, type StateDb } from '../../src/state-db.js';
import { candidate } from '../helpers/candidates.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-03-14T08:00:00.000Z');
const M = 60_000;
const H = 60 * M;
const config = validateConfig({ sessions: { rekeyGraceSeconds: 300 }, vpns: { short: { rekeyIntervalSeconds: 600 }, off: { rekeyIntervalSeconds: 0 } } });

const cand = (line: 'up' | 'down', at: number, over: Partial<PtimCandidate> = {}): PtimCandidate => candidate(line, at, { tunnelId: '1', ...over });

function open(t: Parameters<typeof tempDir>[0], clock: 'wall' | 'capture', path?: string): { db: StateDb; table: SessionTable; path: string } {
  const file = path ?? join(tempDir(t), 'state.db');
  const db = openStateDb(file);
  t.teardown(() => db.open && db.close());
  return { db, table: new SessionTable({ db, config, clock }), path: file };
}

/** One line in a transaction of its own (the bridge's tick with one message). */
const applyOne = (table: SessionTable, c: PtimCandidate, at: number) => table.transaction(() => table.apply(c, at));
const expire = (table: SessionTable, now: number) => table.transaction(() => table.expire(now));

const brief = (events: PtimEvent[]) => events.map((e) => `${e.state} ${e.device} ${e.ip} ${e.user} ${e.time} [${e.flags.join(',')}]`);

test('wall clock: connect, rekey, watch on expire(now), list', (t) => {
  const { table } = open(t, 'wall');
  t.deepEqual(brief(applyOne(table, cand('up', T0), T0)), [`connect srx-hq 10.20.0.5 alice ${new Date(T0).toISOString()} []`]);
  t.deepEqual(applyOne(table, cand('up', T0 + H), T0 + H).map((e) => e.state), ['rekey']);
  t.deepEqual(expire(table, T0 + 2 * H + 5 * M), [], 'deadline not passed yet');
  t.deepEqual(expire(table, T0 + 2 * H + 5 * M + 1), [], 'first miss: flag only');
  const row = table.list()[0]!;
  t.deepEqual(row.flags, ['rekey-missing']);
  t.is(row.missedRekeys, 1);
  t.is(row.lastRekey, new Date(T0 + H).toISOString());
  t.is(row.nextDeadline, new Date(T0 + 3 * H + 5 * M).toISOString());
  const ended = expire(table, T0 + 10 * H);
  t.deepEqual(brief(ended), [`disconnect srx-hq 10.20.0.5 alice ${new Date(T0 + 3 * H + 5 * M).toISOString()} [rekey-missing,expired]`]);
  t.deepEqual(table.list(), []);
});

test('wall clock: the line time goes into events, the receipt time into deadlines', (t) => {
  const { table } = open(t, 'wall');
  // The firewall's clock is a day behind the bridge's.
  applyOne(table, cand('up', T0 - 24 * H), T0);
  t.is(table.list()[0]!.nextDeadline, new Date(T0 + H + 5 * M).toISOString());
  t.deepEqual(expire(table, T0 + H), []);
});

test('wall clock: an UP after its deadline, before the timer ran, is a late rekey', (t) => {
  const { table } = open(t, 'wall');
  applyOne(table, cand('up', T0), T0);
  const events = applyOne(table, cand('up', T0 + H + 6 * M), T0 + H + 6 * M);
  t.deepEqual(events.map((e) => e.flags), [['rekey-inferred', 'rekey-late']]);
  t.is(table.list()[0]!.missedRekeys, 0);
});

test('capture clock: each device keeps its own clock; its lines run its watch first', (t) => {
  const { table } = open(t, 'capture');
  applyOne(table, cand('up', T0), 0);
  applyOne(table, cand('up', T0, { device: 'srx-branch', ip: '10.30.0.9', user: 'carol' }), 0);
  // srx-branch runs far ahead; srx-hq's session must not be judged on srx-branch's clock.
  t.deepEqual(applyOne(table, cand('up', T0 + 5 * H, { device: 'srx-branch', ip: '10.30.0.10', user: 'dave' }), 0).map((e) => `${e.state} ${e.user}`), [
    'disconnect carol',
    'connect dave',
  ]);
  t.is(table.list().filter((r) => r.device === 'srx-hq').length, 1);
  // Now srx-hq's clock moves: its watch ends alice (timed at her deadline) before the new line.
  const events = applyOne(table, cand('up', T0 + 3 * H, { ip: '10.20.0.6', user: 'erin' }), 0);
  t.deepEqual(brief(events), [
    `disconnect srx-hq 10.20.0.5 alice ${new Date(T0 + 2 * H + 5 * M).toISOString()} [rekey-missing,expired]`,
    `connect srx-hq 10.20.0.6 erin ${new Date(T0 + 3 * H).toISOString()} []`,
  ]);
  t.deepEqual(Object.fromEntries(table.clocks()), { 'srx-hq': T0 + 3 * H, 'srx-branch': T0 + 5 * H });
});

test('capture clock: a line older than its device clock is applied without turning the clock back', (t) => {
  const { table } = open(t, 'capture');
  applyOne(table, cand('up', T0), 0);
  applyOne(table, cand('up', T0 + 30 * M, { ip: '10.20.0.6', user: 'bob' }), 0);
  // Alice's rekey arrives late in the file, stamped before bob's connect.
  const events = applyOne(table, cand('up', T0 + 20 * M), 0);
  t.deepEqual(events.map((e) => [e.state, e.time]), [['rekey', new Date(T0 + 20 * M).toISOString()]]);
  t.is(table.clocks().get('srx-hq'), T0 + 30 * M);
  // The deadline counts from the device clock, not from the older line time.
  t.is(table.list().find((r) => r.user === 'alice')!.nextDeadline, new Date(T0 + 30 * M + H + 5 * M).toISOString());
});

test('capture clock: expire(Infinity) ends every watched session; sessions without a watch stay', (t) => {
  const { table } = open(t, 'capture');
  table.transaction(() => {
    table.apply(cand('up', T0), 0);
    table.apply(cand('up', T0, { ip: '10.20.0.7', user: 'nowatch', vpn: 'off' }), 0);
    table.apply(cand('up', T0, { device: 'srx-branch', ip: '10.30.0.9', user: 'carol', vpn: 'short' }), 0);
  });
  t.deepEqual(expire(table, -Infinity), [], 'nothing due at the device clocks');
  const events = expire(table, Infinity);
  t.deepEqual(brief(events), [
    `disconnect srx-branch 10.30.0.9 carol ${new Date(T0 + 20 * M + 5 * M).toISOString()} [rekey-missing,expired]`,
    `disconnect srx-hq 10.20.0.5 alice ${new Date(T0 + 2 * H + 5 * M).toISOString()} [rekey-missing,expired]`,
  ]);
  t.deepEqual(table.list().map((r) => r.user), ['nowatch']);
});

/** A day's worth of lines over two devices, with every kind of transition. */
function script(): PtimCandidate[] {
  const lines: PtimCandidate[] = [];
  for (let h = 0; h < 8; h++) {
    lines.push(cand('up', T0 + h * H + 1000)); // alice rekeys hourly
    if (h < 2) lines.push(cand('up', T0 + h * H + 2000, { ip: '10.20.0.8', user: 'stopper' })); // rekeys stop
    lines.push(cand('up', T0 + h * H + 3000, { device: 'srx-branch', ip: '10.30.0.1', user: 'carol', vpn: 'short' }));
  }
  lines.push(cand('up', T0 + 3 * H, { ip: '10.20.0.9', user: 'bob' }));
  lines.push(cand('up', T0 + 4 * H, { ip: '10.20.0.9', user: 'bob', tunnelId: '2' }));
  lines.push(cand('up', T0 + 5 * H, { ip: '10.20.0.9', user: 'dave', tunnelId: '3' }));
  lines.push(cand('down', T0 + 5 * H + 1, { ip: '10.20.0.9', user: 'bob', tunnelId: '2' }));
  lines.push(cand('down', T0 + 6 * H, { ip: '10.20.0.99', user: 'ghost' }));
  lines.push(cand('down', T0 + 7 * H, { ip: '10.20.0.9', user: 'dave', tunnelId: '3' }));
  return lines.sort((a, b) => a.time.localeCompare(b.time));
}

function replay(table: SessionTable, lines: PtimCandidate[]): PtimEvent[] {
  return table.transaction(() => lines.flatMap((c) => table.apply(c, 0)));
}

test('restart: closing and reopening the state file in the middle gives the same events and table', (t) => {
  const lines = script();
  const whole = open(t, 'capture');
  const expected = replay(whole.table, lines);
  t.true(expected.length > 20);
  t.true(expected.some((e) => e.flags.includes('expired')));
  t.true(expected.some((e) => e.flags.includes('superseded')));
  t.true(expected.some((e) => e.flags.includes('orphan-disconnect')));

  for (const cut of [1, 7, Math.floor(lines.length / 2), lines.length - 1]) {
    const first = open(t, 'capture');
    const a = replay(first.table, lines.slice(0, cut));
    first.db.close();
    const second = open(t, 'capture', first.path);
    const b = replay(second.table, lines.slice(cut));
    t.deepEqual([...a, ...b], expected, `cut at ${cut}`);
    t.deepEqual(second.table.list(), whole.table.list(), `table after cut at ${cut}`);
    t.deepEqual(Object.fromEntries(second.table.clocks()), Object.fromEntries(whole.table.clocks()));
  }
});

test('a rolled-back transaction leaves the table as it was', (t) => {
  const { table } = open(t, 'capture');
  applyOne(table, cand('up', T0), 0);
  const before = table.list();
  t.throws(() => table.transaction(() => {
    table.apply(cand('down', T0 + M), 0);
    throw new Error('outbox full');
  }));
  t.deepEqual(table.list(), before);
});

test('apply and expire outside a transaction throw and change nothing', (t) => {
  const { db, table } = open(t, 'capture');
  applyOne(table, cand('up', T0), 0);
  const before = table.list();
  t.throws(() => table.apply(cand('down', T0 + M), 0), { message: /inside transaction\(\)/ });
  t.throws(() => table.expire(Infinity), { message: /inside transaction\(\)/ });
  // Nor inside the caller's own db.transaction(): its rollback would leave the table behind the file.
  t.throws(() => db.transaction(() => table.apply(cand('down', T0 + M), 0))(), { message: /inside transaction\(\)/ });
  t.deepEqual(table.list(), before);
  t.is((db.prepare('SELECT count(*) AS n FROM session_journal').get() as { n: number }).n, 1);
});

test('metrics: transitions, ignored DOWNs, rekey-missing, expired, live gauge', async (t) => {
  const registry = new Registry();
  const db = openStateDb(join(tempDir(t), 's.db'));
  t.teardown(() => db.close());
  const table = new SessionTable({ db, config, clock: 'capture', registry });
  replay(table, script());
  expire(table, Infinity);
  const text = await registry.metrics();
  t.regex(text, /ptim_bridge_session_transitions_total\{transition="connect"\} \d+/);
  t.regex(text, /ptim_bridge_session_transitions_total\{transition="supersede"\} 1/);
  t.regex(text, /ptim_bridge_session_transitions_total\{transition="reconnect"\} 1/);
  t.regex(text, /ptim_bridge_session_transitions_total\{transition="orphan-disconnect"\} 1/);
  t.regex(text, /ptim_bridge_session_lines_ignored_total\{reason="late-down-ignored"\} 1/);
  t.regex(text, /ptim_bridge_session_rekey_missing_total [1-9]/);
  t.regex(text, /ptim_bridge_session_expired_total [1-9]/);
  t.regex(text, /ptim_bridge_sessions_live 0/);
});

test('transaction(): a throw rolls back and the table continues as if the batch never ran', (t) => {
  const lines = script();
  const whole = open(t, 'capture');
  const expected = whole.table.transaction(() => lines.flatMap((c) => whole.table.apply(c, 0)));

  const { table } = open(t, 'capture');
  const cut = Math.floor(lines.length / 2);
  const a = table.transaction(() => lines.slice(0, cut).flatMap((c) => table.apply(c, 0)));
  const error = t.throws(() => table.transaction(() => {
    for (const c of lines.slice(cut)) table.apply(c, 0);
    throw new Error('outbox full');
  }));
  t.is(error?.message, 'outbox full');
  const b = table.transaction(() => lines.slice(cut).flatMap((c) => table.apply(c, 0)));
  t.deepEqual([...a, ...b], expected);
  t.deepEqual(table.list(), whole.table.list());
});

test('a journal written by another connection is noticed by the next transaction, which reloads first', (t) => {
  const lines = script();
  const whole = open(t, 'capture');
  const expected = replay(whole.table, lines);

  const first = open(t, 'capture');
  const cut = 10;
  const a = replay(first.table, lines.slice(0, cut));
  const other = open(t, 'capture', first.path);
  const b = replay(other.table, lines.slice(cut, 2 * cut));
  const c = replay(first.table, lines.slice(2 * cut));
  t.deepEqual([...a, ...b, ...c], expected);
  t.deepEqual(first.table.list(), whole.table.list());
});

test('restart after compaction at any point gives the same events, table and clocks', (t) => {
  const lines = script();
  const whole = open(t, 'capture');
  const expected = replay(whole.table, lines);
  for (const cut of [3, 11, 20, lines.length - 2]) {
    const first = open(t, 'capture');
    const a = first.table.transaction(() => lines.slice(0, cut).flatMap((c) => first.table.apply(c, 0)));
    first.table.compact();
    const a2 = first.table.transaction(() => lines.slice(cut, cut + 2).flatMap((c) => first.table.apply(c, 0)));
    first.db.close();
    const second = open(t, 'capture', first.path);
    const b = second.table.transaction(() => lines.slice(cut + 2).flatMap((c) => second.table.apply(c, 0)));
    t.deepEqual([...a, ...a2, ...b], expected, `compacted at ${cut}`);
    t.deepEqual(second.table.list(), whole.table.list());
    t.deepEqual(Object.fromEntries(second.table.clocks()), Object.fromEntries(whole.table.clocks()));
    second.table.compact();
    const parts = second.db.prepare('SELECT sessions FROM session_snapshot').pluck().all() as string[];
    t.is(parts.flatMap((p) => JSON.parse(p) as unknown[]).length, whole.table.list().length, 'the snapshot holds the live sessions after compaction');
    t.is((second.db.prepare('SELECT count(*) AS n FROM session_journal').get() as { n: number }).n, 0);
  }
});

test('thousands of sessions reload exactly, from the journal and from the snapshot', (t) => {
  const { db, table, path } = open(t, 'wall');
  table.transaction(() => {
    for (let i = 0; i < 20_000; i++) {
      table.apply(cand('up', T0 + i, { ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, user: `u${i}`, flags: i % 3 === 0 ? ['domain-missing'] : [], vpn: i % 5 === 0 ? 'off' : 'ra-vpn' }), T0 + i);
    }
    for (let i = 0; i < 20_000; i += 7) table.apply(cand('down', T0 + 50_000 + i, { ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, user: `u${i}` }), T0 + 50_000 + i);
  });
  const before = table.list();
  t.is((db.prepare('SELECT count(*) AS n FROM session_journal').get() as { n: number }).n, 1, 'one journal row per transaction');
  db.close();
  const fromJournal = open(t, 'wall', path);
  t.deepEqual(fromJournal.table.list(), before);
  fromJournal.table.compact();
  t.is((fromJournal.db.prepare('SELECT count(*) AS n FROM session_snapshot WHERE part >= 0').get() as { n: number }).n, Math.ceil(before.length / SNAPSHOT_PART), 'snapshot parts of SNAPSHOT_PART sessions');
  fromJournal.db.close();
  const fromSnapshot = open(t, 'wall', path);
  t.deepEqual(fromSnapshot.table.list(), before);
});

test('the journal folds itself into the snapshot once it is long, a slice per transaction', (t) => {
  const { db, table, path } = open(t, 'wall');
  const ip = (i: number) => `10.0.${i >> 8}.${i & 255}`;
  const count = (name: string) => (db.prepare(`SELECT count(*) AS n FROM ${name}`).get() as { n: number }).n;
  table.transaction(() => {
    for (let i = 0; i < 1000; i++) table.apply(cand('up', T0, { ip: ip(i), user: `u${i}` }), T0);
  });
  const round = (r: number) => table.transaction(() => {
    for (let i = 0; i < 1000; i++) table.apply(cand('up', T0 + r * M, { ip: ip(i), user: `u${i}` }), T0 + r * M);
  });
  // 66 rekeys each: the journal passes the 65,536-change floor in round 65, whose flush freezes the
  // table; round 66 writes its one part, round 67 switches to it and drops the folded rows.
  for (let r = 1; r <= 66; r++) round(r);
  t.is(count('session_snapshot WHERE part >= 0'), 1, 'the new part is written');
  t.is(count('session_journal'), 67, 'nothing is folded before the switch');
  t.deepEqual(open(t, 'wall', path).table.list(), table.list(), 'mid-compaction, the old snapshot and the whole journal read back the table');
  round(67);
  t.is(count('session_journal'), 2, 'only rounds 66 and 67 are left in the journal');
  t.is(count('session_snapshot WHERE part >= 0'), 1);
  const before = table.list();
  t.is(before[0]!.lastRekey, new Date(T0 + 67 * M).toISOString());
  db.close();
  t.deepEqual(open(t, 'wall', path).table.list(), before);
});

test('a damaged stored table is ERR_STATE_UNREADABLE, naming the file', (t) => {
  const { db, table, path } = open(t, 'wall');
  applyOne(table, cand('up', T0), T0);
  db.prepare("UPDATE session_journal SET entries = '[[1, null, \"srx' ").run();
  db.close();
  const again = openStateDb(path);
  t.teardown(() => again.close());
  const error = t.throws(() => new SessionTable({ db: again, config, clock: 'wall' }));
  t.is((error as { code?: string }).code, 'ERR_STATE_UNREADABLE');
  t.true(error!.message.includes(path));
});

test('a compaction that fails outside a tick (a full disk) reloads the table: later ticks do not finish it with a part missing', (t) => {
  const { db, table, path } = open(t, 'wall');
  table.transaction(() => {
    for (let i = 0; i < 5_000; i++) table.apply(cand('up', T0, { ip: `10.0.${i >> 8}.${i & 255}`, user: `u${i}` }), T0);
  });
  const before = table.list();
  // The second part's INSERT fails, as SQLITE_FULL or an I/O error would.
  db.exec('CREATE TRIGGER fail BEFORE INSERT ON session_snapshot WHEN NEW.part = 1000000001 BEGIN SELECT RAISE(ABORT, \'disk full\'); END');
  t.throws(() => table.compact(), { any: true, message: /disk full/ });
  db.exec('DROP TRIGGER fail');
  // Enough ticks for the rest of a half-done compaction (3 parts and the switch), had it been kept.
  for (let k = 0; k < 5; k++) table.transaction(() => undefined);
  t.deepEqual(table.list(), before);
  db.close();
  t.deepEqual(open(t, 'wall', path).table.list(), before, 'every session reads back');
});
