import test from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import { validateConfig } from '../../src/config.js';
import type { PtimCandidate } from '../../src/events/ptim-event.js';
import { SessionTable } from '../../src/events/sessions.js';
import { openStateDb } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Property: however a run is cut (restart, compaction, a rolled-back batch retried), the events
 * and the final table are those of the uninterrupted run. Random lines over a few devices, IPs,
 * users and tunnels, with times that mostly move forward and sometimes step back.
 */
const T0 = Date.parse('2026-03-14T08:00:00.000Z');
const config = validateConfig({ sessions: { rekeyGraceSeconds: 60, maxMissedRekeys: 2 }, vpns: { short: { rekeyIntervalSeconds: 600 }, off: { rekeyIntervalSeconds: 0 } } });
/** For the duplicate property: live receipts 5 s apart while line times wander over days would all be out of window. */
const wideWindow = validateConfig({ ...config, lineChecks: { timeWindowSeconds: 30 * 86400 } });

const line = fc.record({
  up: fc.boolean(),
  device: fc.constantFrom('srx-a', 'srx-b'),
  ip: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3'),
  user: fc.constantFrom('alice', 'bob'),
  tunnel: fc.constantFrom('1', '2'),
  vpn: fc.constantFrom('ra-vpn', 'short', 'off'),
  step: fc.integer({ min: -120, max: 3000 }),
});

interface Line { up: boolean; device: string; ip: string; user: string; tunnel: string; vpn: string; step: number }

function toCandidates(lines: Line[]): PtimCandidate[] {
  let at = T0;
  return lines.map((l, i) => {
    at += l.step * 1000;
    return {
      line: l.up ? 'up' : 'down', user: l.user, domain: 'corp.example', ip: l.ip, time: new Date(at).toISOString(), device: l.device,
      // Each generated line is another line (the duplicate property below makes copies on purpose).
      sender: '192.0.2.1', vpn: l.vpn, tunnelId: l.tunnel, flags: [], pattern: l.up ? 'p/up' : 'p/down', lineKey: `${l.device} line ${i}`,
    };
  });
}

test('restart, compaction and a rolled-back batch never change the outcome', (t) => {
  const dir = tempDir(t);
  let n = 0;
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 60 }), fc.nat(), fc.nat(), fc.constantFrom('wall', 'capture') as fc.Arbitrary<'wall' | 'capture'>, fc.boolean(), (lines, c1, c2, clock, rollback) => {
      const cands = toCandidates(lines);
      // Replay's receipt time is a constant (--now), not the line's: a line timed at it had no time of its own.
      const apply = (table: SessionTable, cs: PtimCandidate[]) => cs.flatMap((c) => table.apply(c, clock === 'wall' ? Date.parse(c.time) : 0));
      const path = (name: string) => join(dir, `${n}-${name}.db`);
      n++;

      const refDb = openStateDb(path('ref'));
      const ref = new SessionTable({ db: refDb, config, clock });
      const expected = [...ref.transaction(() => apply(ref, cands)), ...ref.transaction(() => ref.expire(T0 + 1e9))];
      const expectedTable = ref.list();
      refDb.close();

      const cutA = c1 % (cands.length + 1);
      const cutB = cutA + (c2 % (cands.length - cutA + 1));
      const db1 = openStateDb(path('cut'));
      const first = new SessionTable({ db: db1, config, clock });
      const a = first.transaction(() => apply(first, cands.slice(0, cutA)));
      first.compact();
      if (rollback) t.throws(() => first.transaction(() => {
        apply(first, cands.slice(cutA));
        throw new Error('rolled back');
      }));
      const b = first.transaction(() => apply(first, cands.slice(cutA, cutB)));
      db1.close();
      const db2 = openStateDb(path('cut'));
      const second = new SessionTable({ db: db2, config, clock });
      const c = [...second.transaction(() => apply(second, cands.slice(cutB))), ...second.transaction(() => second.expire(T0 + 1e9))];
      const table = second.list();
      db2.close();
      return JSON.stringify([...a, ...b, ...c]) === JSON.stringify(expected) && JSON.stringify(table) === JSON.stringify(expectedTable);
    }),
    {
      numRuns: 40,
      examples: [
        // Found by a seed: two sessions of one device miss the same deadline, one of them twice. After a
        // restart the reloaded heap held no stale entries and the expiries came out in another order.
        [[
          { up: true, device: 'srx-a', ip: '10.0.0.1', user: 'alice', tunnel: '1', vpn: 'ra-vpn', step: 0 },
          { up: true, device: 'srx-b', ip: '10.0.0.1', user: 'alice', tunnel: '1', vpn: 'ra-vpn', step: 0 },
          { up: false, device: 'srx-a', ip: '10.0.0.1', user: 'alice', tunnel: '1', vpn: 'ra-vpn', step: 539 },
          { up: true, device: 'srx-b', ip: '10.0.0.3', user: 'alice', tunnel: '1', vpn: 'short', step: 2461 },
          { up: false, device: 'srx-a', ip: '10.0.0.1', user: 'alice', tunnel: '1', vpn: 'ra-vpn', step: 0 },
        ], 0, 3, 'wall', false],
      ],
    },
  );
  t.pass();
});

/**
 * Property: copies of lines (two relays, UDP and TCP) that arrive within the duplicate window change
 * nothing: the events are those of the run without them, so no UP gives two connects and no DOWN a
 * disconnect plus an orphan-disconnect. Live, a copy comes up to three lines later (receipts 5 s
 * apart, so within 30 s); in replay right after its original (the window is on the line's time there).
 */
test('copies of lines within the duplicate window never change the events', (t) => {
  const dir = tempDir(t);
  let n = 0;
  const copy = fc.record({ copies: fc.integer({ min: 0, max: 2 }), later: fc.integer({ min: 0, max: 3 }) });
  fc.assert(
    fc.property(fc.array(fc.tuple(line, copy), { minLength: 1, maxLength: 60 }), fc.constantFrom('wall', 'capture') as fc.Arbitrary<'wall' | 'capture'>, (spec, clock) => {
      const cands = toCandidates(spec.map(([l]) => l));
      // Live receipts are an arrival clock of their own: the line times step back and jump ahead.
      const received = (i: number) => (clock === 'wall' ? T0 + i * 5000 : 0);
      const arrivals: Array<{ c: PtimCandidate; at: number; order: number }> = [];
      cands.forEach((c, i) => {
        arrivals.push({ c, at: received(i), order: i });
        const [, { copies, later }] = spec[i]!;
        const delay = clock === 'wall' ? later : 0;
        // A copy sorts after the originals it waits for and before the next one (receipts stay in order).
        for (let k = 1; k <= copies; k++) arrivals.push({ c: { ...c }, at: received(i + delay) + k, order: i + delay + k / 10 });
      });
      arrivals.sort((a, b) => a.order - b.order);
      const run = (list: Array<{ c: PtimCandidate; at: number }>) => {
        const db = openStateDb(join(dir, `${n++}.db`));
        try {
          const table = new SessionTable({ db, config: wideWindow, clock });
          return JSON.stringify([...table.transaction(() => list.flatMap(({ c, at }) => table.apply(c, at))), ...table.transaction(() => table.expire(T0 + 1e9))]);
        } finally {
          db.close();
        }
      };
      return run(arrivals) === run(cands.map((c, i) => ({ c, at: received(i) })));
    }),
    { numRuns: 40 },
  );
  t.pass();
});

test('a table in memory only (no state file) gives the events and table of one kept in a file', (t) => {
  const dir = tempDir(t);
  let n = 0;
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom('wall', 'capture') as fc.Arbitrary<'wall' | 'capture'>, (lines, batch, clock) => {
      const cands = toCandidates(lines);
      const run = (table: SessionTable) => {
        const events = [];
        for (let i = 0; i < cands.length; i += batch) {
          events.push(...table.transaction(() => cands.slice(i, i + batch).flatMap((c) => table.apply(c, clock === 'wall' ? Date.parse(c.time) : 0))));
        }
        events.push(...table.transaction(() => table.expire(T0 + 1e9)));
        return { events, table: table.list() };
      };
      const db = openStateDb(join(dir, `${n++}.db`));
      const inFile = run(new SessionTable({ db, config, clock }));
      db.close();
      t.deepEqual(run(new SessionTable({ db: undefined, config, clock })), inFile);
    }),
    { numRuns: 150 },
  );
});

test('a table in memory only refuses work after a transaction that threw: it has nothing to reload from', (t) => {
  const table = new SessionTable({ db: undefined, config, clock: 'capture' });
  const [c] = toCandidates([{ up: true, device: 'srx-a', ip: '10.0.0.1', user: 'alice', tunnel: '1', vpn: 'ra-vpn', step: 0 }]);
  t.is(table.transaction(() => table.apply(c!, 0)).length, 1);
  t.throws(() => table.transaction(() => {
    table.apply({ ...c!, ip: '10.0.0.2', lineKey: 'other' }, 0);
    throw new Error('sink failed');
  }), { message: 'sink failed' });
  t.throws(() => table.transaction(() => table.apply(c!, 0)), { message: /earlier transaction failed half-way/ });
});
