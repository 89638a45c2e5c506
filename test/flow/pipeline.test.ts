import test from 'ava';
import { alarmMessage } from '../../src/patterns/alarm-message.js';
import { LinePipeline } from '../../src/flow/pipeline.js';
import type { ReceivedMessage } from '../../src/flow/pipeline-records.js';
import { tinyPatterns } from '../helpers/tiny-patterns.js';
import { createDeviceBinding } from '../../src/ingest/device-binding.js';
import { loadPatterns } from '../../src/patterns/load.js';
import { createZoneResolver } from '../../src/ingest/time-zone.js';

const RECEIVED = Date.UTC(2026, 2, 14, 18, 0, 0);
const UP_BODY = 'VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 500011, local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: vpn.example.com, Remote IKE-ID: @ra.auth, AAA username: alice, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ipv4(0,0-65535,10.20.0.5-10.20.0.5) , SA Type: dynamic';
const UP = `<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: ${UP_BODY}`;
const DOWN = UP.replace('UP_ALARM', 'DOWN_ALARM').replace('is up.', 'is down.').concat(', Reason: Peer sent delete');

function message(line: string | Buffer): ReceivedMessage {
  return { data: Buffer.isBuffer(line) ? line : Buffer.from(line), sender: '192.0.2.10', receivedAt: RECEIVED, transport: 'udp' };
}

const pipeline = new LinePipeline({ patterns: tinyPatterns, vpns: { 'ra-vpn': { domain: 'corp.example' } } });

test('pipeline: the documented up line becomes a candidate', (t) => {
  const out = pipeline.process(message(UP));
  t.like(out, { kind: 'candidate', candidate: { user: 'alice', domain: 'corp.example', ip: '10.20.0.5', time: '2026-03-14T09:02:11.000Z', device: 'srx-hq', sender: '192.0.2.10', line: 'up', pattern: 'tiny-ike/vpn-up' } });
});

test('pipeline: a down line keeps its reason', (t) => {
  const out = pipeline.process(message(DOWN));
  t.like(out, { kind: 'candidate', candidate: { line: 'down', reason: 'Peer sent delete', pattern: 'tiny-ike/vpn-down' } });
});

test('pipeline: RFC 5424 with the tag as MSGID', (t) => {
  const line = `<30>1 2026-03-14T09:02:11.000Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER [junos@2636.1.1.1.2.129 a="b"] ${UP_BODY}`;
  t.like(pipeline.process(message(line)), { kind: 'candidate', candidate: { user: 'alice', device: 'srx-hq' } });
  t.deepEqual(alarmMessage({ format: 'rfc5424', tag: 'X_Y', msgId: 'X_Y', msg: 'text' }), { tag: 'X_Y', body: 'text' });
  t.deepEqual(alarmMessage({ format: 'bare', tag: 'X_Y', msg: 'X_Y: text' }), { tag: 'X_Y', body: 'text' });
  // A MSGID naming another tag than the text's: neither is believed.
  t.is(alarmMessage({ format: 'rfc5424', tag: 'X_Y', msgId: 'UI_CMDLINE_READ_LINE', msg: 'X_Y: text' }), undefined);
  const other = `<30>1 2026-03-14T09:02:11.000Z srx-hq mgd 4242 UI_CMDLINE_READ_LINE - IKE_VPN_UP_ALARM_USER: ${UP_BODY}`;
  t.is(pipeline.process(message(other)).kind, 'near-miss');
});

test('pipeline: site-to-site is skipped with the rule id', (t) => {
  const line = UP.replace('ipv4(0,0-65535,10.20.0.5-10.20.0.5)', 'ipv4(0,0-65535,0.0.0.0-255.255.255.255)');
  t.deepEqual(pipeline.process(message(line)), { kind: 'skipped', ruleId: 'tiny-ike/vpn-up', reason: 'no-client-address' });
});

test('pipeline: near miss and noise', (t) => {
  const near = '<30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Something new';
  t.deepEqual(pipeline.process(message(near)), { kind: 'near-miss', text: 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Something new' });
  t.deepEqual(pipeline.process(message('<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created')), { kind: 'noise' });
});

test('pipeline: garbage bytes are judged, never thrown on (the exception fallback stays unused)', async (t) => {
  const { createRegistry } = await import('../../src/ops/metrics.js');
  const { silentLogger } = await import('../../src/log.js');
  const { loadPatterns } = await import('../../src/patterns/load.js');
  const registry = createRegistry();
  // The shipped patterns and a registry: an input that made anything throw would be counted as
  // ptim_bridge_pipeline_errors_total{reason="exception"} and turned into noise; none may be.
  const judged = new LinePipeline({ patterns: loadPatterns(), registry, log: silentLogger() });
  // A NUL in the middle of an alarm: refused (it could end the line for a reader), not a crash.
  const garbage = Buffer.concat([Buffer.from(UP.slice(0, 200)), Buffer.from([0xff, 0x00, 0xc3, 0x28]), Buffer.from(UP.slice(200))]);
  t.like(judged.process(message(garbage)), { kind: 'rejected', reason: 'control-characters' });
  const kinds = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(Array.from({ length: (i * 7) % 300 }, (_, j) => (i * 31 + j * 17) % 256));
    const at = (i * 13) % UP.length;
    // Random bytes after a tag, and spliced into a real alarm at every position.
    kinds.add(judged.process(message(Buffer.concat([Buffer.from('IKE_VPN_UP_ALARM_USER: '), bytes]))).kind);
    kinds.add(judged.process(message(Buffer.concat([Buffer.from(UP.slice(0, at)), bytes, Buffer.from(UP.slice(at))]))).kind);
  }
  // Read from the counter itself: a text search of the exposition would also pass if it were renamed.
  const errors = registry.getSingleMetric('ptim_bridge_pipeline_errors_total');
  t.truthy(errors, 'the pipeline registers its error counter');
  const exceptions = (await errors!.get()).values.filter((v) => v.labels.reason === 'exception').reduce((sum, v) => sum + v.value, 0);
  t.is(exceptions, 0, 'no input reached the exception fallback');
  // The splices reach every verdict but a crash: events, refusals and near misses.
  t.true(kinds.has('candidate') && kinds.has('rejected') && kinds.has('near-miss'), [...kinds].join(','));
});

test('pipeline: kmd garbage in Local IKE-ID still yields the event', (t) => {
  const kmd = Buffer.concat([
    Buffer.from('<30>Mar 14 09:02:11 srx-old kmd[1234]: KMD_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ra-vpn, tunnel-id: 131073, local tunnel-if: st0.0, remote tunnel-ip: Not-Available, Local IKE-ID: '),
    Buffer.from([0xe4, 0xff, 0x01]),
    Buffer.from(', Remote IKE-ID: bob@cert.example, AAA username: Not-Applicable, VR id: 0, Traffic-selector: , Traffic-selector local ID: ipv4_subnet(any:0,[0..7]=0.0.0.0/0), Traffic-selector remote ID: ipv4_subnet(any:0,[0..7]=10.20.0.9/32), SA Type: Static'),
  ]);
  t.like(pipeline.process(message(kmd)), { kind: 'candidate', candidate: { user: 'bob', domain: 'cert.example', ip: '10.20.0.9', device: 'srx-old', pattern: 'tiny-kmd/vpn-up' } });
});

test('pipeline: a pattern that throws is counted and treated as noise', async (t) => {
  const { createRegistry } = await import('../../src/ops/metrics.js');
  const { silentLogger } = await import('../../src/log.js');
  const registry = createRegistry();
  const broken = new LinePipeline({
    patterns: { literals: ['VPN_UP_ALARM'], recognise: () => { throw new Error('boom'); } },
    registry,
    log: silentLogger(),
  });
  t.deepEqual(broken.process(message(UP)), { kind: 'noise' });
  t.regex(await registry.metrics(), /ptim_bridge_pipeline_errors_total\{reason="exception"\} 1/);
});

test('pipeline: with the shipped pattern files (loadPatterns)', async (t) => {
  const { loadPatterns } = await import('../../src/patterns/load.js');
  const shipped = new LinePipeline({ patterns: loadPatterns(), vpns: { 'ra-vpn': { domain: 'corp.example' } } });
  t.like(shipped.process(message(UP)), { kind: 'candidate', candidate: { user: 'alice', domain: 'corp.example', ip: '10.20.0.5', line: 'up', pattern: 'junos-iked/vpn-up' } });
  t.like(shipped.process(message(DOWN)), { kind: 'candidate', candidate: { line: 'down', reason: 'Peer sent delete', pattern: 'junos-iked/vpn-down' } });
  const rfc5424 = `<30>1 2026-03-14T09:02:11.000Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER [junos@2636.1.1.1.2.129 a="b"] ${UP_BODY}`;
  t.like(shipped.process(message(rfc5424)), { kind: 'candidate', candidate: { user: 'alice', device: 'srx-hq' } });
  const chassis = UP.replace('srx-hq iked[4242]:', 'srx-dc (FPC Slot 1, PIC Slot 0) SPC3_PIC0 iked[4242]:');
  t.like(shipped.process(message(chassis)), { kind: 'candidate', candidate: { device: 'srx-dc' } });
  t.deepEqual(shipped.process(message('<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created')), { kind: 'noise' });
});

test('pipeline: RFC 5424 as rsyslog forwards it (two spaces before MSG) is still the tag\'s message', async (t) => {
  const { loadPatterns } = await import('../../src/patterns/load.js');
  const shipped = new LinePipeline({ patterns: loadPatterns() });
  const line = `<30>1 2026-03-14T09:02:11.000Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER -  IKE_VPN_UP_ALARM_USER: ${UP_BODY}`;
  t.like(shipped.process(message(line)), { kind: 'candidate', candidate: { user: 'alice', device: 'srx-hq' } });
});

// Found by an attack on the live relay: a hostless line was timed in the global zone, not its
// device's; a copy spelled differently (host case, the tag only as MSGID, a trailing blank) was
// another line to the duplicate memory, so an UP applied after its DOWN could map the user again.
const bound = new LinePipeline({
  patterns: loadPatterns(),
  devices: createDeviceBinding({ 'srx-hq': { senders: ['192.0.2.10'], certNames: [], timezone: 'Asia/Tokyo' } }, false),
  zones: createZoneResolver('UTC', { 'srx-hq': { timezone: 'Asia/Tokyo' } }),
});

test('pipeline: a hostless line is timed in the zone of the device its sender is bound to, as its hosted copy is', (t) => {
  const hosted = bound.process(message(UP));
  const hostless = bound.process(message(UP.replace(' srx-hq iked', ' iked')));
  t.like(hosted, { kind: 'candidate', candidate: { device: 'srx-hq', time: '2026-03-14T00:02:11.000Z' } });
  t.like(hostless, { kind: 'candidate', candidate: { device: 'srx-hq', time: '2026-03-14T00:02:11.000Z' } });
  const noHost5424 = bound.process(message(`<30>1 2026-03-14T09:02:11 - iked 4242 - - IKE_VPN_UP_ALARM_USER: ${UP_BODY}`));
  t.like(noHost5424, { kind: 'candidate', candidate: { device: 'srx-hq', time: '2026-03-14T00:02:11.000Z' } });
});

test('pipeline: copies of one line that differ in the envelope have one lineKey and the config\'s device name', (t) => {
  const keyOf = (line: string): string => {
    const out = bound.process(message(line));
    if (out.kind !== 'candidate') throw new Error(`${line}: ${out.kind}`);
    t.is(out.candidate.device, 'srx-hq', line);
    return out.candidate.lineKey;
  };
  const key = keyOf(UP);
  for (const copy of [
    `${UP}  \t`, // a relay's padding
    `${UP}\r`, // a CRLF file
    UP.replace(' srx-hq ', ' SRX-HQ '), // the host in another case
    `<30>1 2026-03-14T09:02:11 srx-hq iked 4242 IKE_VPN_UP_ALARM_USER - ${UP_BODY}`, // the tag only as MSGID
    `<30>1 2026-03-14T09:02:11 srx-hq iked 4242 IKE_VPN_UP_ALARM_USER - IKE_VPN_UP_ALARM_USER: ${UP_BODY}`, // and in the text
  ]) {
    t.is(keyOf(copy), key, copy);
  }
  t.not(keyOf(UP.replace('AAA username: alice', 'AAA username: alicf')), key);
});
