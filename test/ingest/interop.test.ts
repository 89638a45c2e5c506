import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { testCerts } from '../helpers/certs.js';
import { startTestListeners } from '../helpers/ingest.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Real senders no one here wrote: util-linux `logger` and `openssl s_client`. Both must be
 * installed (.ci/run installs them); the tests fail loudly rather than skip when they are not.
 */
const run = promisify(execFile);

const TEXT = 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011';

function logger(port: number, ...args: string[]) {
  return run('logger', ['--server', '127.0.0.1', '--port', String(port), '-t', 'iked', '-p', 'daemon.info', ...args]);
}

const variants: Array<{ name: string; listen: 'udp' | 'tcp'; args: string[]; format: RegExp }> = [
  { name: 'udp rfc3164', listen: 'udp', args: ['--udp', '--rfc3164'], format: /^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ iked(\[\d+\])?: IKE_VPN_UP/ },
  { name: 'udp rfc5424', listen: 'udp', args: ['--udp', '--rfc5424'], format: /^<30>1 \d{4}-\d\d-\d\dT\S+ \S+ iked \S+ - .*IKE_VPN_UP/ },
  { name: 'tcp rfc3164 (non-transparent)', listen: 'tcp', args: ['--tcp', '--rfc3164'], format: /^<30>[A-Z][a-z]{2} .* iked(\[\d+\])?: IKE_VPN_UP/ },
  { name: 'tcp rfc5424 (non-transparent)', listen: 'tcp', args: ['--tcp', '--rfc5424'], format: /^<30>1 .* iked .*IKE_VPN_UP/ },
  { name: 'tcp rfc3164 --octet-count', listen: 'tcp', args: ['--tcp', '--octet-count', '--rfc3164'], format: /^<30>[A-Z][a-z]{2} .* iked(\[\d+\])?: IKE_VPN_UP/ },
  { name: 'tcp rfc5424 --octet-count', listen: 'tcp', args: ['--tcp', '--octet-count', '--rfc5424'], format: /^<30>1 .* iked .*IKE_VPN_UP/ },
];

for (const v of variants) {
  test(`logger ${v.name}: messages arrive whole, one per call`, async (t) => {
    const l = await startTestListeners(t, [`${v.listen}://127.0.0.1:0`]);
    const port = l.port(v.listen);
    await logger(port, ...v.args, TEXT);
    await logger(port, ...v.args, `${TEXT} second`);
    await l.waitMessages(2);
    const [first, second] = l.texts();
    t.regex(first!, v.format);
    t.true(first!.endsWith(TEXT), first);
    t.true(second!.endsWith(`${TEXT} second`), second);
    t.is(l.messages[0]!.sender, '127.0.0.1');
  });
}

test('logger --tcp: many lines from stdin over one connection', async (t) => {
  const l = await startTestListeners(t, ['tcp://127.0.0.1:0']);
  const lines = Array.from({ length: 200 }, (_, i) => `${TEXT} n=${i}`);
  for (const extra of [[], ['--octet-count']]) {
    const child = spawn('logger', ['--server', '127.0.0.1', '--port', String(l.port('tcp')), '--tcp', '--rfc3164', '-t', 'iked', ...extra]);
    child.stdin.end(`${lines.join('\n')}\n`);
    await new Promise((resolve) => child.once('close', resolve));
  }
  await l.waitMessages(400);
  t.deepEqual(l.texts().map((x) => x.slice(x.indexOf('IKE_VPN'))), [...lines, ...lines]);
});

interface SClientResult {
  code: number | null;
  stderr: string;
}

/** `openssl s_client` sending `input`, then closing its side when stdin ends. */
function sClient(port: number, input: string, args: string[]): Promise<SClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-verify_return_error', '-no_ign_eof', ...args]);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.resume();
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    child.stdin.end(input);
  });
}

test('openssl s_client: TLS without client certificate (server verified against the test CA)', async (t) => {
  const certs = await testCerts();
  const l = await startTestListeners(t, ['tls://127.0.0.1:0'], { tls: { cert: certs.serverCert, key: certs.serverKey } });
  const result = await sClient(l.port('tls'), `<30>Mar 14 09:02:11 srx-hq iked[1]: ${TEXT}\n<30>Mar 14 09:02:12 srx-hq iked[1]: ${TEXT} b\n`, ['-CAfile', certs.caCert]);
  await l.waitMessages(2);
  t.is(result.code, 0, result.stderr);
  t.true(l.texts()[1]!.endsWith(`${TEXT} b`));
  t.like(l.messages[0], { transport: 'tls', sender: '127.0.0.1' });
});

test('openssl s_client: mutual TLS accepts a client certificate signed by the client CA (octet counting)', async (t) => {
  const certs = await testCerts();
  const l = await startTestListeners(t, ['tls://127.0.0.1:0'], { tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert } });
  const msg = `<30>1 2026-03-14T09:02:11Z srx-hq iked 1 - - ${TEXT}`;
  const result = await sClient(l.port('tls'), `${Buffer.byteLength(msg)} ${msg}`, ['-CAfile', certs.caCert, '-cert', certs.clientCert, '-key', certs.clientKey]);
  await l.waitMessages(1);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(l.texts(), [msg]);
});

for (const who of ['no client certificate', 'a certificate from an unknown CA'] as const) {
  test(`openssl s_client: mutual TLS refuses a client with ${who}`, async (t) => {
    const certs = await testCerts();
    const l = await startTestListeners(t, ['tls://127.0.0.1:0'], { tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert } });
    const creds = who === 'no client certificate' ? [] : ['-cert', certs.otherClientCert, '-key', certs.otherClientKey];
    await sClient(l.port('tls'), `<30>Mar 14 09:02:11 evil iked[1]: ${TEXT}\n`, ['-CAfile', certs.caCert, ...creds]);
    await waitUntil(async () => (await l.dropped('tls', 'tls-handshake')) === 1);
    t.is(l.messages.length, 0);
  });
}
