import test from 'ava';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startDryRun } from '../helpers/cli.js';
import { rfc3164Stamp } from '../helpers/syslog-time.js';
import { listenerPorts, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const FIELDS = 'Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';

test('run: connections trickling from an allowed address fill the limit, and a firewall is still heard (the idlest trickler is evicted, the rest closed as slow-frame)', async (t) => {
  t.timeout(120_000);
  const dir = tempDir(t, 'ptim-trickle-');
  const config = join(dir, 'bridge.yaml');
  writeFileSync(config, ['senders:', '  allow: [127.0.0.0/8]', 'devices:', '  srx-hq:', '    senders: [127.0.0.3]', 'limits:', '  maxConnections: 64', '  maxConnectionsPerSender: 64', '  frameTimeoutSeconds: 3', ''].join('\n'));
  const { child, logs, events, stderr, exit } = startDryRun(t, ['--config', config, '--listen', 'tcp://127.0.0.1:0']);
  const port = listenerPorts(await waitForEvent(logs, 'ready', { timeoutMs: 60_000 })).get('tcp')!;

  const tricklers: Socket[] = [];
  for (let i = 0; i < 64; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    s.on('error', () => {});
    tricklers.push(s);
  }
  const drip = setInterval(() => tricklers.forEach((s) => !s.destroyed && s.write('<')), 250);
  t.teardown(() => {
    clearInterval(drip);
    tricklers.forEach((s) => s.destroy());
  });
  await new Promise((r) => setTimeout(r, 1000));

  const firewall = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' });
  firewall.on('error', () => {});
  firewall.write(`<30>${rfc3164Stamp()} srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. ${FIELDS}\n`);
  await waitUntil(() => events().some((e) => e.state === 'connect'), 30_000, 'the firewall event');
  t.like(events()[0], { state: 'connect', user: 'alice', device: 'srx-hq', sender: '127.0.0.3' });
  await waitUntil(() => logs().some((l) => l.reason === 'slow-frame'), 30_000, 'tricklers closed as slow-frame');
  const evicted = logs().find((l) => l.reason === 'evicted');
  t.like(evicted, { sender: '127.0.0.2', limit: 'max-connections' });
  firewall.destroy();
  child.kill('SIGTERM');
  t.is(await exit, 0, stderr());
});
