import anyTest from 'ava';

// Each test starts a CLI process (tsx compiles on start): one at a time, so a loaded 2-core
// machine is not asked for eight at once.
const test = anyTest.serial;
import { execFile, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { runCli, startCli } from '../helpers/cli.js';
// Live lines need a time near their receipt (lineChecks.timeWindowSeconds).
import { rfc3164Stamp } from '../helpers/syslog-time.js';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testCerts } from '../helpers/certs.js';
import { listenerPorts, logEntries, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const run = promisify(execFile);

const FIELDS = 'Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';
const UP = `IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. ${FIELDS}`;
const DOWN = `IKE_VPN_DOWN_ALARM_USER: VPN ra-vpn from 198.51.100.23 is down. ${FIELDS}, Reason: Peer sent delete`;

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  ports: Map<string, number>;
  events: () => Array<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `run --dry-run`, waits for its `ready` log event and reads the bound ports from it: `listeners` transports. */
async function startRun(t: import('ava').ExecutionContext, args: string[], listeners: number): Promise<Running> {
  const child = startCli(['run', '--dry-run', ...args]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const ready = await waitForEvent(() => logEntries(err), 'ready', {
    timeoutMs: 120_000,
    alive: () => {
      if (child.exitCode !== null) throw new Error(`run exited early (${child.exitCode}): ${err}`);
    },
  });
  const ports = listenerPorts(ready);
  t.is(ports.size, listeners, `the listeners in ${JSON.stringify(ready.listeners)}`);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    ports,
    events: () => out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
    exit,
  };
}

test('run --dry-run: logger over UDP and TCP -> NDJSON events on stdout; SIGTERM exits 0', async (t) => {
  // logger names this machine as the host: no `devices:` binding here, so unbound devices are allowed (and warned about).
  const r = await startRun(t, ['--listen', 'udp://127.0.0.1:0', '--listen', 'tcp://127.0.0.1:0', '--allow-sender', '127.0.0.1', '--allow-unbound-devices'], 2);
  t.regex(r.stderr(), /allowUnboundDevices is on/);
  await run('logger', ['--server', '127.0.0.1', '--port', String(r.ports.get('udp')), '--udp', '--rfc3164', '-t', 'iked', UP]);
  await waitUntil(() => r.events().length === 1, 60_000, 'the connect event');
  await run('logger', ['--server', '127.0.0.1', '--port', String(r.ports.get('tcp')), '--tcp', '--octet-count', '--rfc5424', '-t', 'iked', DOWN]);
  // Noise and a forged-looking garbage line change nothing.
  await run('logger', ['--server', '127.0.0.1', '--port', String(r.ports.get('udp')), '--udp', '-t', 'RT_FLOW', 'RT_FLOW_SESSION_CREATE: session created']);
  await waitUntil(() => r.events().length === 2, 60_000, 'the disconnect event');
  const [up, down] = r.events();
  t.like(up, { state: 'connect', user: 'alice', ip: '10.20.0.5', sender: '127.0.0.1', vpn: 'ra-vpn', pattern: 'junos-iked/vpn-up' });
  t.like(down, { state: 'disconnect', user: 'alice', ip: '10.20.0.5', reason: 'Peer sent delete' });
  r.child.kill('SIGTERM');
  const { code } = await r.exit;
  t.is(code, 0, r.stderr());
  t.regex(r.stderr(), /"msg":"stopped"/);
});

test('run --dry-run: SIGINT finishes what is in hand (a TCP line sent just before) and exits 0', async (t) => {
  const r = await startRun(t, ['--listen', 'tcp://127.0.0.1:0', '--allow-any-sender', '--allow-unbound-devices'], 1);
  t.regex(r.stderr(), /ANY sender/);
  const s = connect({ port: r.ports.get('tcp')!, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise((resolve) => s.once('connect', resolve));
  s.write(`<30>${rfc3164Stamp()} srx-hq iked[4242]: ${UP}\n`);
  await waitUntil(() => r.events().length === 1, 60_000, 'the event');
  // The last line has no trailer yet: it is in hand, and must still come out when we stop.
  s.write(`<30>${rfc3164Stamp(Date.now() + 1000)} srx-hq iked[4242]: ${DOWN}`);
  s.on('end', () => s.end());
  r.child.kill('SIGINT');
  const { code } = await r.exit;
  t.is(code, 0, r.stderr());
  t.deepEqual(r.events().map((e) => e.state), ['connect', 'disconnect']);
  t.is(r.events()[1]!.device, 'srx-hq');
});

test('run --dry-run over TLS with --tls-cert/--tls-key/--tls-client-ca (openssl s_client with a client certificate); the certificate name binds the device', async (t) => {
  const certs = await testCerts();
  const dir = tempDir(t);
  // srx-hq is bound to the client certificate's CN only, not to any address.
  writeFileSync(join(dir, 'devices.yaml'), 'devices: { srx-hq: { certNames: [srx-test] } }\n');
  const r = await startRun(t, ['--config', join(dir, 'devices.yaml'), '--listen', 'tls://127.0.0.1:0', '--allow-sender', '127.0.0.0/8', '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.caCert], 1);
  const child = (await import('node:child_process')).spawn('openssl', ['s_client', '-connect', `127.0.0.1:${r.ports.get('tls')}`, '-servername', 'localhost', '-no_ign_eof', '-CAfile', certs.caCert, '-cert', certs.clientCert, '-key', certs.clientKey]);
  child.stdout.resume();
  child.stderr.resume();
  // The certificate speaks for srx-hq, not for srx-branch: that line is refused as device-not-bound.
  child.stdin.end(`<30>${rfc3164Stamp()} srx-branch iked[4242]: ${UP.replace('10.20.0.5-10.20.0.5', '10.20.0.99-10.20.0.99')}\n<30>${rfc3164Stamp()} srx-hq iked[4242]: ${UP}\n`);
  await waitUntil(() => r.events().length === 1, 60_000, 'the event over TLS');
  t.like(r.events()[0], { state: 'connect', user: 'alice', device: 'srx-hq' });
  await waitUntil(() => /device-not-bound/.test(r.stderr()), 10_000, 'the refusal of srx-branch');
  r.child.kill('SIGTERM');
  t.is((await r.exit).code, 0);
});

test('run --dry-run --config: listeners, allow-list, TLS files (relative paths) and vpn domains come from the file', async (t) => {
  const certs = await testCerts();
  const dir = tempDir(t);
  writeFileSync(join(dir, 'server.crt'), certs.pem.serverCert);
  writeFileSync(join(dir, 'server.key'), certs.pem.serverKey);
  writeFileSync(join(dir, 'bridge.yaml'), [
    'listen: [udp://127.0.0.1:0, tls://127.0.0.1:0]',
    'senders: { allow: [127.0.0.1/32] }',
    // logger names this machine as the host.
    `devices: { ${JSON.stringify(hostname())}: { senders: [127.0.0.1] } }`,
    'tls: { cert: server.crt, key: server.key }',
    'vpns: { ra-vpn: { domain: corp.example } }',
    '',
  ].join('\n'));
  const r = await startRun(t, ['--config', join(dir, 'bridge.yaml')], 2);
  await run('logger', ['--server', '127.0.0.1', '--port', String(r.ports.get('udp')), '--udp', '--rfc3164', '-t', 'iked', UP]);
  await waitUntil(() => r.events().length === 1, 60_000, 'the event');
  t.like(r.events()[0], { user: 'alice', domain: 'corp.example' });
  r.child.kill('SIGTERM');
  t.is((await r.exit).code, 0);
});

test('run --dry-run stops cleanly when the reader of stdout goes away', async (t) => {
  const r = await startRun(t, ['--listen', 'udp://127.0.0.1:0', '--allow-sender', '127.0.0.1', '--allow-unbound-devices'], 1);
  r.child.stdout!.destroy();
  // The next event's write fails with EPIPE: that ends the run.
  const send = () => run('logger', ['--server', '127.0.0.1', '--port', String(r.ports.get('udp')), '--udp', '--rfc3164', '-t', 'iked', UP]);
  await send();
  await waitUntil(async () => {
    if (r.child.exitCode !== null) return true;
    await send();
    return false;
  }, 60_000, 'the process to exit');
  t.is((await r.exit).code, 0, r.stderr());
  t.regex(r.stderr(), /"signal":"stdout-closed"/);
});

test('run without --dry-run and without JIMS settings exits 2 naming the flag, before creating a state file', async (t) => {
  const dir = tempDir(t);
  const r = await runCli(['run', '--listen', 'udp://127.0.0.1:0', '--allow-any-sender'], { cwd: dir, env: { PTIM_JIMS_CLIENT_SECRET: undefined } });
  t.is(r.code, 2);
  t.regex(r.stderr, /ERR_CONFIG_INVALID.*jims\.url.*--jims-url/s);
  t.deepEqual(readdirSync(dir), []);
});

test('run: configuration mistakes exit 2 with what to do', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--listen', 'udp://127.0.0.1:0'], /ERR_CONFIG_INVALID.*--allow-sender.*--allow-any-sender/s],
    [['--listen', 'http://127.0.0.1:1', '--allow-any-sender'], /ERR_LISTEN_URL_INVALID/],
    [['--listen', 'tls://127.0.0.1:0', '--allow-any-sender'], /ERR_CONFIG_INVALID.*--tls-cert/s],
    [['--listen', 'tls://127.0.0.1:0', '--allow-any-sender', '--tls-cert', 'x.pem'], /ERR_USAGE.*--tls-key/s],
    [['--allow-any-sender'], /ERR_CONFIG_INVALID.*--listen/s],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(['run', '--dry-run', ...args])));
  for (const [i, [args, expected]] of cases.entries()) {
    const r = results[i]!;
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, expected);
  }
});

test('run --help has examples', async (t) => {
  const r = await runCli(['run', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Examples:\n/);
  t.regex(r.stdout, /\$ ptim-bridge run --dry-run/);
  t.regex(r.stdout, /PTIM_JIMS_CLIENT_SECRET/);
});
