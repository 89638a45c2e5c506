import test from 'ava';
import { bisectRefused, holdBack, MAX_BISECT_PUSHES, type PartOutcome, type Poison } from '../../src/delivery/bisect.js';
import type { OutboxRow } from '../../src/delivery/outbox.js';
import type { PtimState } from '../../src/events/ptim-event.js';
import { makeEvent } from './make-events.js';

let seq = 0;
function row(n: number, state: PtimState = 'connect', user?: string): OutboxRow {
  const event = makeEvent(n, state);
  if (user !== undefined) event.user = user;
  return { seq: ++seq, ip: event.ip, receivedAt: 0, event };
}

/** JIMS as the simulator: a batch with any user over 1,024 characters is refused whole. `pushed` collects what it took. */
function jims(pushed: OutboxRow[][] = []): (rows: OutboxRow[]) => Promise<PartOutcome> {
  return async (rows) => {
    if (rows.some((r) => r.event.user.length > 1024)) return { kind: 'rejected', status: 400, body: 'user too long' };
    pushed.push(rows);
    return { kind: 'delivered' };
  };
}
const FIRST = { status: 400, body: 'user too long' };

const cases: Array<{ title: string; rows: () => OutboxRow[]; delivered: number; refused: Array<{ users: string[]; reason: string }> }> = [
  {
    title: 'one poison among 386: 385 delivered, the poison alone refused',
    rows: () => Array.from({ length: 386 }, (_, i) => row(i, 'connect', i === 200 ? 'x'.repeat(1100) : undefined)),
    delivered: 385,
    refused: [{ users: ['x'.repeat(1100)], reason: 'refused' }],
  },
  {
    title: 'the poison IP\'s later rekey and disconnect in the batch are held back with it; other IPs\' go',
    rows: () => [row(1, 'connect', 'y'.repeat(1100)), row(2), row(1, 'rekey'), row(3), row(2, 'disconnect'), row(1, 'disconnect')],
    delivered: 3,
    // The two followers of one refusal share one dead letter.
    refused: [{ users: ['y'.repeat(1100)], reason: 'refused' }, { users: ['user1', 'user1'], reason: 'follows' }],
  },
  {
    title: 'two poisons in different halves',
    rows: () => Array.from({ length: 16 }, (_, i) => row(i, 'connect', i === 2 || i === 13 ? 'z'.repeat(2000) : undefined)),
    delivered: 14,
    refused: [{ users: ['z'.repeat(2000)], reason: 'refused' }, { users: ['z'.repeat(2000)], reason: 'refused' }],
  },
];

for (const c of cases) {
  test(`bisect: ${c.title}`, async (t) => {
    const rows = c.rows();
    const pushed: OutboxRow[][] = [];
    const result = (await bisectRefused(rows, FIRST, jims(pushed)))!;
    t.is(result.delivered.length, c.delivered);
    t.deepEqual(result.refused.map((p) => ({ users: p.rows.map((r) => r.event.user), reason: p.reason })), c.refused);
    // Every row settled exactly once.
    const settled = [...result.delivered, ...result.refused.flatMap((p) => p.rows)].map((r) => r.seq).sort((a, b) => a - b);
    t.deepEqual(settled, rows.map((r) => r.seq));
    // Per IP, what JIMS took keeps seq order across parts.
    const seen = new Map<string, number>();
    for (const part of pushed) {
      for (const r of part) {
        t.true((seen.get(r.ip) ?? 0) <= r.seq);
        seen.set(r.ip, r.seq);
      }
    }
    t.true(result.pushes <= 2 * Math.ceil(Math.log2(rows.length)) * Math.max(1, c.refused.length) + 2, `${result.pushes} pushes`);
  });
}

test('bisect: a JIMS that refuses everything is asked at most MAX_BISECT_PUSHES times; the rest is refused as it stands', async (t) => {
  const rows = Array.from({ length: 500 }, (_, i) => row(i));
  let pushes = 0;
  const result = (await bisectRefused(rows, { status: 403, body: 'forbidden' }, async () => {
    pushes++;
    return { kind: 'rejected', status: 403, body: 'forbidden' };
  }))!;
  t.is(pushes, MAX_BISECT_PUSHES);
  t.is(result.delivered.length, 0);
  t.is(result.refused.reduce((n, p) => n + p.rows.length, 0), 500);
});

test('bisect: a stop during the halving settles nothing', async (t) => {
  const rows = [row(1, 'connect', 'q'.repeat(1100)), row(2)];
  t.is(await bisectRefused(rows, FIRST, async () => ({ kind: 'stopped' })), undefined);
});

test('holdBack: later batches hold a poisoned IP\'s events until its next connect', (t) => {
  const poisoned = new Map<string, Poison>([[row(7).ip, { status: 400, body: 'user too long', seq: 1 }]]);
  const later = [row(7, 'disconnect'), row(8), row(7, 'connect'), row(7, 'rekey')];
  const { push, held } = holdBack(later, poisoned);
  t.deepEqual(push.map((r) => [r.event.user, r.event.state]), [['user8', 'connect'], ['user7', 'connect'], ['user7', 'rekey']]);
  t.deepEqual(held.map((p) => p.rows.map((r) => r.event.state)), [['disconnect']]);
  t.regex(held[0]!.body, /held back: an earlier event of 10\.0\.0\.7 .*refused by JIMS \(400\)/);
  t.is(poisoned.size, 0, 'the new connect cleared the mark');
});
