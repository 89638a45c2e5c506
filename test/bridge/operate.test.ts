import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { SessionDetail } from '../../src/commands/session-detail.js';
import type { StatsReport } from '../../src/ops/event-stats.js';
import type { TapRecord } from '../../src/ops/tap.js';
import { repoRoot, runCli, startCli } from '../helpers/cli.js';
import { findEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { startSim as startDeliverySim } from '../delivery/sim-setup.js';
import { clientIp, eventsFor, startBridgeProcess, startSim, vpnLine } from './bridge-process.js';

// Issue 11, the operator's tools, through the real `ptim-bridge run` process and the real CLI.

async function stats(args: string[]): Promise<StatsReport> {
  const r = await runCli(['stats', ...args, '--json']);
  if (r.code !== 0) throw new Error(`stats ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatsReport;
}

test('stats: connect, rekey and disconnect queued and acknowledged per device and gateway; a restart keeps the totals and starts "since start" at 0', async (t) => {
  const dir = tempDir(t, 'ptim-stats-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  const options = { dir, state, jimsUrl: sim.url, caFile, lineChecks: { duplicateWindowSeconds: 0 } };
  const bridge = await startBridgeProcess(t, options);
  await bridge.send([vpnLine('up', 1), vpnLine('up', 1, 1), vpnLine('down', 1, 2)]);
  await waitUntil(() => eventsFor(sim, clientIp(1)).length === 3, 20_000, 'three events at JIMS');
  // Acknowledged once the bridge recorded JIMS' 2xx; read from the file while the bridge runs.
  await waitUntil(async () => (await stats(['--state', state])).totals.total.acked === 3, 20_000, 'three acknowledged in the state file');
  const live = await stats(['--state', state]);
  t.deepEqual(live.rows.map((r) => [r.device, r.gateway, r.state, r.total.queued, r.total.acked, r.sinceStart.acked]), [
    ['srx-hq', 'ra-gw', 'connect', 1, 1, 1],
    ['srx-hq', 'ra-gw', 'disconnect', 1, 1, 1],
    ['srx-hq', 'ra-gw', 'rekey', 1, 1, 1],
  ]);
  t.like(live.totals.total, { queued: 3, acked: 3, retried: 0, 'dead-lettered': 0, skipped: 0 });
  t.is(live.startedBy, 'run');
  // The same from the running bridge's admin port.
  const base = bridge.metricsUrl.replace(/\/metrics$/, '');
  t.deepEqual((await stats(['--url', base])).totals, live.totals);
  t.is((await stats(['--url', base, '--device', 'SRX-HQ', '--gateway', 'nope'])).rows.length, 0);
  const table = await runCli(['stats', '--state', state]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /Tunnel events since start \(.*, run\):\nDevice\s+Gateway\s+Event\s+Queued\s+Acknowledged\s+Retried\s+Dead letters\s+Skipped\nsrx-hq\s+ra-gw\s+connect\s+1\s+1\s+0\s+0\s+0\n/);
  t.regex(table.stdout, /Tunnel events in total \(counting since .*\):[\s\S]*Total\s+3\s+3\s+0\s+0\s+0\n$/);

  // sessions --detail: the whole history of the session, each event delivered.
  const detail = await runCli(['sessions', '--detail', '--state', state, '--ip', clientIp(1), '--json']);
  t.is(detail.code, 0, detail.stderr);
  const sessions = detail.stdout.trim().split('\n').map((l) => JSON.parse(l) as SessionDetail);
  t.is(sessions.length, 1);
  t.like(sessions[0], { device: 'srx-hq', ip: clientIp(1), user: 'u1', status: 'ended', gateway: 'ra-gw', counts: { connect: 1, rekey: 1, disconnect: 1 } });
  t.deepEqual(sessions[0]!.events.map((e) => [e.state, e.delivery]), [['connect', 'delivered'], ['rekey', 'delivered'], ['disconnect', 'delivered']]);
  t.deepEqual(sessions[0]!.events.map((e) => e.id), eventsFor(sim, clientIp(1)).map((e) => e.id), 'the ids JIMS received, in order');
  const text = await runCli(['sessions', '--detail', '--state', state, '--user', 'U1']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^Device: srx-hq, Source IP: 10\.20\.0\.1, User: u1, Domain: corp\.example, State: ended .*\n  VPN: ra-vpn, Gateway: ra-gw, Tunnel: 500001\n  Events sent: 3 \(connect 1, rekey 1, disconnect 1\)\n    Seq\s+Event\s+Time\s+Delivery\s+Settled\s+Flags\n\s+\d+\s+connect\s+.*delivered.*\n\s+\d+\s+rekey\s+.*delivered.*rekey-inferred\n\s+\d+\s+disconnect\s+.*delivered/);

  t.is(await bridge.stop(), 0, bridge.stderr());
  t.like(findEvent(bridge.logs(), 'stopped'), { delivered: 3, backlog: 0, deadLettered: 0, skipped: 0 }, bridge.stdout());

  // A restart: the totals stay, "since start" begins again.
  const again = await startBridgeProcess(t, options);
  const after = await stats(['--state', state]);
  t.like(after.totals.total, { queued: 3, acked: 3 });
  t.like(after.totals.sinceStart, { queued: 0, acked: 0 });
  t.is(after.countingSince, live.countingSince);
  t.not(after.startedAt, live.startedAt);
  await again.send([vpnLine('up', 2)]);
  await waitUntil(async () => (await stats(['--state', state])).totals.sinceStart.acked === 1, 20_000, 'the new connect acknowledged');
  t.like((await stats(['--state', state])).totals, { total: { queued: 4, acked: 4 }, sinceStart: { queued: 1, acked: 1 } });
  t.is(await again.stop(), 0, again.stderr());
});

test('gateways.<name>.push: false: JIMS gets nothing for the gateway, the session (and its rekey) is kept, counted as skipped push-disabled', async (t) => {
  const dir = tempDir(t, 'ptim-optout-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile, lineChecks: { duplicateWindowSeconds: 0 }, config: { gateways: { 'ra-gw': { push: false } } } });
  t.truthy(bridge.logs().find((l) => JSON.stringify(l.pushDisabled) === '["gateways.ra-gw"]'), 'the start says what is opted out');
  await bridge.send([vpnLine('up', 4), vpnLine('up', 4, 1)]);
  await waitUntil(async () => (await bridge.metric('ptim_bridge_events_skipped_total')) === 2, 20_000, 'two skipped events');
  t.is(await bridge.metric('ptim_bridge_outbox_added_total'), 0, 'nothing queued');
  const sessions = await runCli(['sessions', '--state', state, '--json']);
  t.is(sessions.code, 0, sessions.stderr);
  const rows = sessions.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(rows.length, 1);
  t.like(rows[0], { device: 'srx-hq', ip: clientIp(4), user: 'u4' });
  t.truthy(rows[0]!.lastRekey, 'the rekey was tracked');
  const s = await stats(['--state', state]);
  t.deepEqual(s.rows.map((r) => [r.gateway, r.state, r.total.skipped, r.total.queued]), [['ra-gw', 'connect', 1, 0], ['ra-gw', 'rekey', 1, 0]]);
  const detail = await runCli(['sessions', '--detail', '--state', state]);
  t.regex(detail.stdout, /State: up[\s\S]*Events sent: 0[\s\S]*none recorded \(a dry run, push: false/);
  t.is(await bridge.stop(), 0, bridge.stderr());
  t.deepEqual(sim.events().events, [], 'JIMS received nothing');
  t.like(findEvent(bridge.logs(), 'stopped'), { delivered: 0, backlog: 0, deadLettered: 0, skipped: 2 });
});

test('tap: a viewer on the admin port sees an event queued, then acknowledged; run --log-events logs the same', async (t) => {
  const dir = tempDir(t, 'ptim-tap-');
  const { sim, caFile } = await startSim(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state: join(dir, 'state.db'), jimsUrl: sim.url, caFile, args: ['--log-events'] });
  const base = bridge.metricsUrl.replace(/\/metrics$/, '');
  const viewer = startCli(['tap', '--url', base, '--json', '--count', '2']);
  let out = '';
  let err = '';
  viewer.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  viewer.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => viewer.once('exit', (code) => resolve(code)));
  t.teardown(() => viewer.kill('SIGKILL'));
  await waitUntil(() => out.includes('"notice":"connected"'), 20_000, 'the viewer attached');
  await bridge.send([vpnLine('up', 5)]);
  t.is(await exited, 0, err);
  const records = out.trim().split('\n').map((l) => JSON.parse(l) as TapRecord & { notice?: string }).filter((r) => r.notice === undefined);
  t.deepEqual(records.map((r) => r.what), ['queued', 'acked']);
  t.is(records[0]!.seq, records[1]!.seq);
  t.like(records[0]!.event, { state: 'connect', user: 'u5', ip: clientIp(5), device: 'srx-hq', gateway: 'ra-gw' });
  t.is(records[1]!.event.id, String(eventsFor(sim, clientIp(5))[0]!.id));
  await waitUntil(() => bridge.logs().filter((l) => l.event === 'tap').length === 2, 20_000, 'two --log-events lines');
  t.deepEqual(bridge.logs().filter((l) => l.event === 'tap').map((l) => (l.tap as TapRecord).what), ['queued', 'acked']);
  // A viewer still attached must not hold the stop.
  const lingering = startCli(['tap', '--url', base]);
  t.teardown(() => lingering.kill('SIGKILL'));
  let lingeringErr = '';
  lingering.stderr!.on('data', (b: Buffer) => (lingeringErr += b.toString()));
  await waitUntil(() => lingeringErr.includes('tap: connected'), 20_000, 'the second viewer attached');
  const lingeringExit = new Promise<number | null>((resolve) => lingering.once('exit', (code) => resolve(code)));
  t.is(await bridge.stop(), 0, bridge.stderr());
  t.is(await lingeringExit, 0);
  t.regex(lingeringErr, /the bridge closed the stream/);
});

test('replay with delivery ends with "N delivered, M left in the outbox, K dead letters"; a push: false VPN is counted, not sent', async (t) => {
  const { dir, sim, jimsInput } = await startDeliverySim(t);
  const config = join(dir, 'ptim-bridge.yaml');
  const state = join(dir, 'state.db');
  writeFileSync(config, stringify({ jims: jimsInput }));
  const r = await runCli(['replay', '--config', config, '--state', state, join(repoRoot, 'fixtures', 'replay-iked.log')]);
  t.is(r.code, 0, r.stderr);
  const delivered = sim.events().events.length;
  t.true(delivered > 0);
  t.regex(r.stderr, new RegExp(`\\nreplay: ${delivered} delivered, 0 left in the outbox, 0 dead letters\\n`));
  t.like((await stats(['--state', state])).totals.total, { queued: delivered, acked: delivered });
  t.is((await stats(['--state', state])).startedBy, 'replay');

  const optOut = join(dir, 'opt-out.yaml');
  writeFileSync(optOut, stringify({ jims: jimsInput, vpns: { 'ra-vpn': { push: false } } }));
  const again = await runCli(['replay', '--config', optOut, '--state', join(dir, 'other.db'), join(repoRoot, 'fixtures', 'replay-iked.log')]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /\nreplay: 0 delivered, 0 left in the outbox, 0 dead letters, \d+ skipped \(push-disabled\)\n/);
  t.is(sim.events().events.length, delivered, 'nothing more reached JIMS');
  const dry = await runCli(['replay', '--dry-run', '--config', optOut, join(repoRoot, 'fixtures', 'replay-iked.log')]);
  t.is(dry.code, 0, dry.stderr);
  t.is(dry.stdout.trim(), '', 'a dry run prints what would be sent: nothing');
  t.regex(dry.stderr, /replay: \d+ event\(s\) not printed: push is off/);
});

test('stats, tap and sessions --detail have --help with examples; bad uses exit 2', async (t) => {
  for (const args of [['stats'], ['tap'], ['sessions']]) {
    const r = await runCli([...args, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, new RegExp(`Examples:\\n\\s+\\$ ptim-bridge ${args[0]}`));
  }
  t.regex((await runCli(['sessions', '--help'])).stdout, /--detail/);
  t.regex((await runCli(['run', '--help'])).stdout, /--log-events/);
  const noAddress = await runCli(['tap']);
  t.is(noAddress.code, 2);
  t.regex(noAddress.stderr, /ERR_USAGE: Expected --config .* or --url/);
  const both = await runCli(['stats', '--url', 'http://127.0.0.1:9', '--state', 'x.db']);
  t.is(both.code, 2);
  const missing = await runCli(['stats', '--state', join(tempDir(t), 'none.db')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /ERR_STATE_UNREADABLE/);
});
