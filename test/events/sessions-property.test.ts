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
  return lines.map((l) => {
    at += l.step * 1000;
    return {
      line: l.up ? 'up' : 'down', user: l.user, domain: 'corp.example', ip: l.ip, time: new Date(at).toISOString(), device: l.device,
      sender: '192.0.2.1', vpn: l.vpn, tunnelId: l.tunnel, flags: [], pattern: l.up ? 'p/up' : 'p/down', lineKey: `${at}`,
    };
  });
}

test('restart, compaction and a rolled-back batch never change the outcome', (t) => {
  const dir = tempDir(t);
  let n = 0;
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 60 }), fc.nat(), fc.nat(), fc.constantFrom('wall', 'capture') as fc.Arbitrary<'wall' | 'capture'>, fc.boolean(), (lines, c1, c2, clock, rollback) => {
      const cands = toCandidates(lines);
      const apply = (table: SessionTable, cs: PtimCandidate[]) => cs.flatMap((c) => table.apply(c, Date.parse(c.time)));
      const path = (name: string) => join(dir, `${n}-${name}.db`);
      n++;

      const refDb = openStateDb(path('ref'));
      const ref = new SessionTable({ db: refDb, config, clock });
      const expected = [...ref.transaction(() => apply(ref, cands)), ...ref.expire(T0 + 1e9)];
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
      const c = [...second.transaction(() => apply(second, cands.slice(cutB))), ...second.expire(T0 + 1e9)];
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
