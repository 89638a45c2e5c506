import test from 'ava';
import { eventId, type PtimCandidate, type PtimFlag, type PtimState } from '../../src/events/ptim-event.js';
import { applyRule, runWatch, WATCH_PATTERN, type Session, type WatchSettings } from '../../src/events/session-rules.js';
import { candidate } from '../helpers/candidates.js';

const T0 = Date.parse('2026-03-14T08:00:00.000Z');
const H = 3600_000;
const GRACE = 300_000;

const settings: WatchSettings = {
  intervalMs: (vpn) => (vpn === 'no-watch' ? 0 : vpn === 'short' ? 600_000 : H),
  graceMs: GRACE,
  maxMissed: 2,
};

type Step =
  | { up: Partial<PtimCandidate> & { at: number } }
  | { down: Partial<PtimCandidate> & { at: number } }
  | { watch: number };

interface Expect {
  /** [state, user, flags] of every event the step emitted. */
  events: Array<[PtimState, string, PtimFlag[]]>;
  /** The session after the step: its user and missed count, or null for none. */
  after: { user: string; tunnelId?: string; missed?: number; deadline?: number } | null;
}

interface Case {
  name: string;
  steps: Array<[Step, Expect]>;
}

const cases: Case[] = [
  {
    name: 'UP with no live session -> connect',
    steps: [[{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice', missed: 0, deadline: T0 + H + GRACE } }]],
  },
  {
    name: 'UP same user and tunnel while live -> rekey (rekey-inferred); deadline moves',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + H } }, { events: [['rekey', 'alice', ['rekey-inferred']]], after: { user: 'alice', deadline: T0 + 2 * H + GRACE } }],
    ],
  },
  {
    name: 'UP after its deadline (watch not yet run) -> rekey with rekey-late',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + H + GRACE + 1 } }, { events: [['rekey', 'alice', ['rekey-inferred', 'rekey-late']]], after: { user: 'alice', missed: 0 } }],
    ],
  },
  {
    name: 'UP exactly at its deadline is on time',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + H + GRACE } }, { events: [['rekey', 'alice', ['rekey-inferred']]], after: { user: 'alice' } }],
    ],
  },
  {
    name: 'UP after a missed deadline flagged by the watch -> rekey-late, missed reset',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ watch: T0 + H + GRACE + 1 }, { events: [], after: { user: 'alice', missed: 1, deadline: T0 + 2 * H + GRACE } }],
      [{ up: { at: T0 + H + GRACE + 2 } }, { events: [['rekey', 'alice', ['rekey-inferred', 'rekey-late']]], after: { user: 'alice', missed: 0 } }],
    ],
  },
  {
    name: 'UP same user, new tunnel id -> connect (reconnected)',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice', tunnelId: '500011' } }],
      [{ up: { at: T0 + 60_000, tunnelId: '500012' } }, { events: [['connect', 'alice', ['reconnected']]], after: { user: 'alice', tunnelId: '500012' } }],
    ],
  },
  {
    name: 'UP for an IP live for another user -> superseded disconnect, then connect',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + 60_000, user: 'bob', tunnelId: '500020' } }, { events: [['disconnect', 'alice', ['superseded']], ['connect', 'bob', []]], after: { user: 'bob' } }],
    ],
  },
  {
    name: 'DOWN for a live session -> disconnect; session ends',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ down: { at: T0 + 60_000 } }, { events: [['disconnect', 'alice', []]], after: null }],
    ],
  },
  {
    name: 'DOWN with no live session -> orphan-disconnect',
    steps: [[{ down: { at: T0 } }, { events: [['disconnect', 'alice', ['orphan-disconnect']]], after: null }]],
  },
  {
    name: 'late DOWN of a superseded session -> no event, new user stays',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + 60_000, user: 'bob', tunnelId: '500020' } }, { events: [['disconnect', 'alice', ['superseded']], ['connect', 'bob', []]], after: { user: 'bob' } }],
      [{ down: { at: T0 + 120_000 } }, { events: [], after: { user: 'bob' } }],
    ],
  },
  {
    name: 'DOWN of the same user with another tunnel id -> disconnect (the safe side); the next UP connects again',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + 60_000, tunnelId: '500012' } }, { events: [['connect', 'alice', ['reconnected']]], after: { user: 'alice', tunnelId: '500012' } }],
      [{ down: { at: T0 + 120_000, tunnelId: '500011' } }, { events: [['disconnect', 'alice', []]], after: null }],
      [{ up: { at: T0 + H, tunnelId: '500012' } }, { events: [['connect', 'alice', []]], after: { user: 'alice', tunnelId: '500012' } }],
    ],
  },
  {
    name: 'candidate flags (domain-missing) are kept and merged',
    steps: [
      [{ up: { at: T0, flags: ['domain-missing'] } }, { events: [['connect', 'alice', ['domain-missing']]], after: { user: 'alice' } }],
      [{ up: { at: T0 + H, flags: ['domain-missing'] } }, { events: [['rekey', 'alice', ['domain-missing', 'rekey-inferred']]], after: { user: 'alice' } }],
    ],
  },
  {
    name: 'watch: first missed deadline flags (no event), second ends the session (rekey-missing, expired)',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ watch: T0 + H + GRACE }, { events: [], after: { user: 'alice', missed: 0 } }],
      [{ watch: T0 + H + GRACE + 1 }, { events: [], after: { user: 'alice', missed: 1 } }],
      [{ watch: T0 + 2 * H + GRACE + 1 }, { events: [['disconnect', 'alice', ['rekey-missing', 'expired']]], after: null }],
    ],
  },
  {
    name: 'watch: a long silence ends the session in one run',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ watch: T0 + 10 * H }, { events: [['disconnect', 'alice', ['rekey-missing', 'expired']]], after: null }],
    ],
  },
  {
    name: 'watch: per-VPN interval (short)',
    steps: [
      [{ up: { at: T0, vpn: 'short' } }, { events: [['connect', 'alice', []]], after: { user: 'alice', deadline: T0 + 600_000 + GRACE } }],
      [{ watch: T0 + 2 * 600_000 + GRACE + 1 }, { events: [['disconnect', 'alice', ['rekey-missing', 'expired']]], after: null }],
    ],
  },
  {
    name: 'watch: interval 0 turns it off',
    steps: [
      [{ up: { at: T0, vpn: 'no-watch' } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ watch: T0 + 1000 * H }, { events: [], after: { user: 'alice', missed: 0 } }],
      [{ up: { at: T0 + 1000 * H, vpn: 'no-watch' } }, { events: [['rekey', 'alice', ['rekey-inferred']]], after: { user: 'alice' } }],
    ],
  },
  {
    name: 'UP after the session expired -> a fresh connect',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ watch: T0 + 3 * H }, { events: [['disconnect', 'alice', ['rekey-missing', 'expired']]], after: null }],
      [{ up: { at: T0 + 3 * H } }, { events: [['connect', 'alice', []]], after: { user: 'alice', missed: 0 } }],
    ],
  },
];

for (const c of cases) {
  test(`rule: ${c.name}`, (t) => {
    let session: Session | undefined;
    c.steps.forEach(([step, expect], i) => {
      let events;
      if ('watch' in step) {
        if (session === undefined) return t.fail(`step ${i}: no session to watch`);
        ({ events, session } = runWatch(session, step.watch, settings));
      } else {
        const line = 'up' in step ? 'up' : 'down';
        const { at, ...over } = 'up' in step ? step.up : step.down;
        const cand = candidate(line, at, over);
        if (session) ({ events, session } = runWatch(session, at, settings));
        const result = applyRule(session, cand, at, settings);
        events = [...events ?? [], ...result.events];
        session = result.session;
      }
      t.deepEqual(events.map((e) => [e.state, e.user, e.flags]), expect.events, `step ${i} events`);
      if (expect.after === null) {
        t.is(session, undefined, `step ${i}: no session`);
      } else {
        t.truthy(session, `step ${i}: a session`);
        t.is(session?.user, expect.after.user, `step ${i} user`);
        if (expect.after.tunnelId !== undefined) t.is(session?.tunnelId, expect.after.tunnelId, `step ${i} tunnel`);
        if (expect.after.missed !== undefined) t.is(session?.missed, expect.after.missed, `step ${i} missed`);
        if (expect.after.deadline !== undefined) t.is(session?.deadline, expect.after.deadline, `step ${i} deadline`);
      }
      return undefined;
    });
  });
}

test('the expiry disconnect is timed at the deadline, whenever the watch runs', (t) => {
  const { session } = applyRule(undefined, candidate('up', T0), T0, settings);
  const a = runWatch(session!, T0 + 2 * H + GRACE + 1, settings).events;
  const b = runWatch(session!, T0 + 50 * H, settings).events;
  t.is(a.length, 1);
  t.deepEqual(a, b);
  t.is(a[0]!.time, new Date(T0 + 2 * H + GRACE).toISOString());
  t.is(a[0]!.pattern, WATCH_PATTERN);
  t.is(a[0]!.id, eventId(a[0]!));
  t.is(a[0]!.tunnelId, '500011');
  t.is(a[0]!.reason, undefined);
});

test('the superseded disconnect carries the old session and the new line time', (t) => {
  const first = applyRule(undefined, candidate('up', T0, { flags: ['replayed'] }), T0, settings);
  const at = T0 + 60_000;
  const { events } = applyRule(first.session, candidate('up', at, { user: 'bob', tunnelId: '9', peer: '198.51.100.99' }), at, settings);
  t.is(events[0]!.user, 'alice');
  t.is(events[0]!.tunnelId, '500011');
  t.is(events[0]!.peer, '198.51.100.23');
  t.is(events[0]!.time, new Date(at).toISOString());
  t.deepEqual(events[0]!.flags, ['replayed', 'superseded']);
  t.not(events[0]!.id, events[1]!.id);
});

test('notes: rekey-missing once at the first miss, expired at the last; ignored DOWNs noted', (t) => {
  const { session } = applyRule(undefined, candidate('up', T0), T0, { ...settings, maxMissed: 3 });
  const w1 = runWatch(session!, T0 + H + GRACE + 1, { ...settings, maxMissed: 3 });
  t.deepEqual(w1.notes.map((n) => n.kind), ['rekey-missing']);
  const w2 = runWatch(w1.session!, T0 + 3 * H + GRACE + 1, { ...settings, maxMissed: 3 });
  t.deepEqual(w2.notes.map((n) => n.kind), ['expired']);
  t.is(w2.events[0]!.time, new Date(T0 + 3 * H + GRACE).toISOString());

  const bob = applyRule(undefined, candidate('up', T0, { user: 'bob' }), T0, settings);
  const late = applyRule(bob.session, candidate('down', T0 + 1), T0 + 1, settings);
  t.deepEqual(late.notes.map((n) => n.kind), ['late-down-ignored']);
  t.is(late.transition, 'ignored-down');
  t.is(late.session, bob.session);
});

test('a rekey refreshes attributes (peer, domain) but keeps since', (t) => {
  const first = applyRule(undefined, candidate('up', T0), T0, settings);
  const next = applyRule(first.session, candidate('up', T0 + H, { peer: '198.51.100.77', domain: 'other.example' }), T0 + H, settings);
  t.is(next.session?.peer, '198.51.100.77');
  t.is(next.session?.domain, 'other.example');
  t.is(next.session?.since, T0);
  t.is(next.session?.lastRekey, T0 + H);
});
