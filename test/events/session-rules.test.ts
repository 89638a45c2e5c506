import test from 'ava';
import { eventId, lineDigest, type PtimCandidate, type PtimFlag, type PtimState } from '../../src/events/ptim-event.js';
import { applyRule, runWatch, WATCH_PATTERN, type Session, type Transition, type WatchSettings } from '../../src/events/session-rules.js';
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
  after: { user: string; tunnelId?: string; missed?: number; deadline?: number; lastLineAt?: number } | null;
  /** The rule's transition, when the case is about it. */
  transition?: Transition;
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
  // Time sanity (issue 8): a line older than the last one applied for its key does not undo it.
  {
    name: 'stale: an UP older than the DOWN that ended the session -> no event, no session',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice', lastLineAt: T0 } }],
      [{ down: { at: T0 + 60_000 } }, { events: [['disconnect', 'alice', []]], after: null }],
      [{ up: { at: T0 + 30_000 } }, { events: [], after: null, transition: 'stale-line' }],
      [{ up: { at: T0 + 61_000 } }, { events: [['connect', 'alice', []]], after: { user: 'alice', lastLineAt: T0 + 61_000 } }],
    ],
  },
  {
    name: 'stale: a DOWN older than the UP that reconnected -> no event, the new tunnel stays',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + 120_000, tunnelId: '500012' } }, { events: [['connect', 'alice', ['reconnected']]], after: { user: 'alice', tunnelId: '500012' } }],
      [{ down: { at: T0 + 60_000 } }, { events: [], after: { user: 'alice', tunnelId: '500012' }, transition: 'stale-line' }],
    ],
  },
  {
    name: 'stale: a DOWN older than the last rekey -> no event, the session stays',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + H } }, { events: [['rekey', 'alice', ['rekey-inferred']]], after: { user: 'alice', lastLineAt: T0 + H } }],
      [{ down: { at: T0 + H - 1000 } }, { events: [], after: { user: 'alice', lastLineAt: T0 + H }, transition: 'stale-line' }],
    ],
  },
  {
    name: 'stale: an older UP of another user -> no supersede',
    steps: [
      [{ up: { at: T0 + 60_000 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0, user: 'bob', tunnelId: '500020' } }, { events: [], after: { user: 'alice' }, transition: 'stale-line' }],
    ],
  },
  {
    name: 'stale: an older UP of the live user with another tunnel -> no reconnect',
    steps: [
      [{ up: { at: T0 + 60_000, tunnelId: '500012' } }, { events: [['connect', 'alice', []]], after: { user: 'alice', tunnelId: '500012' } }],
      [{ up: { at: T0 } }, { events: [], after: { user: 'alice', tunnelId: '500012' }, transition: 'stale-line' }],
    ],
  },
  {
    name: 'not stale: an older UP of the live user and tunnel undoes nothing -> rekey; the mark stays',
    steps: [
      [{ up: { at: T0 + 60_000 } }, { events: [['connect', 'alice', []]], after: { user: 'alice', lastLineAt: T0 + 60_000 } }],
      [{ up: { at: T0 } }, { events: [['rekey', 'alice', ['rekey-inferred']]], after: { user: 'alice', lastLineAt: T0 + 60_000 }, transition: 'rekey' }],
    ],
  },
  {
    name: 'stale: an UP older than an orphan DOWN -> no event',
    steps: [
      [{ down: { at: T0 + 60_000 } }, { events: [['disconnect', 'alice', ['orphan-disconnect']]], after: null }],
      [{ up: { at: T0 } }, { events: [], after: null, transition: 'stale-line' }],
    ],
  },
  {
    name: 'stale: after an expiry, an UP older than the last applied line -> no event',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + H } }, { events: [['rekey', 'alice', ['rekey-inferred']]], after: { user: 'alice' } }],
      [{ watch: T0 + 4 * H }, { events: [['disconnect', 'alice', ['rekey-missing', 'expired']]], after: null }],
      [{ up: { at: T0 + H - 1000 } }, { events: [], after: null, transition: 'stale-line' }],
    ],
  },
  {
    name: 'equal seconds: a DOWN and an UP in the same second -> arrival order decides (disconnect, connect)',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ down: { at: T0 + 60_000 } }, { events: [['disconnect', 'alice', []]], after: null }],
      [{ up: { at: T0 + 60_000, tunnelId: '500012' } }, { events: [['connect', 'alice', []]], after: { user: 'alice', tunnelId: '500012' } }],
    ],
  },
  {
    name: 'equal seconds: an UP then its DOWN in the same second -> connect, disconnect',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ down: { at: T0 } }, { events: [['disconnect', 'alice', []]], after: null }],
    ],
  },
  {
    name: 'equal seconds: an RFC 3164 time (whole second) after an RFC 5424 one (.421) of that second is not stale',
    steps: [
      [{ up: { at: T0 + 421 } }, { events: [['connect', 'alice', []]], after: { user: 'alice', lastLineAt: T0 + 421 } }],
      [{ down: { at: T0 } }, { events: [['disconnect', 'alice', []]], after: null }],
    ],
  },
  {
    name: 'an ignored late DOWN does not move the mark: a line between it and the last applied one still applies',
    steps: [
      [{ up: { at: T0 } }, { events: [['connect', 'alice', []]], after: { user: 'alice' } }],
      [{ up: { at: T0 + 60_000, user: 'bob', tunnelId: '500020' } }, { events: [['disconnect', 'alice', ['superseded']], ['connect', 'bob', []]], after: { user: 'bob' } }],
      [{ down: { at: T0 + 180_000 } }, { events: [], after: { user: 'bob', lastLineAt: T0 + 60_000 }, transition: 'ignored-down' }],
      [{ up: { at: T0 + 120_000, user: 'carol', tunnelId: '500030' } }, { events: [['disconnect', 'bob', ['superseded']], ['connect', 'carol', []]], after: { user: 'carol' } }],
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
    // What the table keeps for the key once no session is live (its tombstone).
    let tombstone: number | undefined;
    c.steps.forEach(([step, expect], i) => {
      let events;
      if ('watch' in step) {
        if (session === undefined) return t.fail(`step ${i}: no session to watch`);
        tombstone = session.lastLineAt;
        ({ events, session } = runWatch(session, step.watch, settings));
      } else {
        const line = 'up' in step ? 'up' : 'down';
        const { at, ...over } = 'up' in step ? step.up : step.down;
        const cand = candidate(line, at, over);
        if (session) {
          tombstone = session.lastLineAt;
          ({ events, session } = runWatch(session, at, settings));
        }
        const result = applyRule(session, cand, at, settings, { tombstone: session ? undefined : tombstone });
        if (expect.transition !== undefined) t.is(result.transition, expect.transition, `step ${i} transition`);
        events = [...events ?? [], ...result.events];
        session = result.session;
        tombstone = result.lastLineAt;
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
        if (expect.after.lastLineAt !== undefined) t.is(session?.lastLineAt, expect.after.lastLineAt, `step ${i} lastLineAt`);
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
  t.is(a[0]!.id, eventId(a[0]!, lineDigest(`expired\u0000${session!.openId}`)), 'the id names the session it ends');
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

test('untimed lines (replay without a header time) are never stale and do not move the mark', (t) => {
  const first = applyRule(undefined, candidate('up', T0 + H), T0 + H, settings);
  const untimed = applyRule(first.session, candidate('down', T0 + 24 * H), T0 + H, settings, { untimed: true });
  t.deepEqual(untimed.events.map((e) => e.state), ['disconnect']);
  t.is(untimed.lastLineAt, T0 + H, 'the mark is still the last timed line');
  const old = applyRule(undefined, candidate('up', T0), T0, settings, { tombstone: untimed.lastLineAt });
  t.is(old.transition, 'stale-line');
  t.deepEqual(old.notes.map((n) => n.kind), ['stale-line']);
});

// Event ids (issue 8): deterministic for the same line, distinct for distinct events.
interface IdCase {
  name: string;
  /** Two runs from an empty session, each a list of lines; compared: the ids of event `pick` of each. */
  a: Array<['up' | 'down', number, Partial<PtimCandidate>]>;
  b: Array<['up' | 'down', number, Partial<PtimCandidate>]>;
  /** Which event of each run, by index into all its events (watch events included). */
  pick: number;
  watchAt?: number;
  same: boolean;
}

const idCases: IdCase[] = [
  { name: 'the same line from an empty state -> the same id', a: [['up', T0, { lineKey: 'L1' }]], b: [['up', T0, { lineKey: 'L1' }]], pick: 0, same: true },
  {
    name: 'a connect after a clock jump: same time, tunnel, user, IP; another line -> another id',
    a: [['up', T0, { lineKey: 'srx-hq iked UP from 198.51.100.23 tunnel 500011' }]],
    b: [['up', T0, { lineKey: 'srx-hq iked UP from 198.51.100.99 tunnel 500011' }]],
    pick: 0,
    same: false,
  },
  {
    name: 'a DOWN and an orphan DOWN of the same line keep the line\'s id (JIMS sees a duplicate)',
    a: [['up', T0 - H, { lineKey: 'U' }], ['down', T0, { lineKey: 'D' }]],
    b: [['down', T0, { lineKey: 'D' }]],
    pick: -1,
    same: true,
  },
  {
    name: 'superseded disconnects of two sessions with identical fields, opened by different lines -> different ids',
    a: [['up', T0, { lineKey: 'open-1' }], ['up', T0 + 60_000, { user: 'bob', tunnelId: '9', lineKey: 'bob' }]],
    b: [['up', T0, { lineKey: 'open-2' }], ['up', T0 + 60_000, { user: 'bob', tunnelId: '9', lineKey: 'bob' }]],
    pick: 1,
    same: false,
  },
  {
    name: 'expiries of two sessions with identical fields, opened by different lines -> different ids',
    a: [['up', T0, { lineKey: 'open-1' }]],
    b: [['up', T0, { lineKey: 'open-2' }]],
    watchAt: T0 + 10 * H,
    pick: 1,
    same: false,
  },
  {
    name: 'an expiry is the same event however late the watch runs',
    a: [['up', T0, { lineKey: 'open-1' }]],
    b: [['up', T0, { lineKey: 'open-1' }]],
    watchAt: T0 + 10 * H,
    pick: 1,
    same: true,
  },
];

function idRun(lines: IdCase['a'], watchAt: number | undefined): string[] {
  let session: Session | undefined;
  let tombstone: number | undefined;
  const ids: string[] = [];
  for (const [line, at, over] of lines) {
    const r = applyRule(session, candidate(line, at, over), at, settings, { tombstone: session ? undefined : tombstone });
    ids.push(...r.events.map((e) => e.id));
    session = r.session;
    tombstone = r.lastLineAt;
  }
  if (watchAt !== undefined && session) ids.push(...runWatch(session, watchAt, settings).events.map((e) => e.id));
  return ids;
}

for (const c of idCases) {
  test(`id: ${c.name}`, (t) => {
    const a = idRun(c.a, c.watchAt);
    const b = idRun(c.b, c.watchAt === undefined ? undefined : c.watchAt + (c.same ? 5 * H : 0));
    const pick = (ids: string[]) => ids.at(c.pick);
    t.truthy(pick(a));
    t.truthy(pick(b));
    if (c.same) t.is(pick(a), pick(b));
    else t.not(pick(a), pick(b));
  });
}

test('id: a superseded disconnect and a regular DOWN with identical fields differ', (t) => {
  const { session } = applyRule(undefined, candidate('up', T0, { lineKey: 'open' }), T0, settings);
  const at = T0 + 60_000;
  const superseded = applyRule(session, candidate('up', at, { user: 'bob', tunnelId: '9', lineKey: 'bob' }), at, settings).events[0]!;
  const down = applyRule(session, candidate('down', at, { lineKey: '', pattern: superseded.pattern, reason: undefined }), at, settings).events[0]!;
  t.is(superseded.time, down.time);
  t.not(superseded.id, down.id);
});
