import test from 'ava';
import { judgeReadiness, type ReadinessFacts } from '../../src/ops/readiness.js';

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const limits = { jimsFailingSeconds: 60, backlogAgeSeconds: 300 };
const healthy: ReadinessFacts = { delivery: { jims: { lastDeliveredAt: NOW - 5000 }, backlog: 3, oldestQueuedAt: NOW - 2000, deadLetters: 0 }, lastLineAt: new Map([['srx-hq', NOW - 10_000]]), limits };

const cases: Array<{ title: string; facts: ReadinessFacts; ready: boolean; reason?: RegExp }> = [
  { title: 'healthy', facts: healthy, ready: true },
  { title: 'a dry run with a working state file', facts: { lastLineAt: new Map(), limits }, ready: true },
  { title: 'JIMS failing for 30 s is still ready (a blip)', facts: { ...healthy, delivery: { ...healthy.delivery!, jims: { failingSince: NOW - 30_000, lastError: '503: busy' } } }, ready: true },
  { title: 'JIMS failing for 61 s', facts: { ...healthy, delivery: { ...healthy.delivery!, jims: { failingSince: NOW - 61_000, lastError: '401: token refused' } } }, ready: false, reason: /JIMS has not taken a push for 61 s \(401: token refused\)/ },
  { title: 'a backlog older than 5 minutes', facts: { ...healthy, delivery: { ...healthy.delivery!, backlog: 900, oldestQueuedAt: NOW - 301_000 } }, ready: false, reason: /oldest of 900 queued events waits for 301 s/ },
  { title: 'the state file failing', facts: { ...healthy, stateFailing: { since: NOW - 1000, error: 'database or disk is full' } }, ready: false, reason: /state file cannot be written .*disk is full/ },
  { title: 'dead letters alone do not make it unready (they are for an alert)', facts: { ...healthy, delivery: { ...healthy.delivery!, deadLetters: 4 } }, ready: true },
];

for (const c of cases) {
  test(`readiness: ${c.title}`, (t) => {
    const r = judgeReadiness(c.facts, NOW);
    t.is(r.ready, c.ready, r.reasons.join('; '));
    if (c.reason) t.regex(r.reasons.join('; '), c.reason);
    if (c.ready) t.deepEqual(r.reasons, []);
  });
}

test('readiness: the report names each device\'s last line and the limits', (t) => {
  const r = judgeReadiness(healthy, NOW);
  t.deepEqual(r.devices, { 'srx-hq': { lastLineAt: '2026-12-02T11:59:50.000Z', secondsAgo: 10 } });
  t.like(r, { stateWritable: true, jims: { reachable: true }, backlog: { events: 3, oldestAgeSeconds: 2 }, deadLetters: 0, limits });
});
