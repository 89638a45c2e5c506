import test from 'ava';
import { IdentityTable, type IdentityEvent } from '../../src/jims-sim/identity-table.js';

const ev = (state: IdentityEvent['state'], ip: string, user: string, time: string, extra: Partial<IdentityEvent> = {}): IdentityEvent => ({
  state, ip, user, time, domain: 'corp.example', device: 'srx-hq', ...extra,
});

const cases: Array<[string, IdentityEvent[], string[]]> = [
  ['connect adds', [ev('connect', '10.0.0.1', 'alice', 't1')], ['10.0.0.1 alice t1']],
  ['rekey of the same user keeps since', [ev('connect', '10.0.0.1', 'alice', 't1'), ev('rekey', '10.0.0.1', 'alice', 't2')], ['10.0.0.1 alice t1']],
  ['rekey without connect sets since', [ev('rekey', '10.0.0.1', 'alice', 't2')], ['10.0.0.1 alice t2']],
  ['reconnect of the same user restarts since', [ev('connect', '10.0.0.1', 'alice', 't1'), ev('connect', '10.0.0.1', 'alice', 't3')], ['10.0.0.1 alice t3']],
  ['another user takes the address', [ev('connect', '10.0.0.1', 'alice', 't1'), ev('rekey', '10.0.0.1', 'bob', 't2')], ['10.0.0.1 bob t2']],
  ['disconnect removes', [ev('connect', '10.0.0.1', 'alice', 't1'), ev('disconnect', '10.0.0.1', 'alice', 't2')], []],
  ['user match ignores case', [ev('connect', '10.0.0.1', 'Alice', 't1'), ev('disconnect', '10.0.0.1', 'alice', 't2')], []],
  ['late disconnect of the previous user is ignored', [ev('connect', '10.0.0.1', 'alice', 't1'), ev('connect', '10.0.0.1', 'bob', 't2'), ev('disconnect', '10.0.0.1', 'alice', 't3')], ['10.0.0.1 bob t2']],
  ['same user, other domain is another identity', [ev('connect', '10.0.0.1', 'alice', 't1'), ev('disconnect', '10.0.0.1', 'alice', 't2', { domain: 'other.example' })], ['10.0.0.1 alice t1']],
  ['orphan disconnect changes nothing', [ev('disconnect', '10.0.0.1', 'alice', 't1')], []],
  ['dual-stack client holds both addresses', [ev('connect', '10.0.0.1', 'alice', 't1', { ipv6: '2001:db8::1' })], ['10.0.0.1 alice t1', '2001:db8::1 alice t1']],
  ['dual-stack disconnect releases both', [ev('connect', '10.0.0.1', 'alice', 't1', { ipv6: '2001:db8::1' }), ev('disconnect', '10.0.0.1', 'alice', 't2', { ipv6: '2001:db8::1' })], []],
];

for (const [name, events, expected] of cases) {
  test(`identity table: ${name}`, (t) => {
    const table = new IdentityTable();
    for (const e of events) table.apply(e);
    t.deepEqual(table.list().map((r) => `${r.ip} ${r.user} ${r.since}`), expected);
  });
}
