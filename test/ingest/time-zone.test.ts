import test from 'ava';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../src/config.js';
import { parseEnvelope } from '../../src/ingest/envelope.js';
import { canonicalTimeZone, createZoneResolver, zoneClock } from '../../src/ingest/time-zone.js';
import { startCli } from '../helpers/cli.js';
import { listenerPorts, logEntries, waitForEvent } from '../helpers/logs.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const iso = (t: number | Date | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
const RECEIVED = Date.UTC(2026, 2, 15);

test('zone clock: wall readings to instants, with DST gaps (forward) and overlaps (earlier instant)', (t) => {
  const paris = zoneClock('Europe/Paris')!;
  const table: Array<[number, string]> = [
    [Date.UTC(2026, 2, 14, 9, 2, 11), '2026-03-14T08:02:11.000Z'], // CET
    [Date.UTC(2026, 6, 14, 9, 2, 11), '2026-07-14T07:02:11.000Z'], // CEST
    [Date.UTC(2026, 2, 29, 2, 30), '2026-03-29T01:30:00.000Z'], // in the spring-forward gap: moved past it
    [Date.UTC(2026, 2, 29, 3, 30), '2026-03-29T01:30:00.000Z'],
    [Date.UTC(2026, 9, 25, 2, 30), '2026-10-25T00:30:00.000Z'], // twice that night: the first
    [Date.UTC(2026, 9, 25, 3, 30), '2026-10-25T02:30:00.000Z'],
  ];
  for (const [wall, want] of table) t.is(iso(paris.toUtc(wall)), want);
  t.is(iso(paris.toWall(Date.UTC(2026, 2, 14, 8, 2, 11))), '2026-03-14T09:02:11.000Z');
  // Half-hour zones and half-hour transitions.
  t.is(iso(zoneClock('Asia/Kolkata')!.toUtc(Date.UTC(2026, 2, 14, 9, 0))), '2026-03-14T03:30:00.000Z');
  t.is(iso(zoneClock('Australia/Lord_Howe')!.toUtc(Date.UTC(2026, 3, 5, 2, 15))), '2026-04-04T15:45:00.000Z');
  t.is(zoneClock('UTC'), undefined, 'UTC costs nothing');
  t.is(zoneClock('Etc/UTC'), undefined);
  t.is(canonicalTimeZone('US/Eastern'), 'America/New_York');
  t.is(canonicalTimeZone('Europe/Pari'), undefined);
  t.is(canonicalTimeZone('+01:00'), undefined);
  t.throws(() => zoneClock('Mars/Olympus'));
});

test('zone clock: every minute of a year round-trips through toWall/toUtc (outside the fall-back hour)', (t) => {
  const ny = zoneClock('America/New_York')!;
  for (let utc = Date.UTC(2026, 0, 1); utc < Date.UTC(2027, 0, 1); utc += 7 * 60_000) {
    const back = ny.toUtc(ny.toWall(utc));
    // In the repeated hour a reading names two instants; the earlier is taken (documented).
    if (back !== utc && back !== utc - 3_600_000) return t.fail(`${iso(utc)} -> ${iso(back)}`);
  }
  t.pass();
  return undefined;
});

test('resolver: per device (names without case), global fallback, undefined when all is UTC', (t) => {
  t.is(createZoneResolver('UTC', { a: {} }), undefined);
  const r = createZoneResolver('Europe/Paris', { 'SRX-BR': { timezone: 'America/New_York' }, utc: { timezone: 'UTC' } })!;
  t.is(r.zoneFor('srx-br')?.name, 'America/New_York');
  t.is(r.zoneFor('SRX-BR')?.name, 'America/New_York');
  t.is(r.zoneFor('srx-hq')?.name, 'Europe/Paris');
  t.is(r.zoneFor(undefined)?.name, 'Europe/Paris');
  t.is(r.zoneFor('utc'), undefined);
});

test('envelope: zone-less forms are read in the device zone; zoned forms keep their offset', (t) => {
  const zones = createZoneResolver('Europe/Paris', { 'srx-br': { timezone: 'America/New_York' } });
  const table: Array<[string, string | undefined]> = [
    ['<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_X_Y: a', '2026-03-14T08:02:11.000Z'],
    ['<30>Mar 14 04:15:00 srx-br kmd[1]: KMD_X_Y: a', '2026-03-14T08:15:00.000Z'],
    ['Mar 14 09:02:11.250  srx-hq iked[1]: IKE_X_Y: a', '2026-03-14T08:02:11.250Z'],
    ['Mar 14 2026 09:02:11 srx-hq iked[1]: IKE_X_Y: a', '2026-03-14T08:02:11.000Z'],
    ['2026-03-14T09:02:11 srx-hq iked[1]: IKE_X_Y: a', '2026-03-14T08:02:11.000Z'],
    ['2026-03-14T09:02:11+01:00 srx-br iked[1]: IKE_X_Y: a', '2026-03-14T08:02:11.000Z'],
    ['2026-03-14T09:02:11Z srx-hq iked[1]: IKE_X_Y: a', '2026-03-14T09:02:11.000Z'],
    ['<30>1 2026-03-14T09:02:11Z srx-hq iked 1 IKE_X_Y - a', '2026-03-14T09:02:11.000Z'],
    ['<30>1 2026-03-14T04:15:00 srx-br iked 1 IKE_X_Y - a', '2026-03-14T08:15:00.000Z'],
    ['09:02:11  IKE_X_Y: a', '2026-03-14T08:02:11.000Z'],
    // journalctl -o short-full prints its own zone: an abbreviation is read in the global zone, not the device's.
    ['Sat 2026-03-14 09:15:00 CET srx-br kmd[1]: KMD_X_Y: a', '2026-03-14T08:15:00.000Z'],
    ['Sat 2026-03-14 08:15:00 UTC srx-br kmd[1]: KMD_X_Y: a', '2026-03-14T08:15:00.000Z'],
    ['Sat 2026-03-14 13:45:00 +0530 srx-br kmd[1]: KMD_X_Y: a', '2026-03-14T08:15:00.000Z'],
    ['Sat 2026-03-14 09:15:00.5 CET srx-br kmd[1]: KMD_X_Y: a', '2026-03-14T08:15:00.500Z'],
    // journalctl -o short-unix.
    ['1773476100.250000 srx-br kmd[1]: KMD_X_Y: a', '2026-03-14T08:15:00.250Z'],
  ];
  for (const [line, want] of table) {
    const env = parseEnvelope(line, RECEIVED, zones);
    t.is(iso(env.time), want, line);
    t.is(env.tag, line.includes('KMD') ? 'KMD_X_Y' : 'IKE_X_Y', line);
  }
  const utc = parseEnvelope('<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_X_Y: a', RECEIVED);
  t.is(iso(utc.time), '2026-03-14T09:02:11.000Z', 'without zones: UTC, as before');
  const host = parseEnvelope('Sat 2026-03-14 09:15:00 CET srx-br kmd[1]: KMD_X_Y: a', RECEIVED, zones);
  t.like(host, { host: 'srx-br', app: 'kmd', pid: '1', format: 'file' });
});

test('envelope: the RFC 3164 year is chosen in the zone (a line stamped on New Year in Paris, received at 23:30 UTC)', (t) => {
  const zones = createZoneResolver('Europe/Paris');
  const received = Date.UTC(2026, 11, 31, 23, 30);
  t.is(iso(parseEnvelope('<30>Jan  1 00:29:00 h a: IKE_X_Y: a', received, zones).time), '2026-12-31T23:29:00.000Z');
  t.is(iso(parseEnvelope('<30>Dec 31 23:59:00 h a: IKE_X_Y: a', received, zones).time), '2026-12-31T22:59:00.000Z');
});

test('config: timezone and devices.<name>.timezone take IANA names; a bad one is refused with file:line', (t) => {
  const config = validateConfig({ timezone: 'Europe/Paris', devices: { 'srx-br': { timezone: 'US/Eastern' } } });
  t.is(config.timezone, 'Europe/Paris');
  t.is(config.devices['srx-br']?.timezone, 'US/Eastern');
  t.is(validateConfig({}).timezone, 'UTC');
  const dir = tempDir(t);
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'devices:\n  srx-br:\n    senders: [192.0.2.1]\n    timezone: Europe/Pari\n');
  const error = t.throws(() => loadConfig(file), { code: 'ERR_CONFIG_INVALID' as never });
  t.regex(error!.message, /c\.yaml:4: Expected `devices\.srx-br\.timezone` an IANA time zone name like Europe\/Paris, America\/New_York or UTC, got "Europe\/Pari" \(string\)/);
  t.throws(() => validateConfig({ timezone: 'CEST+2' }), { code: 'ERR_CONFIG_INVALID' as never, message: /`timezone` an IANA time zone name/ });
});

test('live: `run` reads a zone-less RFC 3164 time in the zone of its device', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'c.yaml');
  // The device binding and the zone in one entry; the global zone is another, so only the device's fits.
  writeFileSync(config, 'timezone: America/New_York\ndevices:\n  srx-in:\n    senders: [127.0.0.1]\n    timezone: Asia/Kolkata\n');
  const child = startCli(['run', '--dry-run', '--listen', 'udp://127.0.0.1:0', '--allow-sender', '127.0.0.1', '--config', config]);
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const ready = await waitForEvent(() => logEntries(err), 'ready', {
    timeoutMs: 120_000,
    alive: () => {
      if (child.exitCode !== null) throw new Error(`run exited: ${err}`);
    },
  });
  const port = listenerPorts(ready).get('udp')!;
  // Now, as a firewall in Kolkata (+05:30, no DST) writes it: within the live time window only if read in that zone.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const wall = new Date(now + 5.5 * 3_600_000);
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][wall.getUTCMonth()]!;
  const two = (n: number) => String(n).padStart(2, '0');
  const stamp = `${month} ${String(wall.getUTCDate()).padStart(2, ' ')} ${two(wall.getUTCHours())}:${two(wall.getUTCMinutes())}:${two(wall.getUTCSeconds())}`;
  const line = `<30>${stamp} srx-in iked[1]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic`;
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.send(line, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  socket.close();
  await waitUntil(() => out.includes('"state":"connect"'), 30_000, `the connect event (stderr: ${err.slice(-500)})`);
  const event = JSON.parse(out.split('\n')[0] ?? '') as { time: string; device: string };
  t.is(event.time, iso(now)!);
  t.is(event.device, 'srx-in');
});
