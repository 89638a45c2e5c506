import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { startSim } from '../delivery/sim-setup.js';
import { repoRoot, runCli } from '../helpers/cli.js';

/**
 * Backfill flags: --since/--until (by line time), --final-state (only what JIMS must hold at the
 * end), --timezone; on the crafted day (fixtures/sessions-day, make-day.py says what happens) and
 * the replay-format story (fixtures/replay-formats/source.log).
 */
const NOW = '2026-03-15T00:00:00Z';
const DAY = join(repoRoot, 'fixtures/sessions-day/day.log');
const STORY = join(repoRoot, 'fixtures/replay-formats/rsyslog-traditional.log');
const STORY_CONFIG = join(repoRoot, 'fixtures/replay-formats/config.yaml');

const events = (stdout: string): PtimEvent[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PtimEvent);

test('--since/--until apply only lines timed in [since, until), counted in the summary', async (t) => {
  const all = events((await runCli(['replay', '--dry-run', '--now', NOW, '--config', STORY_CONFIG, STORY])).stdout);
  const r = await runCli(['replay', '--dry-run', '--now', NOW, '--config', STORY_CONFIG, '--since', '2026-03-14T08:05:00Z', '--until', '2026-03-14T10:40:02Z', STORY]);
  t.is(r.code, 0, r.stderr);
  const got = events(r.stdout);
  t.deepEqual(got.map((e) => e.time), all.map((e) => e.time).filter((x) => x >= '2026-03-14T08:05:00.000Z' && x < '2026-03-14T10:40:02.000Z'));
  t.true(got.length >= 2 && got.length < all.length);
  t.regex(r.stderr, /outside --since\/--until \(not applied\): 1 before, 1 after/);
  // A zone-less bound is read in the config's (or --timezone's) zone: 09:05 Paris = 08:05Z.
  const local = await runCli(['replay', '--dry-run', '--now', NOW, '--config', STORY_CONFIG, '--since', '2026-03-14T09:05:00', '--until', '2026-03-14T11:40:02', STORY]);
  t.is(local.stdout, r.stdout);
});

test('--since/--until: bad values are usage errors', async (t) => {
  const [bad, backwards] = await Promise.all([
    runCli(['replay', '--dry-run', '--since', 'last tuesday', STORY]),
    runCli(['replay', '--dry-run', '--since', '2026-03-14T10:00:00Z', '--until', '2026-03-14T09:00:00Z', STORY]),
  ]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /ERR_USAGE: Expected --since as an ISO 8601 time/);
  t.is(backwards.code, 2);
  t.regex(backwards.stderr, /ERR_USAGE: Expected --until after --since/);
});

test('--final-state prints only the connects of sessions live at the end of the capture (here: the day until 11:00)', async (t) => {
  // Everyone has left by the end of the crafted day: cut it at 11:00, when some still are on.
  const until = ['--until', '2026-03-14T11:00:00Z'];
  const full = await runCli(['replay', '--dry-run', '--now', NOW, ...until, DAY]);
  const final = await runCli(['replay', '--dry-run', '--now', NOW, '--final-state', ...until, DAY]);
  const wholeDay = await runCli(['replay', '--dry-run', '--now', NOW, '--final-state', DAY]);
  t.is(wholeDay.stdout, '', 'the whole day leaves no session: nothing to deliver');
  t.is(final.code, 0, final.stderr);
  const all = events(full.stdout);
  const got = events(final.stdout);
  // What JIMS would hold after the full replay: the last connect per device+IP, unless a disconnect followed it.
  const held = new Map<string, PtimEvent>();
  for (const e of all) {
    const key = `${e.device} ${e.ip}`;
    if (e.state === 'connect') {
      held.delete(key);
      held.set(key, e);
    } else if (e.state === 'disconnect') held.delete(key);
  }
  t.deepEqual(got, [...held.values()]);
  t.true(got.length > 0 && got.length < all.filter((e) => e.state === 'connect').length, 'some sessions ended');
  t.true(got.every((e) => e.state === 'connect'));
  t.deepEqual(got.map((e) => e.user), ['alice', 'henry', 'frank', 'dave', 'bob']);
  t.false(got.some((e) => e.user === 'carol' || e.user === 'ivan'), 'superseded and disconnected: nothing of them');
  t.true(got.find((e) => e.user === 'bob')!.flags.includes('reconnected'), "bob's second connect, not the first");
  t.regex(final.stderr, new RegExp(`--final-state: ${got.length} sessions live at the end .*; ${all.length} events of the capture held back`));
  t.regex(final.stderr, new RegExp(`events: connect ${got.length}, disconnect 0, rekey 0`));
});

test('--final-state on the format story: carol and bob stay, alice (disconnected) and mallory (refused) do not', async (t) => {
  const r = await runCli(['replay', '--dry-run', '--now', NOW, '--config', STORY_CONFIG, '--final-state', STORY]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(events(r.stdout).map((e) => `${e.state} ${e.user} ${e.ip}`), ['connect carol 10.20.0.7', 'connect bob 10.30.0.9']);
});

test('--final-state delivering: JIMS receives only the sessions live at the end', async (t) => {
  const { sim, dir, jimsInput } = await startSim(t);
  const config = join(dir, 'ptim-bridge.yaml');
  writeFileSync(config, stringify({ jims: jimsInput }));
  const until = ['--until', '2026-03-14T11:00:00Z'];
  const r = await runCli(['replay', '--now', NOW, '--config', config, '--state', join(dir, 'state.db'), '--final-state', ...until, DAY]);
  t.is(r.code, 0, r.stderr);
  const expected = events((await runCli(['replay', '--dry-run', '--now', NOW, '--final-state', ...until, DAY])).stdout);
  t.is(expected.length, 5);
  t.is(sim.events().received, expected.length);
  t.deepEqual(sim.identities().map((i) => `${i.ip} ${i.user}`).sort(), expected.map((e) => `${e.ip} ${e.user}`).sort());
});

test('--timezone overrides config `timezone` (a device\'s own zone still wins); a bad name is a usage error', async (t) => {
  const [paris, kolkata, bad] = await Promise.all([
    runCli(['replay', '--dry-run', '--now', NOW, '--config', STORY_CONFIG, STORY]),
    runCli(['replay', '--dry-run', '--now', NOW, '--config', STORY_CONFIG, '--timezone', 'Asia/Kolkata', STORY]),
    runCli(['replay', '--dry-run', '--timezone', 'Europe/Pari', STORY]),
  ]);
  const byUser = (out: string) => new Map(events(out).map((e) => [`${e.state} ${e.user}`, e.time]));
  t.is(byUser(paris.stdout).get('connect alice'), '2026-03-14T08:02:11.000Z');
  t.is(byUser(kolkata.stdout).get('connect alice'), '2026-03-14T03:32:11.000Z');
  t.is(byUser(kolkata.stdout).get('connect bob'), '2026-03-14T08:15:00.000Z', 'srx-br keeps devices.srx-br.timezone');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /ERR_USAGE: Expected --timezone an IANA time zone name/);
});

test('replay --help: every flag has an example', async (t) => {
  const r = await runCli(['replay', '--help']);
  t.is(r.code, 0);
  const [options, examples] = r.stdout.split('Examples:');
  const flags = [...options!.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((f) => f !== '--help');
  t.true(flags.length >= 15, flags.join(' '));
  for (const flag of flags) t.true(examples!.includes(flag.replace('--no-', '--no-')), `no example for ${flag}`);
});
