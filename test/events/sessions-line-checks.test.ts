import test from 'ava';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { validateConfig, type ConfigInput } from '../../src/config.js';
import type { PtimCandidate, PtimEvent } from '../../src/events/ptim-event.js';
import { SessionTable } from '../../src/events/sessions.js';
import { openStateDb, type StateDb } from '../../src/state-db.js';
import { candidate } from '../helpers/candidates.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The session table's line checks (issue 8), through the real table and SQLite: stale lines,
 * out-of-window times (live only), duplicates, and the tombstone across a restart.
 */
const T0 = Date.parse('2026-03-14T08:00:00.000Z');
const S = 1000;
const H = 3600 * S;
const DAY = 24 * H;

const base: ConfigInput = { vpns: { short: { rekeyIntervalSeconds: 600 } } };

interface Arrival {
  line: 'up' | 'down';
  /** The line's own time, ms after T0. */
  at: number;
  /** Receipt time, ms after T0 (default: `at`; in replay the receipt is a constant, --now). */
  received?: number;
  /** The line's identity (lineKey); the same key is the same line sent again. */
  key: string;
  over?: Partial<PtimCandidate>;
}

interface Case {
  name: string;
  clock: 'wall' | 'capture';
  config?: ConfigInput;
  /** Each arrival and the events it gives, as `state user @seconds-after-T0 [flags]`. */
  steps: Array<[Arrival, string[]]>;
  /** Metric lines expected in the registry afterwards. */
  metrics?: RegExp[];
}

const up = (at: number, key: string, over: Partial<Arrival> = {}): Arrival => ({ line: 'up', at, key, ...over });
const down = (at: number, key: string, over: Partial<Arrival> = {}): Arrival => ({ line: 'down', at, key, ...over });
const REPLAY_NOW = Date.parse('2026-03-15T00:00:00.000Z');

const cases: Case[] = [
  // Duplicates
  {
    name: 'duplicate: the same UP again within the window is applied once (no connect + rekey)',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [up(0, 'U1', { received: 5 * S }), []],
    ],
    metrics: [/ptim_bridge_session_lines_ignored_total\{reason="duplicate"\} 1/],
  },
  {
    name: 'duplicate: the same DOWN twice is one disconnect (no orphan-disconnect)',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [down(60 * S, 'D1'), ['disconnect alice @60 []']],
      [down(60 * S, 'D1', { received: 62 * S }), []],
    ],
  },
  {
    name: 'duplicate: from another relay or transport (other sender) it is still the same line',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [up(0, 'U1', { received: 1 * S, over: { sender: '192.0.2.99' } }), []],
    ],
  },
  {
    name: 'duplicate: outside the window the copy is applied (a rekey: same second, not stale)',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [up(0, 'U1', { received: 31 * S }), ['rekey alice @0 [rekey-inferred]']],
    ],
  },
  {
    name: 'duplicate: the window is capped at half the VPN rekey interval (every rekey repeats its text)',
    clock: 'wall',
    config: { lineChecks: { duplicateWindowSeconds: 400 } },
    steps: [
      [up(0, 'S1', { over: { vpn: 'short', ip: '10.20.0.6' } }), ['connect alice @0 []']],
      [up(0, 'S1', { received: 350 * S, over: { vpn: 'short', ip: '10.20.0.6' } }), ['rekey alice @0 [rekey-inferred]']],
      [up(0, 'U1'), ['connect alice @0 []']],
      [up(0, 'U1', { received: 350 * S }), []],
    ],
  },
  {
    name: 'duplicate: 0 turns the check off',
    clock: 'wall',
    config: { lineChecks: { duplicateWindowSeconds: 0 } },
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [up(0, 'U1', { received: 1 * S }), ['rekey alice @0 [rekey-inferred]']],
    ],
  },
  {
    name: 'duplicate (replay): judged on the line time, so a copy later in the file is one',
    clock: 'capture',
    steps: [
      [up(0, 'U1', { received: REPLAY_NOW - T0 }), ['connect alice @0 []']],
      [up(10 * S, 'B1', { received: REPLAY_NOW - T0, over: { ip: '10.20.0.6', user: 'bob' } }), ['connect bob @10 []']],
      [up(0, 'U1', { received: REPLAY_NOW - T0 }), []],
    ],
  },
  {
    name: 'duplicate (replay): the same text an hour later is the next rekey',
    clock: 'capture',
    steps: [
      [up(0, 'U1', { received: REPLAY_NOW - T0 }), ['connect alice @0 []']],
      [up(H, 'U1', { received: REPLAY_NOW - T0 }), ['rekey alice @3600 [rekey-inferred]']],
    ],
  },
  // Times out of window
  {
    name: 'time: a day and a second behind the receipt is rejected (default), counted',
    clock: 'wall',
    steps: [[up(-DAY - S, 'U1', { received: 0 }), []]],
    metrics: [/ptim_bridge_session_lines_ignored_total\{reason="time-out-of-window"\} 1/],
  },
  {
    name: 'time: 2099 is rejected',
    clock: 'wall',
    steps: [[up(Date.parse('2099-01-01T00:00:00Z') - T0, 'U1', { received: 0 }), []]],
  },
  {
    name: 'time: exactly a day behind is accepted as it is',
    clock: 'wall',
    steps: [[up(-DAY, 'U1', { received: 0 }), [`connect alice @${-DAY / S} []`]]],
  },
  {
    name: 'time: clamp replaces a 2001 time by the receipt time, counted',
    clock: 'wall',
    config: { lineChecks: { outOfWindow: 'clamp' } },
    steps: [[up(Date.parse('2001-01-01T00:00:00Z') - T0, 'U1', { received: 7 * S }), ['connect alice @7 []']]],
    metrics: [/ptim_bridge_session_line_times_clamped_total 1/],
  },
  {
    name: 'time (replay): the receipt time means nothing, 2001 is kept as it is',
    clock: 'capture',
    steps: [[up(Date.parse('2001-01-01T00:00:00Z') - T0, 'U1', { received: REPLAY_NOW - T0 }), [`connect alice @${(Date.parse('2001-01-01T00:00:00Z') - T0) / S} []`]]],
  },
  // Stale lines
  {
    name: 'stale: an UP older than the DOWN that ended the session (delayed relay) is ignored, counted',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [down(60 * S, 'D1'), ['disconnect alice @60 []']],
      [up(30 * S, 'U2', { received: 90 * S }), []],
    ],
    metrics: [/ptim_bridge_session_lines_ignored_total\{reason="stale-line"\} 1/, /ptim_bridge_session_transitions_total\{transition="stale-line"\} 1/],
  },
  {
    name: 'stale: a DOWN older than the newer UP of a reconnect is ignored',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [up(120 * S, 'U2', { over: { tunnelId: '500012' } }), ['connect alice @120 [reconnected]']],
      [down(60 * S, 'D1', { received: 130 * S }), []],
    ],
  },
  {
    name: 'stale: the copy of an UP that arrives after the window and after the DOWN is ignored',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [down(60 * S, 'D1'), ['disconnect alice @60 []']],
      [up(0, 'U1', { received: 120 * S }), []],
    ],
  },
  {
    name: 'equal seconds: DOWN then UP in the same second is a reconnect; arrival order decides',
    clock: 'wall',
    steps: [
      [up(0, 'U1'), ['connect alice @0 []']],
      [down(60 * S, 'D1'), ['disconnect alice @60 []']],
      [up(60 * S, 'U2', { over: { tunnelId: '500012' } }), ['connect alice @60 []']],
    ],
  },
  {
    name: 'stale (replay): the tombstone counts for a day of the device clock, then the line applies',
    clock: 'capture',
    steps: [
      [up(0, 'U1', { received: 0 }), ['connect alice @0 []']],
      [down(60 * S, 'D1', { received: 0 }), ['disconnect alice @60 []']],
      [up(30 * S, 'U2', { received: 0 }), []],
      [up(DAY + 61 * S, 'B1', { received: 0, over: { ip: '10.20.0.6', user: 'bob', vpn: 'off' } }), [`connect bob @${DAY / S + 61} []`]],
      [up(30 * S, 'U2b', { received: 0 }), ['connect alice @30 []']],
    ],
  },
  {
    name: 'replay: a line timed at the receipt time had no header time: it is not stale and does not mark',
    clock: 'capture',
    steps: [
      [up(0, 'U1', { received: REPLAY_NOW - T0 }), ['connect alice @0 []']],
      // (It still moves the device clock, as before issue 8: the watch ends alice first.)
      [up(REPLAY_NOW - T0, 'U-untimed', { received: REPLAY_NOW - T0 }), ['disconnect alice @7500 [rekey-missing,expired]', `connect alice @${(REPLAY_NOW - T0) / S} []`]],
      [down(60 * S, 'D1', { received: REPLAY_NOW - T0 }), ['disconnect alice @60 []']],
    ],
  },
];

function brief(events: readonly PtimEvent[]): string[] {
  return events.map((e) => `${e.state} ${e.user} @${(Date.parse(e.time) - T0) / S} [${e.flags.join(',')}]`);
}

function toCandidate(a: Arrival): PtimCandidate {
  return candidate(a.line, T0 + a.at, { ...a.over, lineKey: a.key });
}

for (const c of cases) {
  test(`table: ${c.name}`, async (t) => {
    const db = openStateDb(join(tempDir(t), 'state.db'));
    t.teardown(() => db.close());
    const registry = new Registry();
    const config = validateConfig({ ...base, ...c.config, vpns: { ...base.vpns, off: { rekeyIntervalSeconds: 0 } } });
    const table = new SessionTable({ db, config, clock: c.clock, registry });
    c.steps.forEach(([arrival, expected], i) => {
      t.deepEqual(brief(table.transaction(() => table.apply(toCandidate(arrival), T0 + (arrival.received ?? arrival.at)))), expected, `step ${i}`);
    });
    const text = await registry.metrics();
    for (const m of c.metrics ?? []) t.regex(text, m);
  });
}

function open(t: Parameters<typeof tempDir>[0], path: string, clock: 'wall' | 'capture' = 'wall'): { db: StateDb; table: SessionTable } {
  const db = openStateDb(path);
  t.teardown(() => db.open && db.close());
  return { db, table: new SessionTable({ db, config: validateConfig({}), clock }) };
}

const cand = (line: 'up' | 'down', at: number, key: string, over: Partial<PtimCandidate> = {}) => candidate(line, T0 + at, { ...over, lineKey: key });
/** One line in a transaction of its own (the bridge's tick with one message). */
const applyOne = (table: SessionTable, c: PtimCandidate, at: number) => table.transaction(() => table.apply(c, at));

test('restart: the tombstone survives closing and reopening the state file, from the journal and from the snapshot', (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = open(t, path);
  first.table.transaction(() => {
    first.table.apply(cand('up', 0, 'U1'), T0);
    first.table.apply(cand('down', 60 * S, 'D1'), T0 + 60 * S);
    // An orphan DOWN leaves one too.
    first.table.apply(cand('down', 60 * S, 'D2', { ip: '10.20.0.99', user: 'erin' }), T0 + 60 * S);
  });
  first.db.close();

  const second = open(t, path);
  t.deepEqual(applyOne(second.table, cand('up', 30 * S, 'U2'), T0 + 90 * S), [], 'stale after a restart (journal)');
  t.deepEqual(applyOne(second.table, cand('up', 30 * S, 'E1', { ip: '10.20.0.99', user: 'erin' }), T0 + 90 * S), [], 'orphan tombstone too');
  second.table.compact();
  t.is((second.db.prepare('SELECT count(*) AS n FROM session_journal').get() as { n: number }).n, 0);
  second.db.close();

  const third = open(t, path);
  t.deepEqual(applyOne(third.table, cand('up', 30 * S, 'U3'), T0 + 95 * S), [], 'stale after a restart (snapshot)');
  t.deepEqual(brief(applyOne(third.table, cand('up', 61 * S, 'U4'), T0 + 95 * S)), ['connect alice @61 []'], 'a newer UP connects');
  third.db.close();

  // The live session now carries the mark; it is journalled with the session.
  const fourth = open(t, path);
  t.deepEqual(applyOne(fourth.table, cand('down', 30 * S, 'D3'), T0 + 96 * S), [], 'an older DOWN does not end the new session');
  t.is(fourth.table.list().length, 1);
});

test('restart: a tombstone past its retention is swept at compaction and not stored', (t) => {
  const path = join(tempDir(t), 'state.db');
  const { db, table } = open(t, path);
  applyOne(table, cand('down', 0, 'D1'), T0);
  applyOne(table, cand('up', 2 * DAY, 'B1', { ip: '10.20.0.6', user: 'bob' }), T0 + 2 * DAY);
  table.compact();
  const stored = (db.prepare('SELECT tombstones FROM session_tombstones').pluck().all() as string[]).flatMap((p) => JSON.parse(p) as unknown[]);
  t.deepEqual(stored, []);
});

test('ids: the same capture replayed from an empty state gives the same ids', (t) => {
  const lines = [
    cand('up', 0, 'U1'), cand('up', H, 'U1'), cand('up', 2 * H, 'B1', { user: 'bob', tunnelId: '7' }),
    cand('down', 3 * H, 'D9', { ip: '10.20.0.99', user: 'erin' }), cand('down', 3 * H + S, 'DB', { user: 'bob', tunnelId: '7' }),
  ];
  const run = () => {
    const { table } = open(t, join(tempDir(t), 'state.db'), 'capture');
    return table.transaction(() => [...lines.flatMap((c) => table.apply(c, 0)), ...table.expire(Infinity)]);
  };
  const a = run();
  t.true(a.length >= 5);
  t.deepEqual(run(), a);
  t.is(new Set(a.map((e) => e.id)).size, a.length, 'no two events share an id');
});

test('ids: after a firewall clock jump a new connect with the same time, tunnel, user and IP gets another id', (t) => {
  const { table } = open(t, join(tempDir(t), 'state.db'), 'capture');
  const first = applyOne(table, cand('up', 0, 'srx-hq UP alice from 198.51.100.23 tunnel 500011'), 0);
  applyOne(table, cand('down', 60 * S, 'srx-hq DOWN alice'), 0);
  // Days later the firewall restarts with its clock back at T0 (tunnel ids start over); the tombstone is past its retention.
  applyOne(table, cand('up', 3 * DAY, 'other', { ip: '10.20.0.6', user: 'bob' }), 0);
  const again = applyOne(table, cand('up', 0, 'srx-hq UP alice from 198.51.100.77 tunnel 500011', { peer: '198.51.100.77' }), 0);
  t.is(first.length, 1);
  t.is(again.length, 1);
  const pick = (e: PtimEvent) => [e.state, e.time, e.tunnelId, e.user, e.ip, e.device];
  t.deepEqual(pick(again[0]!), pick(first[0]!));
  t.not(again[0]!.id, first[0]!.id);
});

const badConfigs: Array<[name: string, input: ConfigInput, key: string]> = [
  ['outOfWindow not reject or clamp', { lineChecks: { outOfWindow: 'ignore' as 'reject' } }, 'lineChecks.outOfWindow'],
  ['time window under a minute', { lineChecks: { timeWindowSeconds: 10 } }, 'lineChecks.timeWindowSeconds'],
  ['negative duplicate window', { lineChecks: { duplicateWindowSeconds: -1 } }, 'lineChecks.duplicateWindowSeconds'],
  ['unknown key', { lineChecks: { window: 5 } as ConfigInput['lineChecks'] }, 'lineChecks'],
];

for (const [name, input, key] of badConfigs) {
  test(`config: lineChecks ${name} is ERR_CONFIG_INVALID naming the key`, (t) => {
    const error = t.throws(() => validateConfig(input));
    t.is((error as { code?: string }).code, 'ERR_CONFIG_INVALID');
    t.true(error!.message.includes(key), error!.message);
  });
}

test('config: lineChecks defaults (a day, reject, 30 s)', (t) => {
  t.deepEqual(validateConfig({}).lineChecks, { timeWindowSeconds: 86400, outOfWindow: 'reject', duplicateWindowSeconds: 30 });
});
