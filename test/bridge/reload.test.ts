import test from 'ava';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startDryRun } from '../helpers/cli.js';
import { rfc3164Stamp } from '../helpers/syslog-time.js';
import { findEvent, listenerPorts, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

function up(i: number, host = 'srx-hq'): string {
  const ip = `10.30.${(i >> 8) & 255}.${i & 255}`;
  return `<30>${rfc3164Stamp()} ${host} iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: ${600000 + i}, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: user${i}, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,${ip}-${ip}) , SA Type: dynamic`;
}

function yaml(domain: string, extra: string[] = []): string {
  return ['listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]', 'senders:', '  allow: [127.0.0.1]', 'devices:', '  srx-hq:', '    senders: [127.0.0.1]', 'vpns:', '  ra-vpn:', `    domain: ${domain}`, ...extra, ''].join('\n');
}

test('SIGHUP reloads config and patterns without closing a listener or losing a datagram; a bad config is refused and the old one keeps running', async (t) => {
  t.timeout(120_000);
  const dir = tempDir(t, 'ptim-reload-');
  const config = join(dir, 'bridge.yaml');
  writeFileSync(config, yaml('corp.example'));
  const { child, logs, events, stderr, exit } = startDryRun(t, ['--config', config]);
  const ports = listenerPorts(await waitForEvent(logs, 'ready', { timeoutMs: 60_000 }));
  const port = (transport: string) => ports.get(transport)!;

  // A steady UDP stream across all the reloads below: every datagram must come out as an event.
  const udp = createSocket('udp4');
  t.teardown(() => udp.close());
  let sent = 0;
  const stream = setInterval(() => {
    for (let k = 0; k < 20; k++) udp.send(up(sent++), port('udp'), '127.0.0.1');
  }, 10);
  const reloaded = (n: number) => waitUntil(() => logs().filter((l) => l.event === 'reloaded' || l.event === 'reload-refused').length >= n, 20_000, `reload ${n} logged`);
  await waitUntil(() => events().length >= 100, 30_000, 'the stream flowing');

  // 1. A good change: another VPN domain and a second firewall on another address.
  writeFileSync(config, yaml('new.example', ['  vpn-b:', '    domain: b.example']).replace('  allow: [127.0.0.1]', '  allow: [127.0.0.1, 127.0.0.2]').replace('devices:\n', 'devices:\n  srx-b:\n    senders: [127.0.0.2]\n'));
  child.kill('SIGHUP');
  await reloaded(1);
  t.deepEqual([...(logs().find((l) => l.event === 'reloaded')!.applied as string[])].sort(), ['devices', 'senders', 'vpns']);
  const mark = sent;
  await waitUntil(() => events().some((e) => e.user === `user${mark + 40}`), 30_000, 'lines after the reload');
  t.is(events().find((e) => e.user === `user${mark + 40}`)!.domain, 'new.example');
  // The new firewall, from the newly allowed address, over TCP.
  const tcp = connect({ port: port('tcp'), host: '127.0.0.1', localAddress: '127.0.0.2' });
  tcp.on('error', () => {});
  tcp.end(`${up(50_000, 'srx-b')}\n`);
  await waitUntil(() => events().some((e) => e.user === 'user50000'), 30_000, 'the new firewall heard');
  t.like(events().find((e) => e.user === 'user50000'), { device: 'srx-b', sender: '127.0.0.2' });

  // 2. A bad config: refused with file:line, the running one stays.
  writeFileSync(config, `${yaml('broken.example')}limits:\n  maxConnections: lots\n`);
  child.kill('SIGHUP');
  await reloaded(2);
  const refused = logs().find((l) => l.event === 'reload-refused')!;
  t.is(refused.code, 'ERR_CONFIG_INVALID');
  t.regex(String(refused.error), /bridge\.yaml:\d+/);
  t.regex(String(refused.error), /maxConnections/);
  const mark2 = sent;
  await waitUntil(() => events().some((e) => e.user === `user${mark2 + 40}`), 30_000, 'lines after the refused reload');
  t.is(events().find((e) => e.user === `user${mark2 + 40}`)!.domain, 'new.example', 'the old config still runs');

  // 3. A change that needs a restart: said, not applied (the listeners keep their ports).
  writeFileSync(config, yaml('new.example').replace('listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]', 'listen: [udp://127.0.0.1:0]'));
  child.kill('SIGHUP');
  await reloaded(3);
  t.like(logs().filter((l) => l.event === 'reloaded').at(-1), { needsRestart: ['listen'] });

  clearInterval(stream);
  const total = sent;
  await waitUntil(() => new Set(events().map((e) => e.user)).size >= total + 1, 30_000, `all ${total} datagrams as events`);
  t.is(findEvent(logs(), 'stopped'), undefined, 'never stopped');

  // 4. Patterns: a folder of the operator's that disables the UP rule; after the reload an UP line
  // is a near miss, not an event.
  const patterns = join(dir, 'patterns');
  mkdirSync(patterns);
  writeFileSync(join(patterns, 'off.yaml'), 'set: junos-iked\nrules:\n  - id: vpn-up\n    disabled: true\n');
  writeFileSync(config, `${yaml('new.example')}patterns:\n  dirs: [${patterns}]\n`);
  child.kill('SIGHUP');
  await reloaded(4);
  t.true((logs().filter((l) => l.event === 'reloaded').at(-1)!.applied as string[]).includes('patterns'));
  const before = events().length;
  udp.send(up(90_000), port('udp'), '127.0.0.1');
  // Near misses go through the rate-limited log, whose key is the stable `reason` field.
  await waitUntil(() => logs().some((l) => l.reason === 'near-miss'), 20_000, 'the near miss');
  t.is(events().length, before);
  child.kill('SIGTERM');
  t.is(await exit, 0, stderr());
});

test('ptim-bridge reload finds the running bridge by its state file and sends SIGHUP; with none running it says so (exit 1)', async (t) => {
  const { startBridgeProcess, startSim } = await import('./bridge-process.js');
  const { runCli } = await import('../helpers/cli.js');
  const dir = tempDir(t, 'ptim-reload-cmd-');
  const state = join(dir, 'state.db');
  const { sim, caFile } = await startSim(t, dir);
  const bridge = await startBridgeProcess(t, { dir, state, jimsUrl: sim.url, caFile });
  const r = await runCli(['reload', '--state', state]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`sent SIGHUP to the bridge \\(process ${bridge.child.pid}`));
  await waitUntil(() => bridge.logs().some((l) => l.event === 'reloaded'), 20_000, 'the reload logged');
  t.is(await bridge.stop(), 0);
  const none = await runCli(['reload', '--state', state]);
  t.is(none.code, 1);
  t.regex(none.stderr, /ERR_NOT_RUNNING: No running bridge holds/);
});
