import test from 'ava';
import { junosSyslogLines, isJunosWord, type SyslogLineOptions } from '../../src/junos/syslog-lines.js';

const base: SyslogLineOptions = { bridge: '192.0.2.5', transport: 'udp', facility: 'daemon', match: 'regex', structuredData: true, caProfile: 'ptim-bridge-ca' };
const H = 'set system syslog host';
const MATCH = '"IKE_VPN_UP_ALARM_USER|IKE_VPN_DOWN_ALARM_USER|KMD_VPN_UP_ALARM_USER|KMD_VPN_DOWN_ALARM_USER"';

const cases: Array<[string, Partial<SyslogLineOptions>, string[]]> = [
  ['udp (the default): daemon info, match, port 5514, structured-data; no transport line (older releases lack it)', {}, [
    `${H} 192.0.2.5 daemon info`,
    `${H} 192.0.2.5 match ${MATCH}`,
    `${H} 192.0.2.5 port 5514`,
    `${H} 192.0.2.5 structured-data`,
  ]],
  ['tcp, a port, a source address, a routing instance, BSD syslog, match-strings, facility any', { transport: 'tcp', port: 1514, sourceAddress: '192.0.2.10', routingInstance: 'mgmt_junos', structuredData: false, match: 'strings', facility: 'any' }, [
    `${H} 192.0.2.5 any info`,
    `${H} 192.0.2.5 match-strings [ IKE_VPN_UP_ALARM_USER IKE_VPN_DOWN_ALARM_USER KMD_VPN_UP_ALARM_USER KMD_VPN_DOWN_ALARM_USER ]`,
    `${H} 192.0.2.5 port 1514`,
    `${H} 192.0.2.5 source-address 192.0.2.10`,
    `${H} 192.0.2.5 routing-instance mgmt_junos`,
    `${H} 192.0.2.5 transport tcp`,
  ]],
  ['tls: the CA profile, port 6514, transport tls, tlsdetails; mutual TLS with a local certificate', { bridge: 'bridge.example.net', transport: 'tls', localCertificate: 'srx-hq' }, [
    'set security pki ca-profile ptim-bridge-ca ca-identity ptim-bridge-ca',
    `${H} bridge.example.net daemon info`,
    `${H} bridge.example.net match ${MATCH}`,
    `${H} bridge.example.net port 6514`,
    `${H} bridge.example.net structured-data`,
    `${H} bridge.example.net transport tls`,
    `${H} bridge.example.net tlsdetails trusted-ca-group ptim-bridge ca-profiles ptim-bridge-ca`,
    `${H} bridge.example.net tlsdetails local-certificate srx-hq`,
  ]],
  ['an IPv6 bridge', { bridge: '2001:db8::5' }, [
    `${H} 2001:db8::5 daemon info`,
    `${H} 2001:db8::5 match ${MATCH}`,
    `${H} 2001:db8::5 port 5514`,
    `${H} 2001:db8::5 structured-data`,
  ]],
];
for (const [name, options, expected] of cases) {
  test(`junosSyslogLines: ${name}`, (t) => {
    t.deepEqual([...junosSyslogLines({ ...base, ...options }).lines], expected);
  });
}

const noteCases: Array<[string, Partial<SyslogLineOptions>, RegExp[]]> = [
  ['udp: the bridge listener and senders', {}, [/listener udp:\/\/0\.0\.0\.0:5514/, /senders\.allow/, /structured-data \(8\.3 and later\)/]],
  ['match-strings: Junos 16.1', { match: 'strings' }, [/16\.1/]],
  ['tcp: check the release has transport', { transport: 'tcp' }, [/transport \?/]],
  ['tls: 21.2R1, the CA to load, mutual TLS on the bridge', { transport: 'tls', localCertificate: 'srx-hq' }, [/21\.2R1/, /request security pki ca-certificate load ca-profile ptim-bridge-ca/, /tls\.clientCa/]],
  ['--device: the bridge-side devices entry', { device: 'srx-hq', sourceAddress: '192.0.2.10' }, [/devices: \{ srx-hq: \{ senders: \[192\.0\.2\.10\] \} \}/]],
];
for (const [name, options, patterns] of noteCases) {
  test(`junosSyslogLines notes: ${name}`, (t) => {
    const notes = junosSyslogLines({ ...base, ...options }).notes.join('\n');
    for (const p of patterns) t.regex(notes, p);
  });
}

test('the match regex is valid for Junos (no / or %) and matches the four tags', (t) => {
  const regex = MATCH.slice(1, -1);
  t.false(/[/%]/.test(regex));
  for (const tag of ['IKE_VPN_UP_ALARM_USER', 'IKE_VPN_DOWN_ALARM_USER', 'KMD_VPN_UP_ALARM_USER', 'KMD_VPN_DOWN_ALARM_USER']) t.regex(`${tag}: VPN ra-vpn from 198.51.100.23 is up.`, new RegExp(regex));
  t.notRegex('RT_FLOW_SESSION_CREATE: session created', new RegExp(regex));
});

const words: Array<[string, boolean]> = [['192.0.2.5', true], ['2001:db8::5', true], ['bridge.example.net', true], ['mgmt_junos', true], ['a b', false], ['x;delete', false], ['"q"', false], ['', false]];
for (const [word, ok] of words) {
  test(`isJunosWord(${JSON.stringify(word)}) is ${ok}`, (t) => {
    t.is(isJunosWord(word), ok);
    if (!ok) t.throws(() => junosSyslogLines({ ...base, bridge: word }), { instanceOf: TypeError });
  });
}
