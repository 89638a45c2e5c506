import test from 'ava';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { EventHistory, HISTORY_PER_SESSION, HISTORY_RETENTION_MS, readHistory } from '../../src/delivery/event-history.js';
import { DeliveryLedger } from '../../src/delivery/ledger.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { holdBack, pushPolicy, skippedCounter, splitByPolicy } from '../../src/delivery/push-policy.js';
import { validateConfig } from '../../src/config.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { formatStats, readStats } from '../../src/ops/event-stats.js';
import { EventTap, type TapRecord } from '../../src/ops/tap.js';
import { openStateDb, openStateDbReadOnly } from '../../src/state-db.js';
import { tempDir } from '../helpers/tmp.js';
import { makeEvent } from './make-events.js';

const withGateway = (e: PtimEvent, gateway = 'ra-gw'): PtimEvent => ({ ...e, gateway });

function setup(t: import('ava').ExecutionContext, tap?: EventTap) {
  const path = join(tempDir(t), 'state.db');
  const db = openStateDb(path);
  t.teardown(() => db.close());
  const ledger = new DeliveryLedger(db, { startedBy: 'run', registry: new Registry(), ...(tap ? { tap } : {}) });
  const outbox = new Outbox(db, { ledger });
  /** One queueing transaction, as the bridge's tick runs it. */
  const queue = (events: PtimEvent[], fail = false) => {
    try {
      db.transaction(() => {
        ledger.queued(events, outbox.add(events), Date.now());
        ledger.flush();
        if (fail) throw new Error('disk full');
      })();
    } catch (error) {
      ledger.discard();
      if (!fail) throw error;
      return;
    }
    ledger.afterCommit();
  };
  return { path, db, ledger, outbox, queue };
}

test('stats: queued, acknowledged and dead-lettered per device, gateway and state; a rolled-back transaction counts nothing; an ack sent twice counts once', (t) => {
  const { db, outbox, queue } = setup(t);
  queue([withGateway(makeEvent(1, 'connect')), withGateway(makeEvent(2, 'connect')), withGateway(makeEvent(1, 'rekey', 1), 'other-gw')]);
  queue([withGateway(makeEvent(3, 'connect'))], true);
  const rows = outbox.read(0, 10);
  t.is(rows.length, 3);
  outbox.acknowledge(rows.slice(0, 2), 'b1');
  outbox.acknowledge(rows.slice(0, 2), 'b1-again'); // resent after a crash: the rows are gone, nothing more is counted
  outbox.deadLetter({ batchId: 'b2', status: 400, body: 'no', rows: rows.slice(2) });
  const report = readStats(db);
  t.deepEqual(report.rows.map((r) => [r.device, r.gateway, r.state, r.total.queued, r.total.acked, r.total['dead-lettered']]), [
    ['srx-hq', 'other-gw', 'rekey', 1, 0, 1],
    ['srx-hq', 'ra-gw', 'connect', 2, 2, 0],
  ]);
  t.like(report.totals.total, { queued: 3, acked: 2, 'dead-lettered': 1, retried: 0, skipped: 0 });
  t.deepEqual(report.totals.sinceStart, report.totals.total);
  t.is(readStats(db, { gateway: 'other-gw' }).rows.length, 1);
  t.is(readStats(db, { device: 'SRX-HQ' }).rows.length, 2, 'devices compare without case');
  t.regex(formatStats(report), /srx-hq\s+other-gw\s+rekey\s+1\s+0\s+0\s+1\s+0\n/);
});

test('stats: a new delivering process starts "since start" at 0 and keeps the totals', (t) => {
  const { path, db, queue } = setup(t);
  queue([makeEvent(1, 'connect')]);
  const first = readStats(db);
  const again = new DeliveryLedger(db, { startedBy: 'replay' });
  t.truthy(again);
  const second = readStats(db);
  t.like(second.totals, { total: { queued: 1 }, sinceStart: { queued: 0 } });
  t.is(second.startedBy, 'replay');
  t.is(second.countingSince, first.countingSince);
  t.deepEqual(second.rows[0]!.gateway, null, 'an event without a gateway');
  // Readable while the writer has the file open.
  const reader = openStateDbReadOnly(path);
  t.teardown(() => reader.close());
  t.deepEqual(readStats(reader).totals, second.totals);
});

test('stats: retries are counted per event of the failed push', (t) => {
  const { db, outbox, ledger, queue } = setup(t);
  queue([makeEvent(1, 'connect'), makeEvent(2, 'connect')]);
  const rows = outbox.read(0, 10);
  ledger.retried(rows, { batchId: 'b', status: 503, reason: 'HTTP 503', attempt: 1 });
  ledger.retried(rows, { batchId: 'b', status: 503, reason: 'HTTP 503', attempt: 2 });
  t.is(readStats(db).totals.total.retried, 4);
  t.deepEqual(readHistory(db).map((s) => s.events[0]!.attempts), [2, 2]);
  t.is(ledger.counts().retried, 4);
});

test('history: a session from connect through rekey to disconnect, each with its delivery state', (t) => {
  const { db, outbox, queue } = setup(t);
  queue([withGateway(makeEvent(1, 'connect'))]);
  queue([withGateway(makeEvent(1, 'rekey', 1))]);
  queue([withGateway(makeEvent(1, 'disconnect', 2))]);
  queue([withGateway(makeEvent(1, 'connect', 3))]);
  const rows = outbox.read(0, 10);
  outbox.acknowledge(rows.slice(0, 2), 'b1');
  outbox.deadLetter({ batchId: 'b2', status: 422, body: 'bad', rows: rows.slice(2, 3) });
  const sessions = readHistory(db);
  t.is(sessions.length, 2, 'the second connect opens a second session');
  t.like(sessions[0], { device: 'srx-hq', ip: '10.0.0.1', user: 'user1', gateway: 'ra-gw', open: false, truncated: false });
  t.deepEqual(sessions[0]!.events.map((e) => [e.state, e.delivery, e.status]), [['connect', 'delivered', undefined], ['rekey', 'delivered', undefined], ['disconnect', 'dead-letter', 422]]);
  t.truthy(sessions[0]!.events[0]!.settledAt);
  t.deepEqual(sessions[1]!.events.map((e) => [e.state, e.delivery]), [['connect', 'queued']]);
  t.true(sessions[1]!.open);
  t.is(readHistory(db, { user: 'USER1' }).length, 2);
  t.is(readHistory(db, { ip: '10.0.0.2' }).length, 0);
  t.is(readHistory(db, { device: 'SRX-HQ' }).length, 2);
});

test(`history keeps the last ${HISTORY_PER_SESSION} events of a device + IP, and drops an ended session ${HISTORY_RETENTION_MS / 3_600_000} h after its disconnect`, (t) => {
  const db = openStateDb(join(tempDir(t), 'state.db'));
  t.teardown(() => db.close());
  const history = new EventHistory(db);
  const t0 = Date.parse('2026-03-14T09:00:00Z');
  let seq = 0;
  const write = (events: PtimEvent[], at: number) => db.transaction(() => {
    for (const e of events) history.queued(++seq, e, at);
    history.flush(at);
  })();
  write([makeEvent(1, 'connect')], t0);
  for (let i = 1; i <= HISTORY_PER_SESSION + 5; i++) write([makeEvent(1, 'rekey', i)], t0 + i);
  const kept = readHistory(db)[0]!;
  t.is(kept.events.length, HISTORY_PER_SESSION);
  t.true(kept.truncated, 'the connect was pruned first');
  t.is(kept.events.at(-1)!.time, makeEvent(1, 'rekey', HISTORY_PER_SESSION + 5).time);

  write([makeEvent(2, 'connect'), makeEvent(2, 'disconnect', 1)], t0);
  write([makeEvent(3, 'connect')], t0 + HISTORY_RETENTION_MS - 1);
  t.is(readHistory(db, { ip: '10.0.0.2' }).length, 1, 'kept within the retention');
  write([makeEvent(4, 'connect')], t0 + HISTORY_RETENTION_MS + 1);
  t.is(readHistory(db, { ip: '10.0.0.2' }).length, 0, 'dropped after it');
  t.is(readHistory(db, { ip: '10.0.0.1' }).length, 1, 'a live session is not dropped by age');

  // A restart finds the ended sessions again (and prunes them when their time comes).
  write([makeEvent(5, 'connect'), makeEvent(5, 'disconnect', 1)], t0 + HISTORY_RETENTION_MS + 2);
  const reopened = new EventHistory(db);
  db.transaction(() => reopened.flush(t0 + 2 * HISTORY_RETENTION_MS + 3))();
  t.is(readHistory(db, { ip: '10.0.0.5' }).length, 0);
  t.is(readHistory(db, { ip: '10.0.0.3' }).length, 1);
});

test('push policy: gateways, VPNs and devices opt out (devices without case); nothing configured costs nothing', (t) => {
  t.is(pushPolicy(validateConfig({})), undefined);
  t.is(pushPolicy(validateConfig({ gateways: { 'ra-gw': { push: true } } })), undefined);
  const policy = pushPolicy(validateConfig({ gateways: { 'lab-gw': { push: false } }, vpns: { 'guest-vpn': { push: false } }, devices: { 'SRX-Lab': { push: false } } }))!;
  t.deepEqual(policy.describe, ['gateways.lab-gw', 'vpns.guest-vpn', 'devices.SRX-Lab']);
  const table: Array<[Partial<PtimEvent>, 'push-disabled' | undefined]> = [
    [{ device: 'srx-hq', vpn: 'ra-vpn', gateway: 'ra-gw' }, undefined],
    [{ device: 'srx-hq', vpn: 'ra-vpn', gateway: 'lab-gw' }, 'push-disabled'],
    [{ device: 'srx-hq', vpn: 'guest-vpn', gateway: 'ra-gw' }, 'push-disabled'],
    [{ device: 'srx-lab', vpn: 'ra-vpn' }, 'push-disabled'],
    [{ device: 'srx-hq' }, undefined],
  ];
  for (const [event, expected] of table) t.is(policy.skip(event as PtimEvent), expected, JSON.stringify(event));
  const events = [makeEvent(1, 'connect'), { ...makeEvent(2, 'connect'), gateway: 'lab-gw' }, makeEvent(3, 'connect')];
  const split = splitByPolicy(policy, events);
  t.deepEqual(split.send.map((e) => e.ip), ['10.0.0.1', '10.0.0.3']);
  t.deepEqual(split.skipped.map((s) => [s.event.ip, s.reason]), [['10.0.0.2', 'push-disabled']]);
  const all = [makeEvent(1, 'connect')];
  t.is(splitByPolicy(policy, all).send, all, 'nothing held back: the same array');
});

test('config: gateways.<name>.push, vpns.<name>.push and devices.<name>.push are booleans; unknown gateway keys are refused', (t) => {
  t.notThrows(() => validateConfig({ gateways: { 'ra-gw': { push: false } }, vpns: { v: { push: false } }, devices: { d: { push: false } } }));
  t.throws(() => validateConfig({ gateways: { 'ra-gw': { push: 'no' } } }), { code: 'ERR_CONFIG_INVALID', message: /gateways\.ra-gw\.push/ });
  t.throws(() => validateConfig({ gateways: { 'ra-gw': { pushh: false } } }), { code: 'ERR_CONFIG_INVALID', message: /pushh/ });
});

test('tap: queued records only after the commit, none for a rolled-back transaction; acked with the batch', (t) => {
  const tap = new EventTap();
  const seen: TapRecord[] = [];
  tap.subscribe((r) => seen.push(r));
  const { outbox, queue } = setup(t, tap);
  queue([makeEvent(1, 'connect')], true);
  t.deepEqual(seen, []);
  queue([makeEvent(1, 'connect')]);
  t.deepEqual(seen.map((r) => r.what), ['queued']);
  outbox.acknowledge(outbox.read(0, 10), 'b1');
  t.deepEqual(seen.map((r) => [r.what, r.batch]), [['queued', undefined], ['acked', 'b1']]);
  t.is(seen[0]!.seq, seen[1]!.seq);
  t.is(seen[1]!.event.id, makeEvent(1, 'connect').id);
});

test('holdBack (run --dry-run): held-back events never reach the printer, and are counted once their transaction committed', async (t) => {
  const printed: PtimEvent[] = [];
  const sink = { queue: (events: readonly PtimEvent[]) => printed.push(...events), committed: () => {}, discard: () => {} };
  const registry = new Registry();
  const policy = pushPolicy(validateConfig({ gateways: { 'lab-gw': { push: false } } }));
  const held = holdBack(sink, () => policy, skippedCounter(registry));
  held.queue([makeEvent(1, 'connect'), withGateway(makeEvent(2, 'connect'), 'lab-gw')], 0);
  held.discard!();
  held.queue([withGateway(makeEvent(3, 'connect'), 'lab-gw')], 0);
  held.committed();
  t.deepEqual(printed.map((e) => e.ip), ['10.0.0.1']);
  t.regex(await registry.metrics(), /ptim_bridge_events_skipped_total\{reason="push-disabled"\} 1\n/);
});
