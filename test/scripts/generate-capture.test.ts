import test from 'ava';
import { parseEnvelope } from '../../src/ingest/envelope.js';
import { generateLines } from '../../scripts/generate-capture.js';

test('generator: deterministic per seed, different across seeds', (t) => {
  const a = [...generateLines({ lines: 2000, seed: 5 })];
  const b = [...generateLines({ lines: 2000, seed: 5 })];
  const c = [...generateLines({ lines: 2000, seed: 6 })];
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
});

test('generator: mostly noise of the named kinds, ~1% VPN from both daemons, every line form', (t) => {
  const lines = [...generateLines({ lines: 50_000, seed: 1 })];
  const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
  const vpn = count(/_VPN_(UP|DOWN)_ALARM_USER/);
  t.true(vpn > 350 && vpn < 650, `~1% VPN, got ${vpn}`);
  t.true(count(/IKE_VPN_/) > 0 && count(/KMD_VPN_/) > 0);
  t.true(count(/RT_FLOW_SESSION_CREATE/) > 15_000);
  t.true(count(/RT_FLOW_SESSION_CLOSE/) > 15_000);
  for (const re of [/IDP_ATTACK_LOG_EVENT/, /sshd/, /UI_[A-Z_]+:/, /SNMP_TRAP_LINK/, /ipv6\(/, /ipv6_subnet/, /\(FPC Slot/, /Reason: /]) t.true(count(re) > 0, String(re));
  const formats = new Set(lines.slice(0, 5000).map((l) => parseEnvelope(l, Date.UTC(2026, 2, 15)).format));
  t.deepEqual([...formats].sort(), ['bare', 'file', 'rfc3164', 'rfc5424']);
  t.true(lines.some((l) => /^\d\d:\d\d:\d\d {2}/.test(l)), 'time-only lines');
  t.true(lines.some((l) => /^srx-\S+ \S+: /.test(l)), 'lines starting at the host');
});

test('generator: VPN-only', (t) => {
  const lines = [...generateLines({ lines: 1000, seed: 2, vpnRatio: 1 })];
  t.true(lines.every((l) => /_VPN_(UP|DOWN)_ALARM_USER/.test(l)));
});
