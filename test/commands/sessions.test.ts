import test from 'ava';
import { join } from 'node:path';
import { validateConfig } from '../../src/config.js';
import { formatSessionTable } from '../../src/commands/sessions.js';
import type { PtimCandidate } from '../../src/events/ptim-event.js';
import { SessionTable } from '../../src/events/sessions.js';
import { openStateDb } from '../../src/state-db.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-03-14T09:02:11.000Z');

function cand(at: number, over: Partial<PtimCandidate>): PtimCandidate {
  return {
    line: 'up', user: 'alice', domain: 'corp.example', ip: '10.20.0.5', time: new Date(at).toISOString(), device: 'srx-hq',
    sender: '192.0.2.10', vpn: 'ra-vpn', tunnelId: '1', flags: [], pattern: 'junos-iked/vpn-up', lineKey: `${at}`, ...over,
  };
}

function writeState(path: string): void {
  const db = openStateDb(path);
  const table = new SessionTable({ db, config: validateConfig({}), clock: 'capture' });
  table.transaction(() => {
    table.apply(cand(T0, {}), 0);
    table.apply(cand(T0 + 1000, { ip: '10.20.0.6', user: 'bob', domain: 'missing-domain-secureconnect', flags: ['domain-missing'] }), 0);
    table.apply(cand(T0 + 3_600_000, {}), 0);
    table.apply(cand(T0 + 2000, { device: 'srx-branch', ip: '10.30.0.9', user: 'carol' }), 0);
  });
  db.close();
}

test('sessions prints a Junos-style table per device', async (t) => {
  const state = join(tempDir(t), 'state.db');
  writeState(state);
  const r = await runCli(['sessions', '--state', state]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, [
    'Device: srx-branch',
    'Total entries: 1',
    'Source IP  Username  Domain                        Since                Last rekey           Next deadline        Flags',
    '10.30.0.9  carol     corp.example                  2026-03-14 09:02:13  -                    2026-03-14 10:07:13  -',
    '',
    'Device: srx-hq',
    'Total entries: 2',
    'Source IP  Username  Domain                        Since                Last rekey           Next deadline        Flags',
    '10.20.0.5  alice     corp.example                  2026-03-14 09:02:11  2026-03-14 10:02:11  2026-03-14 11:07:11  -',
    '10.20.0.6  bob       missing-domain-secureconnect  2026-03-14 09:02:12  -                    2026-03-14 10:07:12  domain-missing',
    '',
    '',
  ].join('\n'));
});

test('sessions --json prints one object per session', async (t) => {
  const state = join(tempDir(t), 'state.db');
  writeState(state);
  const r = await runCli(['sessions', '--state', state, '--json']);
  t.is(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(rows.map((x) => [x.device, x.ip, x.user]), [['srx-branch', '10.30.0.9', 'carol'], ['srx-hq', '10.20.0.5', 'alice'], ['srx-hq', '10.20.0.6', 'bob']]);
  t.is(rows[1]!.lastRekey, '2026-03-14T10:02:11.000Z');
  t.is(rows[1]!.nextDeadline, '2026-03-14T11:07:11.000Z');
});

test('sessions without a state file says what to do and exits 1', async (t) => {
  const r = await runCli(['sessions', '--state', join(tempDir(t), 'nope.db')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ERR_STATE_UNREADABLE.*--state/);
});

test('sessions --help has examples', async (t) => {
  const r = await runCli(['sessions', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Examples:\n\s+\$ ptim-bridge sessions/);
});

test('an empty table says so', (t) => {
  t.is(formatSessionTable([]), 'Total entries: 0\n');
});
