import test from 'ava';
import fc from 'fast-check';
import { parseEnvelope } from '../../src/ingest/envelope.js';
import { createZoneResolver } from '../../src/ingest/time-zone.js';
import type { Envelope } from '../../src/flow/pipeline-records.js';

const RECEIVED = Date.UTC(2026, 2, 14, 12, 0, 0); // 2026-03-14T12:00:00Z
const UP = 'IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1';
const TEXT = 'VPN ra-vpn from 198.51.100.23 is up. Local-ip: 203.0.113.1';

interface Row {
  name: string;
  line: string;
  received?: number;
  expect: Partial<Omit<Envelope, 'time'>> & { time?: string | null };
}

const rows: Row[] = [
  {
    name: 'RFC 3164 with PRI',
    line: `<30>Mar 14 09:02:11 srx-hq iked[4242]: ${UP}`,
    expect: { format: 'rfc3164', pri: 30, time: '2026-03-14T09:02:11.000Z', host: 'srx-hq', app: 'iked', pid: '4242', tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'RFC 3164, space-padded day',
    line: `<30>Mar  4 09:02:11 srx-hq kmd[1]: ${UP}`,
    expect: { format: 'rfc3164', time: '2026-03-04T09:02:11.000Z', host: 'srx-hq', app: 'kmd', pid: '1', msg: UP },
  },
  {
    name: 'RFC 3164, daemon without pid',
    line: `<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/2`,
    expect: { format: 'rfc3164', host: 'srx-hq', app: 'RT_FLOW', pid: undefined, tag: 'RT_FLOW_SESSION_CREATE', msg: 'RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/2' },
  },
  {
    name: 'RFC 3164 without a host',
    line: `<30>Mar 14 09:02:11 iked[4242]: ${UP}`,
    expect: { format: 'rfc3164', host: undefined, app: 'iked', pid: '4242', msg: UP },
  },
  {
    name: 'RFC 3164: December read in January is last year',
    line: `<30>Dec 31 23:59:59 srx-hq iked[1]: ${UP}`,
    received: Date.UTC(2027, 0, 1, 0, 0, 5),
    expect: { time: '2026-12-31T23:59:59.000Z' },
  },
  {
    name: 'RFC 3164: January read on Dec 31 is next year (less than a day ahead)',
    line: `<30>Jan  1 00:00:30 srx-hq iked[1]: ${UP}`,
    received: Date.UTC(2026, 11, 31, 23, 59, 50),
    expect: { time: '2027-01-01T00:00:30.000Z' },
  },
  {
    name: 'RFC 3164: more than a day in the future goes to last year',
    line: `<30>Mar 16 09:00:00 srx-hq iked[1]: ${UP}`,
    expect: { time: '2025-03-16T09:00:00.000Z' },
  },
  {
    name: 'RFC 3164: Feb 29 only exists in leap years',
    line: `<30>Feb 29 10:00:00 srx-hq iked[1]: ${UP}`,
    received: Date.UTC(2029, 1, 28),
    expect: { time: '2028-02-29T10:00:00.000Z' },
  },
  {
    name: 'RFC 5424 with Junos structured data: text after the SD is msg, MSGID is the tag',
    line: `<30>1 2026-03-14T09:02:11.123Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER [junos@2636.1.1.1.2.129 vpn-name="ra-vpn" reason="a \\"quoted\\" ] bracket"] ${TEXT}`,
    expect: {
      format: 'rfc5424', pri: 30, time: '2026-03-14T09:02:11.123Z', host: 'srx-hq', app: 'iked', pid: '4242', msgId: 'IKE_VPN_UP_ALARM_USER', tag: 'IKE_VPN_UP_ALARM_USER',
      structuredData: '[junos@2636.1.1.1.2.129 vpn-name="ra-vpn" reason="a \\"quoted\\" ] bracket"]', msg: TEXT,
    },
  },
  {
    name: 'RFC 5424 with an offset, nil SD and a BOM',
    line: `<30>1 2026-03-14T10:02:11+01:00 srx-hq iked - - - \uFEFF${UP}`,
    expect: { format: 'rfc5424', time: '2026-03-14T09:02:11.000Z', pid: undefined, msgId: undefined, structuredData: undefined, tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'RFC 5424, several SD elements, nil time and host',
    line: `<30>1 - - iked 1 IKE_VPN_UP_ALARM_USER [a@1 x="1"][b@2 y="]"] ${TEXT}`,
    expect: { format: 'rfc5424', time: null, host: undefined, structuredData: '[a@1 x="1"][b@2 y="]"]', msg: TEXT },
  },
  {
    name: 'RFC 5424 brief (SD only, no text)',
    line: `<30>1 2026-03-14T09:02:11Z srx-hq iked 1 IKE_VPN_UP_ALARM_USER [junos@2636.1.1.1.2.129 a="b"]`,
    expect: { format: 'rfc5424', tag: 'IKE_VPN_UP_ALARM_USER', msg: '' },
  },
  {
    name: 'log file line, two spaces after the time',
    line: `Mar 14 09:02:11  srx-hq iked[4242]: ${UP}`,
    expect: { format: 'file', pri: undefined, time: '2026-03-14T09:02:11.000Z', host: 'srx-hq', app: 'iked', pid: '4242', tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'log file line with PRI',
    line: `<30>Mar 14 09:02:11  srx-hq iked[4242]: ${UP}`,
    expect: { format: 'rfc3164', pri: 30, host: 'srx-hq', msg: UP },
  },
  {
    name: 'log file line with the year (time-format year)',
    line: `Mar 14 2025 09:02:11 srx-hq iked[4242]: ${UP}`,
    expect: { format: 'file', time: '2025-03-14T09:02:11.000Z', host: 'srx-hq', msg: UP },
  },
  {
    name: 'ISO timestamp in place of the BSD one',
    line: `2026-03-14T09:02:11.5+00:00 srx-hq iked[4242]: ${UP}`,
    expect: { format: 'file', time: '2026-03-14T09:02:11.500Z', host: 'srx-hq', app: 'iked', msg: UP },
  },
  {
    name: 'time-only prefix, the tag right after',
    line: `09:02:11  ${UP}`,
    expect: { format: 'file', time: '2026-03-14T09:02:11.000Z', host: undefined, app: undefined, tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'time-only prefix after midnight of receipt is yesterday',
    line: `23:59:00  ${UP}`,
    received: Date.UTC(2026, 2, 14, 0, 1, 0),
    expect: { time: '2026-03-13T23:59:00.000Z' },
  },
  {
    name: 'time-only prefix with host and daemon',
    line: `09:02:11  srx-hq iked[4242]: ${UP}`,
    expect: { format: 'file', host: 'srx-hq', app: 'iked', msg: UP },
  },
  {
    name: 'starting at the host',
    line: `srx-hq iked[4242]: ${UP}`,
    expect: { format: 'file', time: null, host: 'srx-hq', app: 'iked', pid: '4242', tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'starting at the host, the tag where the daemon would be',
    line: `srx-hq ${UP}`,
    expect: { format: 'file', time: null, host: 'srx-hq', app: undefined, tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'bare message with tag',
    line: UP,
    expect: { format: 'bare', time: null, host: undefined, app: undefined, tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'bare message without tag',
    line: TEXT,
    expect: { format: 'bare', time: null, host: undefined, app: undefined, tag: undefined, msg: TEXT },
  },
  {
    name: 'chassis prefix before the daemon',
    line: `<30>Mar 14 09:02:11 srx-5800 (FPC Slot 1, PIC Slot 0) SPC3_PIC0 kmd[1234]: ${UP}`,
    expect: { format: 'rfc3164', host: 'srx-5800', app: 'kmd', pid: '1234', tag: 'IKE_VPN_UP_ALARM_USER', msg: UP },
  },
  {
    name: 'chassis prefix in a file line starting at the host',
    line: `srx-5800 (FPC Slot 1, PIC Slot 0) SPC3_PIC0 iked[9]: ${UP}`,
    expect: { format: 'file', host: 'srx-5800', app: 'iked', pid: '9', msg: UP },
  },
  {
    name: 'chassis prefix without a PIC name',
    line: `Mar 14 09:02:11 srx-5800 (FPC Slot 1, PIC Slot 0) kmd[3]: ${UP}`,
    expect: { host: 'srx-5800', app: 'kmd', msg: UP },
  },
  {
    name: 'PRI out of range is text',
    line: `<999>${TEXT}`,
    expect: { format: 'bare', pri: undefined, msg: `<999>${TEXT}` },
  },
  {
    name: 'non-UTF-8 bytes (decoded as U+FFFD) do not disturb the header',
    line: Buffer.concat([Buffer.from('<30>Mar 14 09:02:11 srx-hq kmd[1]: KMD_VPN_UP_ALARM_USER: Local IKE-ID: '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' x')]).toString('utf8'),
    expect: { format: 'rfc3164', host: 'srx-hq', app: 'kmd', tag: 'KMD_VPN_UP_ALARM_USER' },
  },
  {
    name: 'impossible time is no time',
    line: `<30>Mar 32 09:02:11 srx-hq iked[1]: ${UP}`,
    expect: { time: null, host: 'srx-hq', msg: UP },
  },
  { name: 'empty line', line: '', expect: { format: 'bare', msg: '' } },
];

for (const row of rows) {
  test(`envelope: ${row.name}`, (t) => {
    const env = parseEnvelope(row.line, row.received ?? RECEIVED);
    for (const [key, want] of Object.entries(row.expect)) {
      if (key === 'time') {
        t.is(env.time?.toISOString() ?? null, want as string | null, 'time');
      } else {
        t.is(env[key as keyof Envelope], want as never, key);
      }
    }
  });
}

// Pieces of every form the scanner knows, strung together in any order with arbitrary text between
// them: arbitrary text alone is nearly always a `bare` line and would leave most branches unvisited.
const fragment = fc.oneof(
  fc.constantFrom(
    '<30>', '<191>', '<192>', '<030>', '<3', '1 ', '- ', ' ', '  ', '\uFEFF', ':', '[', ']', '"', '\\',
    'Mar 14 09:02:11 ', 'Feb 29 23:59:60.123456 ', 'Dec 31 2025 23:59:59 ', '09:02:11 ', '25:61:61 ',
    '2026-03-14T09:02:11.000Z ', '2026-03-14T09:02:11 ', '2026-13-45T99:99:99+05:30 ', 'Sat 2026-03-14 09:02:11 CET ', 'Sun 2026-03-29 02:30:00 +0100 ',
    '1773478931.123456 ', '99999999999.9 ', 'srx-hq ', 'iked[4242]: ', 'kmd: ', 'IKE_VPN_UP_ALARM_USER[7]: ', '(FPC Slot 1, PIC Slot 0) SPC3_PIC0 ',
    'IKE_VPN_UP_ALARM_USER: ', 'IKE_VPN_UP_ALARM_USER:', '[junos@2636.1.1.1.2.129 a="b\\"]"] ', '[x a="', UP,
    // Whole headers, so that the branches behind them are reached often.
    '<30>1 2026-03-14T09:02:11.000Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER ', '<30>1 - - - - - ', '<30>Mar 14 09:02:11 srx-hq iked[4242]: ',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const syslogish = fc.array(fragment, { maxLength: 12 }).map((parts) => parts.join(''));
const received = fc.integer({ min: 0, max: 4_000_000_000_000 });
const zones = createZoneResolver('America/New_York', { 'srx-hq': { timezone: 'Europe/Berlin' }, 'h': { timezone: 'Asia/Kolkata' } });

/**
 * What an envelope of `input` must satisfy, whatever the text (empty when it does). Every field is
 * cut out of the line, never made up: `msg` is the rest of the line (or, where the daemon word was
 * the tag, `TAG: ` and the rest), the other text fields are pieces of it.
 */
function envelopeFaults(input: string, env: Envelope): string[] {
  const faults: string[] = [];
  if (!['rfc3164', 'rfc5424', 'file', 'bare'].includes(env.format)) faults.push(`format ${env.format}`);
  const tagRestored = env.tag !== undefined && env.msg.startsWith(`${env.tag}: `) && input.endsWith(env.msg.slice(env.tag.length + 2));
  if (!input.endsWith(env.msg) && !tagRestored) faults.push(`msg ${JSON.stringify(env.msg)} is not the rest of the line`);
  for (const key of ['host', 'app', 'pid', 'msgId', 'structuredData', 'tag'] as const) {
    const value = env[key];
    if (value !== undefined && (value === '' || !input.includes(value))) faults.push(`${key} ${JSON.stringify(value)} is not in the line`);
  }
  if (env.tag !== undefined && !/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(env.tag)) faults.push(`tag ${env.tag} is no tag name`);
  if (env.pri !== undefined && Number(/^\uFEFF?<(\d{1,3})>/.exec(input)?.[1]) !== env.pri) faults.push(`pri ${env.pri} is not the line's`);
  if (env.pri !== undefined && !(Number.isInteger(env.pri) && env.pri >= 0 && env.pri <= 191)) faults.push(`pri ${env.pri} out of range`);
  if (env.time !== undefined && !Number.isFinite(env.time.getTime())) faults.push('time is an invalid Date');
  if (env.format === 'bare' && (env.host !== undefined || env.app !== undefined || env.pri !== undefined)) faults.push('a bare line with a header');
  return faults;
}

test('envelope: on any text it returns fields cut out of the line, and never throws', (t) => {
  // fc.assert fails on a thrown exception as on a false property; the counterexample is printed.
  fc.assert(
    fc.property(fc.oneof(syslogish, fc.string({ unit: 'binary', maxLength: 300 })), received, fc.boolean(), (text, now, zoned) => {
      const faults = envelopeFaults(text, parseEnvelope(text, now, zoned ? zones : undefined));
      if (faults.length > 0) throw new Error(faults.join('; '));
    }),
    { numRuns: 5000 },
  );
  // Arbitrary bytes as the message of a well-formed header: the header is still read as it is.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const body = Buffer.from(bytes).toString('utf8');
      const env = parseEnvelope(`<30>Mar 14 09:02:11 h a[1]: ${body}`, RECEIVED);
      const expected = { format: 'rfc3164', pri: 30, host: 'h', app: 'a', pid: '1', time: '2026-03-14T09:02:11.000Z' };
      const got = { format: env.format, pri: env.pri, host: env.host, app: env.app, pid: env.pid, time: env.time?.toISOString() };
      if (JSON.stringify(got) !== JSON.stringify(expected) || env.msg !== body) throw new Error(`header read as ${JSON.stringify(got)}, msg ${JSON.stringify(env.msg)}`);
    }),
    { numRuns: 1000 },
  );
  t.pass('both properties held on every generated line');
});
