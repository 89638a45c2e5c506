import test from 'ava';
import fc from 'fast-check';
import { loadPatterns } from '../../src/patterns/load.js';

/**
 * Property test over the documented template (JUNOS-LOGS.md §2): lines built from random field
 * values, with every optional part present or absent, in every envelope position, must match the
 * rule of their daemon and state and give back exactly the values they were built from.
 */
const set = loadPatterns();

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$/);
const ip = fc.oneof(fc.ipV4(), fc.ipV6());
// Field text: anything but the comma that ends a field and control characters (kmd garbage arrives
// as U+FFFD; control characters are refused, see test/ingest/identity-attacks.test.ts).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const fieldText = fc.string({ unit: fc.oneof(fc.constantFrom('\uFFFD', ' ', '@', '\\', '.', 'é', '='), fc.string({ minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 24 })
  .filter((s) => !/,/.test(s) && !CONTROL.test(s));
const dn = fc.array(fc.tuple(fc.constantFrom('C', 'O', 'OU', 'CN', 'DC'), fc.stringMatching(/^[A-Za-z0-9 .-]{1,12}$/)), { minLength: 2, maxLength: 4 })
  .map((parts) => parts.map(([k, v]) => `${k}=${v}`).join(', '));
const ikeId = fc.oneof(fieldText, dn, fc.constant('@ra.auth'));
const range = (a: string, b: string): string => `${a}-${b}`;
const ikedSelector = fc.oneof(
  fc.ipV4().map((a) => `ipv4(0,0-65535,${range(a, a)})`),
  fc.ipV6().map((a) => `ipv6(0,0-65535,${range(a, a)})`),
);
const ikedSelectors = fc.array(ikedSelector, { minLength: 1, maxLength: 2 }).map((s) => s.join(' '));
const kmdSelector = fc.oneof(
  fc.ipV4().map((a) => `ipv4_subnet(any:0,[0..7]=${a}/32)`),
  fc.ipV6().map((a) => `ipv6_subnet(any:0,[0..15]=${a}/128)`),
);

const line = fc.record({
  daemon: fc.constantFrom('iked', 'kmd'),
  state: fc.constantFrom('up', 'down'),
  vpn: name, gateway: name, peer: ip, localIp: ip,
  tunnelId: fc.nat().map(String),
  tunnelType: fc.option(fc.constantFrom('Route-based', 'Policy-based'), { nil: undefined }),
  tunnelIf: fc.nat(999).map((n) => `st0.${n}`),
  remoteTunnelIp: fc.oneof(fc.constant('Not-Available'), fc.ipV4()),
  localIkeId: ikeId, remoteIkeId: ikeId,
  aaaUser: fc.oneof(fieldText, fc.constantFrom('Not-applicable', 'Not-Applicable', 'alice@corp.example', 'CORP\\bob')),
  vr: fc.oneof(fc.constant('root'), fc.nat(20).map(String)),
  tsName: fc.oneof(fc.constant(''), name),
  ikedLocal: ikedSelectors, ikedRemote: ikedSelectors, kmdLocal: kmdSelector, kmdRemote: kmdSelector,
  saType: fc.constantFrom('dynamic', 'Static'),
  serviceOffload: fc.option(fc.constantFrom('Yes', 'No'), { nil: undefined }),
  // Trailing blanks end the message, not the reason.
  reason: fc.option(fc.string({ minLength: 1, maxLength: 60 }).filter((s) => !CONTROL.test(s) && !/[ \t]$/.test(s)), { nil: undefined }),
  position: fc.constantFrom('tag', 'chassis', 'rfc3164', 'rfc5424'),
});

test('generated template lines match their rule and give back every field', (t) => {
  fc.assert(
    fc.property(line, (l) => {
      const iked = l.daemon === 'iked';
      const tsLocal = iked ? l.ikedLocal : l.kmdLocal;
      const tsRemote = iked ? l.ikedRemote : l.kmdRemote;
      const sep = iked ? ' ,' : ',';
      const tail = l.state === 'down' && l.reason !== undefined ? `, Reason: ${l.reason}` : '';
      const text =
        `VPN ${l.vpn} from ${l.peer} is ${l.state}. Local-ip: ${l.localIp}, gateway name: ${l.gateway}, vpn name: ${l.vpn}, ` +
        `tunnel-id: ${l.tunnelId}, ${l.tunnelType ? `tunnel type: ${l.tunnelType}, ` : ''}local tunnel-if: ${l.tunnelIf}, ` +
        `remote tunnel-ip: ${l.remoteTunnelIp}, Local IKE-ID: ${l.localIkeId}, Remote IKE-ID: ${l.remoteIkeId}, ` +
        `AAA username: ${l.aaaUser}, VR id: ${l.vr}, Traffic-selector: ${l.tsName}, Traffic-selector local ID: ${tsLocal}${sep} ` +
        `Traffic-selector remote ID: ${tsRemote}${sep} SA Type: ${l.saType}${l.serviceOffload ? `, Service Offload: ${l.serviceOffload}` : ''}${tail}`;
      const tag = `${iked ? 'IKE' : 'KMD'}_VPN_${l.state.toUpperCase()}_ALARM_USER`;
      const full = {
        tag: `${tag}: ${text}`,
        chassis: `(FPC Slot 1, PIC Slot 0) SPC3_PIC0 ${l.daemon}[4242]: ${tag}: ${text}`,
        rfc3164: `<30>Mar 14 09:02:11 srx-hq ${l.daemon}[4242]: ${tag}: ${text}`,
        rfc5424: `<30>1 2026-03-14T09:02:11Z srx-hq ${l.daemon} 4242 ${tag} [junos@2636.1.1.1.2.129 a="b"] ${text}`,
      }[l.position];
      const m = set.match(full);
      const expected: Record<string, string | undefined> = {
        vpn: l.vpn, leadVpn: l.vpn, remoteTunnelIp: l.remoteTunnelIp, gateway: l.gateway, peer: l.peer, localIp: l.localIp, tunnelId: l.tunnelId, tunnelType: l.tunnelType,
        tunnelIf: l.tunnelIf, localIkeId: l.localIkeId, remoteIkeId: l.remoteIkeId, aaaUser: l.aaaUser, vr: l.vr,
        tsName: l.tsName === '' ? undefined : l.tsName, tsLocal, tsRemote, saType: l.saType, serviceOffload: l.serviceOffload,
        reason: l.state === 'down' ? l.reason : undefined,
      };
      const fields = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
      if (m?.ruleId !== `junos-${l.daemon}/vpn-${l.state}`) throw new Error(`rule ${m?.ruleId ?? 'none'} for ${JSON.stringify(full)}`);
      t.deepEqual(m.fields, fields);
    }),
    { numRuns: 1500 },
  );
  t.pass();
});
