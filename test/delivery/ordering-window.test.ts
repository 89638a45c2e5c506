import test from 'ava';
import { bisectRefused, type PartOutcome } from '../../src/delivery/bisect.js';
import { OrderingWindow } from '../../src/delivery/ordering-window.js';
import type { OutboxRow } from '../../src/delivery/outbox.js';
import type { PtimState } from '../../src/events/ptim-event.js';
import { makeEvent } from './make-events.js';

/**
 * Each case plays what the forwarder tells the window, step by step. Events are written
 * "<ip> <state>" and named by IP and their number for that IP: "a connect", "a rekey" -> a1, a2.
 * - arrive: rows committed to the outbox (the forwarder's read-ahead, seq order).
 * - batch: the forwarder forms a batch (pick, claim) and, before its first push, holds back the
 *   rows of refused IPs: `send` is what is pushed, `follows` what is dead-lettered behind a refusal,
 *   `waiting` what stays read ahead for a later batch.
 * - ack: the batch finished (delivered or dead-lettered): its IPs are released. `resume` is the
 *   first let-go row to read again, when one is due.
 * - retry: the push failed and waits for its retry; the batch stays unfinished (nothing released).
 * - refuse: JIMS refused the batch; bisect.ts halves it with a JIMS that refuses `refused`, marking
 *   those IPs; `dead` is every row dead-lettered. The batch then finishes (its IPs released).
 * - letGo: every read-ahead row belongs to a busy IP; they are put aside (they stay in the outbox).
 */
type Step =
  | { arrive: string[] }
  | { batch: string; max?: number; send: string[]; follows?: string[]; waiting: string[] }
  | { ack: string; resume?: string }
  | { retry: string }
  | { refuse: string; refused: string[]; dead: string[] }
  | { letGo: true };

const cases: Array<{ title: string; steps: Step[] }> = [
  {
    title: 'one IP in flight blocks its later events; other IPs proceed',
    steps: [
      { arrive: ['a connect'] },
      { batch: 'B1', send: ['a1'], waiting: [] },
      { arrive: ['a disconnect', 'b connect', 'a connect', 'c connect'] },
      { batch: 'B2', send: ['b1', 'c1'], waiting: ['a2', 'a3'] },
      { ack: 'B1' },
      { batch: 'B3', send: ['a2', 'a3'], waiting: [] },
    ],
  },
  {
    title: 'IPs are released batch by batch: a finished batch frees only its own IPs',
    steps: [
      { arrive: ['a connect', 'b connect'] },
      { batch: 'B1', max: 1, send: ['a1'], waiting: ['b1'] },
      { batch: 'B2', send: ['b1'], waiting: [] },
      { arrive: ['a rekey', 'b rekey'] },
      { ack: 'B2' },
      { batch: 'B3', send: ['b2'], waiting: ['a2'] },
      { ack: 'B1' },
      { batch: 'B4', send: ['a2'], waiting: [] },
    ],
  },
  {
    title: 'a batch keeps seq order and stops at max, the rest waits',
    steps: [
      { arrive: ['a connect', 'b connect', 'a rekey', 'c connect', 'a disconnect'] },
      { batch: 'B1', max: 3, send: ['a1', 'b1', 'a2'], waiting: ['c1', 'a3'] },
      { batch: 'B2', send: ['c1'], waiting: ['a3'] },
    ],
  },
  {
    title: 'order preserved after retry: the failed batch keeps its IP blocked, later events go after it',
    steps: [
      { arrive: ['a connect', 'b connect'] },
      { batch: 'B1', send: ['a1', 'b1'], waiting: [] },
      { retry: 'B1' },
      { arrive: ['a disconnect', 'c connect'] },
      { batch: 'B2', send: ['c1'], waiting: ['a2'] },
      { retry: 'B1' },
      { batch: 'B3', send: [], waiting: ['a2'] },
      { ack: 'B1' },
      { batch: 'B4', send: ['a2'], waiting: [] },
    ],
  },
  {
    title: 'a refused IP: its later events are dead-lettered with the refusal, other IPs go on',
    steps: [
      { arrive: ['a connect', 'b connect', 'a rekey'] },
      { batch: 'B1', send: ['a1', 'b1', 'a2'], waiting: [] },
      // a1 refused; a2 follows it into the dead letters (bisect.ts), b1 is delivered.
      { refuse: 'B1', refused: ['a1'], dead: ['a1', 'a2'] },
      { arrive: ['a rekey', 'b disconnect', 'a disconnect'] },
      { batch: 'B2', send: ['b2'], follows: ['a3', 'a4'], waiting: [] },
    ],
  },
  {
    title: 'a refused IP flows again from its next connect',
    steps: [
      { arrive: ['a connect', 'b connect'] },
      { batch: 'B1', send: ['a1', 'b1'], waiting: [] },
      { refuse: 'B1', refused: ['a1'], dead: ['a1'] },
      { arrive: ['a disconnect', 'a connect', 'a disconnect'] },
      { batch: 'B2', send: ['a3', 'a4'], follows: ['a2'], waiting: [] },
      { ack: 'B2' },
      { arrive: ['a connect'] },
      { batch: 'B3', send: ['a5'], waiting: [] },
    ],
  },
  {
    title: 'an event waiting behind a batch that JIMS then refuses is held back when its turn comes',
    steps: [
      { arrive: ['a connect', 'b connect'] },
      { batch: 'B1', send: ['a1', 'b1'], waiting: [] },
      { arrive: ['b rekey'] },
      { batch: 'B2', send: [], waiting: ['b2'] },
      { refuse: 'B1', refused: ['b1'], dead: ['b1'] },
      { batch: 'B3', send: [], follows: ['b2'], waiting: [] },
    ],
  },
  {
    title: 'rows of a busy IP let go are read again from its first one when it frees up',
    steps: [
      { arrive: ['a connect'] },
      { batch: 'B1', send: ['a1'], waiting: [] },
      { arrive: ['a rekey', 'a rekey'] },
      { batch: 'B2', send: [], waiting: ['a2', 'a3'] },
      { letGo: true },
      { arrive: ['b connect'] },
      { batch: 'B3', send: ['b1'], waiting: [] },
      { ack: 'B3' },
      { ack: 'B1', resume: 'a2' },
      { batch: 'B4', send: ['a2', 'a3'], waiting: [] },
    ],
  },
  {
    title: 'two IPs let go: reading resumes at the earliest of them',
    steps: [
      { arrive: ['a connect', 'b connect'] },
      { batch: 'B1', send: ['a1', 'b1'], waiting: [] },
      { arrive: ['a rekey', 'b rekey'] },
      { letGo: true },
      // b is released after a, but a's let-go row comes first.
      { ack: 'B1', resume: 'a2' },
      { batch: 'B2', send: ['a2', 'b2'], waiting: [] },
    ],
  },
];

function parse(spec: string, seq: number, counts: Map<string, number>): { label: string; row: OutboxRow } {
  const [ip, state] = spec.split(' ') as [string, PtimState];
  const n = (counts.get(ip) ?? 0) + 1;
  counts.set(ip, n);
  const event = makeEvent(seq, state, seq);
  event.ip = ip;
  return { label: `${ip}${n}`, row: { seq, ip, receivedAt: 0, event } };
}

for (const { title, steps } of cases) {
  test(title, async (t) => {
    const window = new OrderingWindow();
    const labels = new Map<number, string>();
    const seqOf = new Map<string, number>();
    const counts = new Map<string, number>();
    /** Every row in the outbox, seq order; a row leaves when its batch finished. */
    let outbox: OutboxRow[] = [];
    /** The forwarder's read-ahead: outbox rows not claimed and not let go. */
    let pending: OutboxRow[] = [];
    const batches = new Map<string, { claims: OutboxRow[]; push: OutboxRow[] }>();
    let seq = 0;
    const names = (rows: readonly OutboxRow[]) => rows.map((r) => labels.get(r.seq)!);
    const finish = (name: string) => {
      const batch = batches.get(name)!;
      window.release(batch.claims);
      const done = new Set(batch.claims.map((r) => r.seq));
      outbox = outbox.filter((r) => !done.has(r.seq));
    };

    for (const [i, step] of steps.entries()) {
      const at = `step ${i + 1}`;
      if ('arrive' in step) {
        for (const spec of step.arrive) {
          const { label, row } = parse(spec, ++seq, counts);
          labels.set(row.seq, label);
          seqOf.set(label, row.seq);
          outbox.push(row);
          pending.push(row);
        }
      } else if ('batch' in step) {
        const rows = window.pick(pending, step.max ?? 100);
        window.claim(rows);
        const taken = new Set(rows.map((r) => r.seq));
        pending = pending.filter((r) => !taken.has(r.seq));
        const { push, held } = window.holding ? window.holdBack(rows) : { push: [...rows], held: [] };
        t.deepEqual(names(push), step.send, `${at}: sent`);
        t.deepEqual(held.flatMap((p) => names(p.rows)), step.follows ?? [], `${at}: held back behind a refusal`);
        t.true(held.every((p) => p.reason === 'follows'), `${at}: held parts follow a refusal`);
        t.deepEqual(names(pending), step.waiting, `${at}: waiting`);
        batches.set(step.batch, { claims: rows, push });
      } else if ('ack' in step) {
        finish(step.ack);
        const resume = window.takeResumePoint();
        t.is(resume, step.resume === undefined ? undefined : seqOf.get(step.resume)! - 1, `${at}: resume point`);
        if (resume !== undefined) {
          // The forwarder reads again after `resume`: every unclaimed outbox row past it.
          const known = new Set(pending.map((r) => r.seq));
          pending = [...pending, ...outbox.filter((r) => r.seq > resume && !known.has(r.seq) && !window.isClaimed(r.seq))].sort((x, y) => x.seq - y.seq);
        }
      } else if ('retry' in step) {
        const batch = batches.get(step.retry)!;
        for (const row of batch.claims) t.true(window.isClaimed(row.seq), `${at}: ${labels.get(row.seq)} still claimed while its batch waits for a retry`);
      } else if ('refuse' in step) {
        const batch = batches.get(step.refuse)!;
        const refused = new Set(step.refused.map((l) => seqOf.get(l)!));
        const push = async (rows: OutboxRow[]): Promise<PartOutcome> =>
          rows.some((r) => refused.has(r.seq)) ? { kind: 'rejected', status: 400, body: 'refused' } : { kind: 'delivered' };
        const result = await bisectRefused(batch.push, { status: 400, body: 'refused' }, push, window.poisoned);
        t.deepEqual(result!.refused.flatMap((p) => names(p.rows)).sort(), [...step.dead].sort(), `${at}: dead-lettered`);
        finish(step.refuse);
      } else {
        window.letGo(pending);
        pending = [];
      }
    }
  });
}

test('releaseAll frees every IP (a stop) but keeps the refusals', (t) => {
  const window = new OrderingWindow();
  const counts = new Map<string, number>();
  const a1 = parse('a connect', 1, counts).row;
  const a2 = parse('a rekey', 2, counts).row;
  window.claim([a1]);
  window.poisoned.set('b', { status: 400, body: 'refused', seq: 0 });
  t.deepEqual(window.pick([a2], 10), []);
  window.releaseAll();
  t.false(window.isClaimed(1));
  t.deepEqual(window.pick([a2], 10), [a2]);
  t.true(window.holding);
});

test('forgetReads drops let-go rows: no resume point when their IP frees up', (t) => {
  const window = new OrderingWindow();
  const counts = new Map<string, number>();
  const a1 = parse('a connect', 1, counts).row;
  const a2 = parse('a rekey', 2, counts).row;
  window.claim([a1]);
  window.letGo([a2]);
  window.forgetReads();
  window.release([a1]);
  t.is(window.takeResumePoint(), undefined);
});
