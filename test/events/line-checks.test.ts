import test from 'ava';
import { checkLineTime, RecentLines } from '../../src/events/line-checks.js';

const T0 = Date.parse('2026-03-14T08:00:00.000Z');
const DAY = 86_400_000;

const timeCases: Array<[name: string, lineAt: number, receivedAt: number, expected: ReturnType<typeof checkLineTime>]> = [
  ['same time', T0, T0, { kind: 'in-window' }],
  ['a day behind, exactly', T0 - DAY, T0, { kind: 'in-window' }],
  ['a day ahead, exactly', T0 + DAY, T0, { kind: 'in-window' }],
  ['a day and a millisecond behind', T0 - DAY - 1, T0, { kind: 'out-of-window', skewMs: -DAY - 1 }],
  ['a day and a millisecond ahead', T0 + DAY + 1, T0, { kind: 'out-of-window', skewMs: DAY + 1 }],
  ['2099', Date.parse('2099-01-01T00:00:00Z'), T0, { kind: 'out-of-window', skewMs: Date.parse('2099-01-01T00:00:00Z') - T0 }],
  ['2001', Date.parse('2001-01-01T00:00:00Z'), T0, { kind: 'out-of-window', skewMs: Date.parse('2001-01-01T00:00:00Z') - T0 }],
  ['unreadable', NaN, T0, { kind: 'out-of-window', skewMs: NaN }],
];

for (const [name, lineAt, receivedAt, expected] of timeCases) {
  test(`checkLineTime: ${name}`, (t) => {
    t.deepEqual(checkLineTime(lineAt, receivedAt, DAY), expected);
  });
}

type Step = [bucket: string, digest: string, at: number, windowMs: number, duplicate: boolean];

const recentCases: Array<{ name: string; maxWindowMs?: number; maxEntries?: number; steps: Step[]; size?: number }> = [
  { name: 'first sight is not a duplicate; again within the window is', steps: [['', 'a', T0, 30_000, false], ['', 'a', T0 + 29_999, 30_000, true]] },
  { name: 'the window bound is in', steps: [['', 'a', T0, 30_000, false], ['', 'a', T0 + 30_000, 30_000, true]] },
  { name: 'outside the window it is a new line, and the window counts from it', steps: [['', 'a', T0, 30_000, false], ['', 'a', T0 + 30_001, 30_000, false], ['', 'a', T0 + 50_000, 30_000, true]] },
  { name: 'a copy does not extend the window (it counts from the applied copy)', steps: [['', 'a', T0, 30_000, false], ['', 'a', T0 + 20_000, 30_000, true], ['', 'a', T0 + 40_000, 30_000, false]] },
  { name: 'a copy timed earlier (either side) is one too', steps: [['', 'a', T0, 30_000, false], ['', 'a', T0 - 10_000, 30_000, true]] },
  { name: 'another digest is another line', steps: [['', 'a', T0, 30_000, false], ['', 'b', T0, 30_000, false]] },
  { name: 'buckets (devices on capture clocks) are apart', steps: [['srx-a', 'a', T0, 30_000, false], ['srx-b', 'a', T0, 30_000, false], ['srx-a', 'a', T0, 30_000, true]] },
  { name: 'a shorter window for this line (capped by its rekey interval)', steps: [['', 'a', T0, 30_000, false], ['', 'a', T0 + 10_000, 5_000, false]] },
  {
    name: 'old entries are pruned as newer lines of the bucket arrive (once it holds 64)',
    steps: [...Array.from({ length: 64 }, (_, i): Step => ['', `d${i}`, T0 + i, 30_000, false]), ['', 'x', T0 + 40_000, 30_000, false]],
    size: 1,
  },
  {
    name: 'past maxEntries the oldest arrival is forgotten first',
    maxEntries: 2,
    steps: [['', 'a', T0, 30_000, false], ['', 'b', T0, 30_000, false], ['', 'c', T0, 30_000, false], ['', 'b', T0, 30_000, true], ['', 'a', T0, 30_000, false]],
    size: 2,
  },
];

for (const c of recentCases) {
  test(`RecentLines: ${c.name}`, (t) => {
    const recent = new RecentLines(c.maxWindowMs ?? 30_000, c.maxEntries);
    c.steps.forEach(([bucket, digest, at, windowMs, duplicate], i) => {
      t.is(recent.seen(bucket, digest, at, windowMs), duplicate, `step ${i}`);
    });
    if (c.size !== undefined) t.is(recent.size, c.size);
  });
}

test('RecentLines: clear() forgets everything', (t) => {
  const recent = new RecentLines(30_000);
  recent.seen('', 'a', T0, 30_000);
  recent.clear();
  t.is(recent.size, 0);
  t.false(recent.seen('', 'a', T0, 30_000));
});
