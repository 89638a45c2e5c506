import test from 'ava';
import { join } from 'node:path';
import { validateConfig } from '../../src/config.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { SessionTable } from '../../src/events/sessions.js';
import type { EventSink } from '../../src/flow/event-sink.js';
import { markReplayed } from '../../src/flow/replay-through-sessions.js';
import { LINE_STATES, selectEvents, Tick } from '../../src/flow/tick.js';
import { openStateDb } from '../../src/state-db.js';
import { candidate } from '../helpers/candidates.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-03-14T09:00:00.000Z');

/** A sink that records the calls it gets, in order. */
function recordingSink(options: { failQueue?: () => boolean } = {}): EventSink & { calls: string[]; events: PtimEvent[] } {
  return {
    calls: [],
    events: [],
    queue(events) {
      if (options.failQueue?.()) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      this.calls.push(`queue ${events.map((e) => e.state).join(',')}`);
      this.events.push(...events);
    },
    beforeCommit() {
      this.calls.push('beforeCommit');
    },
    committed() {
      this.calls.push('committed');
    },
    discard() {
      this.calls.push('discard');
    },
  };
}

function table(t: Parameters<typeof tempDir>[0]) {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  return { db, sessions: new SessionTable({ db, config: validateConfig({}), clock: 'capture' }) };
}

test('a tick: table changes and queued events in one transaction, beforeCommit its last step, committed after', (t) => {
  const { db, sessions } = table(t);
  const sink = recordingSink();
  const tick = new Tick({ table: sessions, sink });
  let inside: boolean | undefined;
  const events = tick.run(() => {
    tick.apply(candidate('up', T0), T0);
    const e = tick.apply(candidate('down', T0 + 1000), T0 + 1000);
    inside = db.inTransaction;
    return e;
  });
  t.true(inside);
  t.false(db.inTransaction);
  t.deepEqual(events.map((e) => e.state), ['disconnect']);
  t.deepEqual(sink.calls, ['queue connect', 'queue disconnect', 'beforeCommit', 'committed']);
});

test('a tick that queued nothing leaves the sink alone', (t) => {
  const { sessions } = table(t);
  const sink = recordingSink();
  const tick = new Tick({ table: sessions, sink });
  t.deepEqual(tick.run(() => tick.expire(T0)), []);
  t.deepEqual(sink.calls, []);
});

test('a sink that throws rolls the tick back: the table forgets the session and the sink is told to discard', (t) => {
  const { sessions } = table(t);
  let fail = true;
  const sink = recordingSink({ failQueue: () => fail });
  const tick = new Tick({ table: sessions, sink });
  const error = t.throws(() => tick.run(() => tick.apply(candidate('up', T0), T0)));
  t.is((error as { code?: string }).code, 'SQLITE_FULL');
  t.deepEqual(sink.calls, ['discard']);
  t.deepEqual(sessions.list(), []);
  fail = false;
  tick.run(() => tick.apply(candidate('up', T0), T0));
  t.is(sessions.list().length, 1);
  t.deepEqual(sink.calls, ['discard', 'queue connect', 'beforeCommit', 'committed']);
});

test('LINE_STATES: up -> connect, down -> disconnect, nothing expires', (t) => {
  const sink = recordingSink();
  const tick = new Tick({ table: LINE_STATES, sink });
  tick.run(() => {
    tick.apply(candidate('down', T0), T0);
    tick.apply(candidate('up', T0), T0);
    tick.expire(T0 + 1e9);
  });
  t.deepEqual(sink.calls, ['queue disconnect', 'queue connect', 'beforeCommit', 'committed']);
});

test('selectEvents: the sink sees the table events as `select` returns them (replay marks them replayed)', (t) => {
  const { sessions } = table(t);
  const sink = recordingSink();
  const tick = new Tick({ table: selectEvents(sessions, (events) => events.map(markReplayed)), sink });
  tick.run(() => tick.apply(candidate('up', T0), T0));
  t.deepEqual(sink.events.map((e) => e.flags), [['replayed']]);
  t.deepEqual(markReplayed(sink.events[0]!).flags, ['replayed'], 'once');
  const dropped = new Tick({ table: selectEvents(sessions, () => []), sink: recordingSink() });
  t.deepEqual(dropped.run(() => dropped.apply(candidate('down', T0 + 1000), T0 + 1000)), []);
  t.deepEqual(sessions.list(), [], 'the table still applied the line');
});
