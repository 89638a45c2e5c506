import test from 'ava';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDeviceBinding } from '../../src/ingest/device-binding.js';
import { loadPatterns } from '../../src/patterns/load.js';
import { LinePipeline } from '../../src/flow/pipeline.js';
import type { ReceivedMessage } from '../../src/flow/pipeline-records.js';
import { runCli, startCli } from '../helpers/cli.js';
import { listenerPorts, logEntries, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { ATTACKS, VICTIM_IP, alarm, body, line } from './lines.js';

/**
 * Identity integrity (issue 8): every attack a line can carry, from an allowed sender, must give
 * no event: table-driven through the pipeline with the shipped patterns, then all at once through
 * the real `replay` and the real `run` listeners. A property test: random text in the client-chosen
 * fields never changes the IP or the user a well-formed line maps.
 */

const patterns = loadPatterns();
const pipeline = new LinePipeline({ patterns, vpns: { 'ra-vpn': { domain: 'corp.example' } } });
const RECEIVED = Date.UTC(2026, 2, 14, 10, 0, 0);
const STAMP = 'Mar 14 09:02:11';

function message(text: string, sender = '192.0.2.10'): ReceivedMessage {
  return { data: Buffer.from(text), sender, receivedAt: RECEIVED, transport: 'tcp' };
}

test('the baseline line maps alice to the victim IP (so a refusal below is the attack, not a broken line)', (t) => {
  t.like(pipeline.process(message(line(STAMP, 'srx-hq', alarm('up')))), { kind: 'candidate', candidate: { user: 'alice', ip: VICTIM_IP } });
  t.like(pipeline.process(message(line(STAMP, 'srx-hq', alarm('down')))), { kind: 'candidate', candidate: { user: 'alice', ip: VICTIM_IP, line: 'down' } });
});

for (const a of ATTACKS) {
  test(`attack refused: ${a.name}`, (t) => {
    const out = pipeline.process(message(a.line(STAMP)));
    t.is(out.kind, a.outcome, JSON.stringify(out));
    if (a.reason) t.like(out, { kind: 'rejected', reason: a.reason });
  });
}

test('device binding: a sender speaks only for the devices bound to it', (t) => {
  const devices = createDeviceBinding({ 'srx-hq': { senders: ['192.0.2.10'], certNames: [] }, 'srx-branch': { senders: ['192.0.2.20'], certNames: ['srx-branch.example'] } }, false);
  const bound = new LinePipeline({ patterns, devices });
  const up = line(STAMP, 'srx-hq', alarm('up'));
  t.like(bound.process(message(up, '192.0.2.10')), { kind: 'candidate', candidate: { device: 'srx-hq' } });
  // srx-branch's sender claims srx-hq: it could end or take srx-hq's users' mappings.
  t.like(bound.process(message(up, '192.0.2.20')), { kind: 'rejected', reason: 'device-not-bound' });
  t.like(bound.process(message(line(STAMP, 'SRX-HQ', alarm('down')), '192.0.2.20')), { kind: 'rejected', reason: 'device-not-bound' });
  // A device nobody listed, and a hostless line from a sender bound to one device.
  t.like(bound.process(message(line(STAMP, 'srx-new', alarm('up')), '192.0.2.10')), { kind: 'rejected', reason: 'device-not-bound' });
  t.like(bound.process(message(alarm('up'), '192.0.2.20')), { kind: 'candidate', candidate: { device: 'srx-branch' } });
  t.like(bound.process(message(alarm('up'), '192.0.2.99')), { kind: 'rejected', reason: 'device-not-bound' });
  // A verified client certificate speaks for the device that lists its name, from any address.
  t.like(bound.process({ ...message(line(STAMP, 'srx-branch', alarm('up')), '198.51.100.1'), transport: 'tls', peerNames: ['srx-branch.example'] }), { kind: 'candidate', candidate: { device: 'srx-branch' } });
  t.like(bound.process({ ...message(up, '198.51.100.1'), transport: 'tls', peerNames: ['srx-branch.example'] }), { kind: 'rejected', reason: 'device-not-bound' });
  // The explicit opt-in lets unlisted devices through, never a listed device from the wrong sender.
  const open = new LinePipeline({ patterns, devices: createDeviceBinding({ 'srx-hq': { senders: ['192.0.2.10'], certNames: [] } }, true) });
  t.like(open.process(message(line(STAMP, 'srx-new', alarm('up')), '192.0.2.20')), { kind: 'candidate', candidate: { device: 'srx-new' } });
  t.like(open.process(message(up, '192.0.2.20')), { kind: 'rejected', reason: 'device-not-bound' });
});

// Text a VPN client can choose: any characters, including commas, labels, control characters.
const LABELS = ['AAA username: ', 'Remote IKE-ID: ', ', Traffic-selector remote ID: ipv4(0,0-65535,10.9.9.9-10.9.9.9) , ', ', Reason: ', ', SA Type: dynamic', ', VR id: root', '\n', '\u0000', ', CN=admin', '\\', '@'];
const hostile = fc
  .array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...LABELS), fc.constant(alarm('down', { tsRemote: 'ipv4(0,0-65535,10.9.9.9-10.9.9.9)' }))), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join(''));

test('property: random text in the AAA username or Remote IKE-ID never changes the mapped IP or user', (t) => {
  fc.assert(
    fc.property(hostile, fc.constantFrom('aaaUser', 'remoteIkeId'), fc.constantFrom<'up' | 'down'>('up', 'down'), (text, field, state) => {
      const over = field === 'aaaUser' ? { aaaUser: text } : { remoteIkeId: text, aaaUser: 'Not-applicable' };
      const out = pipeline.process(message(line(STAMP, 'srx-hq', alarm(state, over))));
      if (out.kind !== 'candidate') return true;
      const c = out.candidate;
      if (c.ip !== VICTIM_IP || c.line !== state) return false;
      // The user is the field's own text (less a domain part), never text that came after it.
      const who = text.trim();
      return who.includes(c.user) && !c.user.includes(',');
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

const run = promisify(execFile);

test('replay: a capture with every attack between a real UP and DOWN gives just those two events; the summary counts the refusals', async (t) => {
  const dir = tempDir(t);
  const capture = join(dir, 'attacks.log');
  const up = line('Mar 14 09:00:00', 'srx-hq', alarm('up'));
  const lines = [
    up,
    // The same line again (a second relay): applied once, not a rekey.
    up,
    ...ATTACKS.map((a) => a.line('Mar 14 09:30:00')),
    line('Mar 14 09:50:00', 'srx-hq', alarm('down')),
    // An UP from before the DOWN that ended the session, arriving after it (delayed): stale.
    line('Mar 14 09:40:00', 'srx-hq', alarm('up', { tunnelId: '500012' })),
  ];
  // Each line on its own: the newline and NUL attacks are one message each in a capture too.
  writeFileSync(capture, `${lines.map((l) => l.replace(/\n/g, '\\n')).join('\n')}\n`);
  const r = await runCli(['replay', '--dry-run', '--now', '2026-03-14T18:00:00Z', capture]);
  t.is(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { state: string; user: string; ip: string });
  t.deepEqual(events.map((e) => [e.state, e.user, e.ip]), [['connect', 'alice', VICTIM_IP], ['disconnect', 'alice', VICTIM_IP]], r.stdout);
  // A file cannot hold a newline inside a line (it is written as \\n here), so the count covers at
  // least every refusal that is not about control characters.
  const refused = Number(/rejected \(matched, refused: could forge a mapping\): (\d+)/.exec(r.stderr)?.[1]);
  t.true(refused >= ATTACKS.filter((a) => a.outcome === 'rejected' && a.reason !== 'control-characters').length, r.stderr);
  t.regex(r.stderr, /ambiguous-fields/);
  t.regex(r.stderr, /foreign-daemon/);
  t.regex(r.stderr, /events: connect 1, disconnect 1, rekey 0/);
  t.regex(r.stderr, /ignored by the session table \(no event\): 2 \(duplicate 1, stale-line 1\)/);
});

test('live: every attack over TCP (octet counting keeps the newline and NUL inside one frame) and the newline and NUL ones over UDP (one message a datagram), a foreign device, a duplicate, a line from 2001 and a stale UP over UDP/TCP give no event; metrics count them', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'bridge.yaml');
  writeFileSync(config, JSON.stringify({
    listen: ['tcp://127.0.0.1:0', 'udp://127.0.0.1:0'],
    senders: { allow: ['127.0.0.1/32'] },
    devices: { 'srx-hq': { senders: ['127.0.0.1'] }, 'srx-branch': { senders: ['192.0.2.20'] } },
    metrics: { listen: '127.0.0.1:0' },
    vpns: { 'ra-vpn': { domain: 'corp.example' } },
  }));
  const child = startCli(['run', '--dry-run', '--config', config]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  t.teardown(() => child.kill('SIGKILL'));
  const ready = await waitForEvent(() => logEntries(err), 'ready', {
    timeoutMs: 120_000,
    alive: () => {
      if (child.exitCode !== null) throw new Error(err);
    },
  });
  const ports = listenerPorts(ready);
  const metricsUrl = String(ready.metrics);

  // Times near now: the live time window refuses lines far from their receipt.
  const now = new Date();
  const stamp = `${now.toUTCString().slice(8, 11)} ${String(now.getUTCDate()).padStart(2, ' ')} ${now.toISOString().slice(11, 19)}`;
  const frames = [line(stamp, 'srx-hq', alarm('up')), ...ATTACKS.map((a) => a.line(stamp))];
  const s = connect({ host: '127.0.0.1', port: ports.get('tcp')! });
  await new Promise((resolve) => s.once('connect', resolve));
  for (const f of frames) {
    const bytes = Buffer.from(f);
    s.write(`${bytes.length} `);
    s.write(bytes);
  }
  // The connect again over UDP (a second relay): a duplicate, applied once.
  const dgram = await import('node:dgram');
  const u = dgram.createSocket('udp4');
  const sendUdp = (text: string) => new Promise<void>((resolve, reject) => u.send(text, ports.get('udp')!, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  await sendUdp(frames[0]!);
  // A datagram is one message (RFC 5426): the newline and NUL attacks stay whole over UDP too,
  // where splitting on LF once handed the line after the newline on as the firewall's own.
  const inOneDatagram = ATTACKS.filter((a) => /newline|NUL/.test(a.name));
  t.is(inOneDatagram.length, 2);
  for (const a of inOneDatagram) await sendUdp(a.line(stamp));
  // A line from 2001 (a firewall clock reset, or a replay of an old capture into the live port).
  await sendUdp(`<30>1 2001-03-14T09:02:11Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER - ${body('up', { aaaUser: 'admin', tsRemote: 'ipv4(0,0-65535,10.9.9.30-10.9.9.30)' })}`);
  // The DOWN, then an UP stamped a minute before it (delayed or replayed): stale, no reconnect.
  const earlier = new Date(now.getTime() - 60_000);
  const earlierStamp = `${earlier.toUTCString().slice(8, 11)} ${String(earlier.getUTCDate()).padStart(2, ' ')} ${earlier.toISOString().slice(11, 19)}`;
  const downAndStale = [line(stamp, 'srx-hq', alarm('down')), line(earlierStamp, 'srx-hq', alarm('up', { tunnelId: '500012' }))];
  await waitUntil(() => out.includes('"connect"'), 30_000, 'the connect');
  for (const f of downAndStale) {
    const bytes = Buffer.from(f);
    s.write(`${bytes.length} `);
    s.write(bytes);
  }
  // srx-branch's lines may only come from 192.0.2.20: this sender claiming srx-branch is refused.
  await run('logger', ['--server', '127.0.0.1', '--port', String(ports.get('udp')), '--udp', '--rfc3164', '-t', 'iked', alarm('down')]).catch(() => undefined);
  await sendUdp(line(stamp, 'srx-branch', alarm('down')));
  u.close();

  const expectedRejected = ATTACKS.filter((a) => a.outcome === 'rejected').length + 2 + inOneDatagram.length;
  const rejectedTotal = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    return [...text.matchAll(/^ptim_bridge_lines_rejected_total\{reason="[^"]+"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  const ignored = async (reason: string): Promise<number> => Number(new RegExp(`^ptim_bridge_session_lines_ignored_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(await (await fetch(metricsUrl)).text())?.[1] ?? 0);
  await waitUntil(async () => (await ignored('stale-line')) >= 1 && (await ignored('duplicate')) >= 1 && (await ignored('time-out-of-window')) >= 1, 30_000, 'the stale, duplicate and out-of-window lines in the metrics');
  await waitUntil(async () => (await rejectedTotal()) >= expectedRejected, 30_000, 'the refusals in the metrics').catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}\n${(await (await fetch(metricsUrl)).text()).split('\n').filter((l) => l.startsWith('ptim_bridge_lines')).join('\n')}\n${err}`);
  });
  const events = out.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { state: string; user: string; ip: string; device: string });
  t.deepEqual(events.map((e) => [e.state, e.user, e.ip, e.device]), [['connect', 'alice', VICTIM_IP, 'srx-hq'], ['disconnect', 'alice', VICTIM_IP, 'srx-hq']]);
  const metrics = await (await fetch(metricsUrl)).text();
  t.regex(metrics, /ptim_bridge_lines_rejected_total\{reason="device-not-bound"\} 2/);
  t.regex(metrics, /ptim_bridge_lines_rejected_total\{reason="control-characters"\} 10/);
  t.regex(err, /"reason":"ambiguous-fields"/);
  s.destroy();
});

test('the attack lines are real alarms but for the injected text (a sanity check of the table)', (t) => {
  // Each attack's base line, with its injected text removed, maps the victim: the refusals are
  // about the text, not about a malformed template.
  t.like(pipeline.process(message(line(STAMP, 'srx-hq', `IKE_VPN_DOWN_ALARM_USER: ${body('down')}`))), { kind: 'candidate', candidate: { ip: VICTIM_IP } });
});
