import test from 'ava';
import { findEvent, listenerPorts, logEntries, waitForEvent } from './logs.js';

test('logEntries: whole JSON lines only; a line still arriving and CLI text are skipped', (t) => {
  const text = 'ptim-bridge: a message for people\n{"event":"ready","level":30}\n{"event":"stop';
  t.deepEqual(logEntries(text), [{ event: 'ready', level: 30 }]);
});

test('findEvent: by event and by the fields given, never by message text', (t) => {
  const logs = [{ event: 'jims-switched', from: 'primary', to: 'secondary', msg: 'x' }, { event: 'jims-switched', from: 'secondary', to: 'primary' }];
  t.is(findEvent(logs, 'jims-switched', { from: 'secondary' }), logs[1]);
  t.is(findEvent(logs, 'jims-switched', { from: 'nowhere' }), undefined);
  t.is(findEvent(logs, 'x'), undefined);
});

test('waitForEvent: resolves with the entry once it is logged; alive() stops the wait early', async (t) => {
  const logs: Array<Record<string, unknown>> = [];
  setTimeout(() => logs.push({ event: 'ready', listeners: [] }), 50);
  t.deepEqual(await waitForEvent(() => logs, 'ready', { timeoutMs: 5000 }), { event: 'ready', listeners: [] });
  await t.throwsAsync(waitForEvent(() => [], 'never', { alive: () => { throw new Error('exited'); } }), { message: 'exited' });
  await t.throwsAsync(waitForEvent(() => [], 'never', { timeoutMs: 30 }), { message: /the log event "never"/ });
});

test('listenerPorts: transport -> port from the ready entry, the first of a transport', (t) => {
  const ports = listenerPorts({ event: 'ready', listeners: ['udp://127.0.0.1:40001', 'tcp://[::1]:40002', 'tcp://127.0.0.1:40003', 'tls://0.0.0.0:6514'] });
  t.deepEqual([...ports], [['udp', 40001], ['tcp', 40002], ['tls', 6514]]);
});
