import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { DeviceClocks } from '../../src/events/device-clocks.js';
import { keyOf, OP_CLOCK, OP_END, OP_PUT, patchOf, toValues } from '../../src/events/session-codec.js';
import type { Session } from '../../src/events/session-rules.js';
import { SessionStore, SNAPSHOT_PART, type StoredTable } from '../../src/events/session-store.js';
import { Tombstones } from '../../src/events/tombstones.js';
import { openStateDb, type StateDb } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-03-14T08:00:00.000Z');

function session(ip: string, over: Partial<Session> = {}): Session {
  return {
    device: 'srx-hq', ip, user: `u-${ip}`, domain: 'corp.example', sender: '192.0.2.10', vpn: 'ra-vpn', tunnelId: '1', pattern: 'junos-iked/vpn-up',
    lineFlags: [], connectFlags: [], since: T0, intervalMs: 3_600_000, deadline: T0 + 3_900_000, missed: 0, lastLineAt: T0, openId: `id-${ip}`, ...over,
  };
}

function emptyTable(): StoredTable {
  return { sessions: new Map(), tombstones: new Tombstones(() => T0), clocks: new DeviceClocks() };
}

/** A store on the file, with the table it fills; the connection closes with the test. */
function open(t: ExecutionContext, path: string): { db: StateDb; store: SessionStore; table: StoredTable } {
  const db = openStateDb(path);
  t.teardown(() => db.open && db.close());
  const table = emptyTable();
  const store = new SessionStore(db, table);
  store.load();
  return { db, store, table };
}

const rows = (db: StateDb, name: string) => (db.prepare(`SELECT count(*) AS n FROM ${name}`).get() as { n: number }).n;
/** Snapshot parts holding sessions (not the generation marker, a negative part). */
const parts = (db: StateDb) => db.prepare('SELECT count(*) FROM session_snapshot WHERE part >= 0').pluck().get() as number;
/** The snapshot generation the marker names (0 without one). */
const generationOf = (db: StateDb) => {
  const marker = db.prepare('SELECT part FROM session_snapshot WHERE part < 0').pluck().get() as number | undefined;
  return marker === undefined ? 0 : -1 - marker;
};

/** What the table holds, in comparable form (sessions and tombstones in their map order, which a reload keeps). */
function contents(table: StoredTable) {
  return { sessions: [...table.sessions], tombstones: [...table.tombstones.entries()], clocks: [...table.clocks.all].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

/** Records a small history: two connects, a rekey (patch), an end with its tombstone, a clock move alone. */
function writeHistory(db: StateDb, store: SessionStore, table: StoredTable): void {
  const a = session('10.20.0.5');
  const b = session('10.20.0.6', { device: 'srx-branch', ipv6: '2001:db8::6' });
  const a2: Session = { ...a, lastRekey: T0 + 3_600_000, deadline: T0 + 7_500_000, lastLineAt: T0 + 3_600_000 };
  db.transaction(() => {
    table.clocks.move('srx-hq', T0);
    table.sessions.set(keyOf(a.device, a.ip), a);
    store.record([OP_PUT, T0, ...toValues(a)]);
    table.clocks.move('srx-branch', T0);
    table.sessions.set(keyOf(b.device, b.ip), b);
    store.record([OP_PUT, T0, ...toValues(b)]);
    store.flush();
  })();
  db.transaction(() => {
    table.clocks.move('srx-hq', T0 + 3_600_000);
    table.sessions.set(keyOf(a.device, a.ip), a2);
    store.record(patchOf(T0 + 3_600_000, a, a2));
    table.clocks.move('srx-branch', T0 + 4_000_000);
    table.sessions.delete(keyOf(b.device, b.ip));
    table.tombstones.set(keyOf(b.device, b.ip), T0 + 4_000_000);
    store.record([OP_END, T0 + 4_000_000, b.device, b.ip, T0 + 4_000_000]);
    table.clocks.move('srx-gw', T0 + 5_000_000);
    store.record([OP_CLOCK, T0 + 5_000_000, 'srx-gw']);
    store.flush();
  })();
}

test('journal: what was flushed reads back the same after reopening; one row per flush', (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = open(t, path);
  writeHistory(first.db, first.store, first.table);
  t.is(rows(first.db, 'session_journal'), 2);
  t.is(first.store.journalTop(), first.store.lastWritten);
  const expected = contents(first.table);
  first.db.close();

  const second = open(t, path);
  t.deepEqual(contents(second.table), expected);
  t.is(second.store.lastWritten, second.store.journalTop());
  t.is(second.store.pendingCount, 0);
});

test('compaction: the snapshot, tombstones and moved clocks replace the journal, and read back the same', (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = open(t, path);
  writeHistory(first.db, first.store, first.table);
  const expected = contents(first.table);
  first.db.transaction(() => first.store.compact())();
  t.is(rows(first.db, 'session_journal'), 0);
  t.is(parts(first.db), 1);
  t.is(rows(first.db, 'session_tombstones'), 1);
  t.is(rows(first.db, 'session_clocks'), 3);
  t.is(first.store.lastWritten, undefined);
  first.db.close();

  const second = open(t, path);
  t.deepEqual(contents(second.table), expected);
  // More changes after a snapshot go to the journal on top of it.
  const c = session('10.20.0.7');
  second.db.transaction(() => {
    second.table.sessions.set(keyOf(c.device, c.ip), c);
    second.store.record([OP_PUT, null, ...toValues(c)]);
    second.store.flush();
  })();
  const after = contents(second.table);
  second.db.close();
  t.deepEqual(contents(open(t, path).table), after);
});

test('a snapshot is written in parts of SNAPSHOT_PART sessions', (t) => {
  const { db, store, table } = open(t, join(tempDir(t), 'state.db'));
  for (let i = 0; i < SNAPSHOT_PART + 1; i++) {
    const s = session(`10.0.${i >> 8}.${i & 255}`);
    table.sessions.set(keyOf(s.device, s.ip), s);
  }
  db.transaction(() => store.compact())();
  t.is(parts(db), 2);
});

test('recorded changes are written only by flush; discard forgets them; an empty flush writes no row', (t) => {
  const path = join(tempDir(t), 'state.db');
  const { db, store } = open(t, path);
  store.record([OP_PUT, null, ...toValues(session('10.20.0.5'))]);
  t.is(store.pendingCount, 1);
  store.discard();
  t.is(store.pendingCount, 0);
  store.flush();
  t.is(rows(db, 'session_journal'), 0);
  t.is(store.journalTop(), undefined);
});

test('journalTop tells a journal that moved under the store (another connection wrote it)', (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = open(t, path);
  const second = open(t, path);
  second.store.record([OP_CLOCK, T0, 'srx-hq']);
  second.store.flush();
  t.is(first.store.lastWritten, undefined);
  t.is(first.store.journalTop(), second.store.lastWritten);
  first.store.load();
  t.is(first.table.clocks.get('srx-hq'), T0);
  t.is(first.store.lastWritten, first.store.journalTop());
});

test('wantsCompaction once the journal holds max(65,536, 2 x table entries) changes', (t) => {
  const { store, table } = open(t, join(tempDir(t), 'state.db'));
  for (let i = 0; i < 65_535; i++) store.record([OP_CLOCK, T0 + i, 'srx-hq']);
  store.flush();
  t.false(store.wantsCompaction);
  store.record([OP_CLOCK, T0 + 65_535, 'srx-hq']);
  store.flush();
  t.true(store.wantsCompaction);
  for (let i = 0; i < 40_000; i++) table.tombstones.set(keyOf('srx-hq', `10.1.${i >> 8}.${i & 255}`), T0);
  t.false(store.wantsCompaction, '2 x 40,000 entries is the floor now');
});

test('a state file as older versions wrote it opens: 18-value sessions, an end without a tombstone', (t) => {
  const path = join(tempDir(t), 'state.db');
  const db = openStateDb(path);
  new SessionStore(db, emptyTable());
  // The rows literally, as issue 4's table wrote them (no lastLineAt / openId; ends carry no line time).
  const snapshotSession = ['srx-hq', '10.20.0.5', null, 'alice', 'corp.example', '192.0.2.10', 'ra-vpn', null, '1', null, 'junos-iked/vpn-up', [], [], T0, null, 3_600_000, T0 + 3_900_000, 0];
  db.prepare('INSERT INTO session_snapshot (part, sessions) VALUES (0, ?)').run(JSON.stringify([snapshotSession]));
  db.prepare("INSERT INTO session_clocks (device, clock) VALUES ('srx-hq', ?)").run(T0);
  const journalled = ['srx-hq', '10.20.0.6', null, 'bob', 'corp.example', '192.0.2.10', null, null, null, null, 'junos-iked/vpn-up', ['domain-missing'], [], T0 + 60_000, null, 0, null, 0];
  db.prepare('INSERT INTO session_journal (entries) VALUES (?)').run(JSON.stringify([[1, T0 + 60_000, ...journalled], [3, T0 + 120_000, 'srx-hq', '10.20.0.5', 14, T0 + 120_000], [0, T0 + 180_000, 'srx-hq', '10.20.0.6']]));
  db.close();

  const { table } = open(t, path);
  t.deepEqual([...table.sessions.values()], [{
    device: 'srx-hq', ip: '10.20.0.5', user: 'alice', domain: 'corp.example', sender: '192.0.2.10', vpn: 'ra-vpn', tunnelId: '1', pattern: 'junos-iked/vpn-up',
    lineFlags: [], connectFlags: [], since: T0, lastRekey: T0 + 120_000, intervalMs: 3_600_000, deadline: T0 + 3_900_000, missed: 0, openId: '',
  }]);
  t.deepEqual([...table.tombstones.entries()], [], 'an end without a line time leaves no tombstone');
  t.deepEqual([...table.clocks.all], [['srx-hq', T0 + 180_000]]);
});

/** A store with a small part size, so that a few thousand entries take many compaction steps. */
function openSliced(t: ExecutionContext, path: string, partSize: number) {
  const db = openStateDb(path);
  t.teardown(() => db.open && db.close());
  const table = emptyTable();
  const store = new SessionStore(db, table, { partSize });
  store.load();
  return { db, store, table };
}

/** One transaction of changes: `n` sessions put (new or changed), every seventh of them ended. */
function changeSome(db: StateDb, store: SessionStore, table: StoredTable, round: number, n: number): void {
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const ip = `10.9.${(round * n + i) % 40}.${i % 250}`;
      const key = keyOf('srx-hq', ip);
      const previous = table.sessions.get(key);
      if (previous !== undefined && i % 7 === 0) {
        table.sessions.delete(key);
        table.tombstones.set(key, T0 + round);
        store.record([OP_END, T0 + round, 'srx-hq', ip, T0 + round]);
        continue;
      }
      const next = session(ip, { lastRekey: T0 + round, lastLineAt: T0 + round });
      table.clocks.raise('srx-hq', T0 + round);
      table.tombstones.delete(key);
      table.sessions.set(key, next);
      store.record(previous === undefined ? [OP_PUT, T0 + round, ...toValues(next)] : patchOf(T0 + round, previous, next));
    }
    store.flush();
  })();
}

test('sliced compaction: after every step, a restart reads back the table as it is', (t) => {
  const path = join(tempDir(t), 'state.db');
  const { db, store, table } = openSliced(t, path, 300);
  for (let i = 0; i < 2_500; i++) {
    const s = session(`10.1.${i >> 8}.${i & 255}`);
    table.sessions.set(keyOf(s.device, s.ip), s);
    store.record([OP_PUT, null, ...toValues(s)]);
    if (i % 4 === 0) {
      table.tombstones.set(keyOf('srx-old', `10.2.${i >> 8}.${i & 255}`), T0);
      store.record([OP_END, null, 'srx-old', `10.2.${i >> 8}.${i & 255}`, T0]);
    }
  }
  db.transaction(() => store.flush())();
  // Two compactions in a row: into generation 1, then back into 0 (which deletes generation 1's parts).
  for (const generation of [1, 0]) {
    db.transaction(() => store.beginCompaction())();
    let steps = 0;
    while (store.compacting) {
      changeSome(db, store, table, steps, 40);
      steps++;
      const again = openSliced(t, path, 300);
      t.deepEqual(contents(again.table), contents(table), `generation ${generation}, step ${steps}`);
      again.db.close();
    }
    // 9 session parts and 3 tombstone parts, the switch, then the other generation's parts one by one.
    t.true(steps >= 13, `${steps} steps`);
    t.is(generationOf(db), generation);
    t.is(rows(db, 'session_journal'), steps, 'the rows written after the freeze (one per step) stay in the journal, the folded ones are gone');
  }
  const limit = 1_000_000_000;
  t.is((db.prepare('SELECT count(*) FROM session_snapshot WHERE part >= ?').pluck().get(limit) as number), 0, 'generation 1 is gone');
  t.false(store.wantsCompaction);
});

test('sliced compaction: a rolled-back step abandons it; the next one clears its parts and reads back the same', (t) => {
  const path = join(tempDir(t), 'state.db');
  const { db, store, table } = openSliced(t, path, 100);
  changeSome(db, store, table, 0, 900);
  db.transaction(() => store.beginCompaction())();
  changeSome(db, store, table, 1, 10);
  changeSome(db, store, table, 2, 10);
  t.true(store.compacting);
  const written = parts(db);
  t.true(written >= 1, 'parts of generation 1 are in the file');
  // A transaction that steps, then fails: SQLite takes its writes back, the store reloads (as the table does).
  t.throws(() => db.transaction(() => {
    store.record([OP_CLOCK, T0 + 99, 'srx-hq']);
    store.flush();
    throw new Error('rolled back');
  })());
  store.load();
  t.false(store.compacting, 'a reload forgets the compaction under way');
  t.is(parts(db), written, 'its committed parts stay until the next compaction');
  const expected = contents(table);
  db.transaction(() => store.compact())();
  t.deepEqual(contents(table), expected);
  t.is(rows(db, 'session_journal'), 0);
  t.is(parts(db), Math.ceil(table.sessions.size / 100), 'only the new generation is left');
  db.close();
  t.deepEqual(contents(openSliced(t, path, 100).table), expected);
});

test('sliced compaction keeps pace: a flush of more entries than a part holds takes as many steps', (t) => {
  const { db, store, table } = openSliced(t, join(tempDir(t), 'state.db'), 100);
  changeSome(db, store, table, 0, 1_000);
  db.transaction(() => store.beginCompaction())();
  // ~1,000 sessions: 10 parts and the switch. One flush of 1,000 entries is 10 steps, the next 1 more.
  changeSome(db, store, table, 1, 1_000);
  t.true(store.compacting);
  changeSome(db, store, table, 2, 1);
  t.false(store.compacting, 'done within the two flushes');
});

test('a file an older version compacted after this one (a downgrade, then an upgrade) reads back what it wrote', (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = openSliced(t, path, 100);
  changeSome(first.db, first.store, first.table, 0, 500);
  first.db.transaction(() => first.store.compact())();
  t.is(generationOf(first.db), 1);
  first.db.close();
  // What an older version's compaction does: every snapshot row goes (the marker too), its parts from 0.
  const db = openStateDb(path);
  const older = [session('10.7.0.1'), session('10.7.0.2')];
  db.transaction(() => {
    db.exec('DELETE FROM session_snapshot; DELETE FROM session_tombstones; DELETE FROM session_journal');
    db.prepare('INSERT INTO session_snapshot (part, sessions) VALUES (0, ?)').run(JSON.stringify(older.map(toValues)));
  })();
  db.close();
  const again = openSliced(t, path, 100);
  t.deepEqual([...again.table.sessions.values()], older);
  t.is(generationOf(again.db), 0);
});
