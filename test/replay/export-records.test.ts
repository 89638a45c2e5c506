import test from 'ava';
import fc from 'fast-check';
import { zoneClock } from '../../src/ingest/time-zone.js';
import { appOf, hostOf, lookup, recordTime, textOf } from '../../src/replay/export-records.js';
import { CsvReader } from '../../src/replay/csv-records.js';
import { JsonLinesReader, type ExportRecord } from '../../src/replay/json-lines.js';

const LITERALS = ['_VPN_UP_ALARM_USER', '_VPN_DOWN_ALARM_USER'];
const paris = zoneClock('Europe/Paris');

test('record time: epochs of every unit, ISO with and without offset, zone-less in the zone', (t) => {
  const at = Date.UTC(2026, 2, 14, 8, 2, 11);
  const table: Array<[unknown, number | undefined]> = [
    [1773475331, at], [1773475331.25, at + 250], ['1773475331', at], [1773475331000, at], ['1773475331000000', at], [1773475331000000000, at],
    ['2026-03-14T08:02:11Z', at], ['2026-03-14T08:02:11.000Z', at], ['2026-03-14T09:02:11.000+01:00', at], ['2026-03-14T09:02:11+0100', at],
    ['2026-03-14 09:02:11,000 +01:00', at], ['2026-03-14T09:02:11.123456789+01:00', at + 123], ['2026-03-14 08:02:11 UTC', at],
    ['2026-03-14 09:02:11', at], ['2026-03-14T09:02:11.000', at], ['2026-03-14 09:02:11.000 CET', at], ['2026-03-14T09:02', at - 11_000],
    ['yesterday', undefined], ['', undefined], [null, undefined], [{}, undefined], [-5, undefined], ['2026-13-40T99:00:00Z', undefined],
  ];
  for (const [value, want] of table) t.is(recordTime(value, paris), want, JSON.stringify(value));
  t.is(recordTime('2026-03-14 08:02:11', undefined), at, 'no zone: UTC');
});

test('lookup: flat dotted keys, nested paths, mixes; own properties only', (t) => {
  t.is(lookup({ 'host.name': 'a' }, 'host.name'), 'a');
  t.is(lookup({ host: { name: 'b' } }, 'host.name'), 'b');
  t.is(lookup({ log: { 'syslog.appname': 'c' } }, 'log.syslog.appname'), 'c');
  t.is(lookup({ result: { _raw: 'd' } }, 'result._raw'), 'd');
  t.is(lookup(JSON.parse('{"__proto__": {"polluted": "x"}}'), '__proto__.polluted'), 'x', 'data, not the prototype');
  t.is(lookup({}, 'constructor'), undefined);
  t.is(lookup({}, 'toString'), undefined);
  t.is(lookup([1], '0'), undefined);
});

test('text, host and daemon fields: bytes lists, trailing framing, header-safe names', (t) => {
  t.deepEqual(textOf([75, 77, 68, 255, 10]), Buffer.from([75, 77, 68, 255]));
  t.deepEqual(textOf('a\nb\r\n\u0000'), Buffer.from('a\nb'), 'inner line break kept (refused later), trailing framing gone');
  t.is(textOf([1, 256]), 'bad');
  t.is(textOf({}), 'bad');
  t.is(hostOf('srx hq'), undefined);
  t.is(hostOf('srx-hq\n'), 'srx-hq');
  t.is(hostOf('srx\u0000hq'), undefined);
  t.is(appOf('ike d'), 'ike_d', 'kept as a foreign daemon, not dropped');
  t.is(appOf('iked'), 'iked');
  t.is(appOf(''), undefined);
});

function readJson(text: string, chunk = text.length, fields = {}): { records: ExportRecord[]; reader: JsonLinesReader } {
  const records: ExportRecord[] = [];
  const reader = new JsonLinesReader({ file: 'x.ndjson', fields, zones: { zoneFor: () => paris }, literals: LITERALS, maxLineBytes: 64 * 1024, maxExamples: 5, onRecord: (r) => records.push({ ...r, text: Buffer.from(r.text) }) });
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += chunk) reader.push(bytes.subarray(i, i + chunk));
  reader.end();
  return { records, reader };
}

test('JSON lines: escapes decoded (CORP\\\\carol is CORP\\carol, quotes stay inside the text)', (t) => {
  const line = { '@timestamp': '2026-03-14T09:02:11.000+01:00', message: 'IKE_VPN_UP_ALARM_USER: AAA username: CORP\\carol, Reason: said "bye", x', host: { name: 'srx-hq' } };
  const { records, reader } = readJson(`${JSON.stringify(line)}\n`);
  t.is(reader.layout?.name, 'elastic');
  t.is(records.length, 1);
  t.is(records[0]!.text.toString(), 'IKE_VPN_UP_ALARM_USER: AAA username: CORP\\carol, Reason: said "bye", x');
  t.deepEqual(records[0]!.recorded, { host: 'srx-hq', time: Date.UTC(2026, 2, 14, 8, 2, 11) });
});

test('JSON lines: journald layout, byte-list text, only lines with a literal parsed, problems with file:line', (t) => {
  const rec = (msg: unknown, extra = {}) => JSON.stringify({ __REALTIME_TIMESTAMP: '1773475331000000', _HOSTNAME: 'srx-br', SYSLOG_IDENTIFIER: 'kmd', SYSLOG_PID: '1834', MESSAGE: msg, ...extra });
  const text = [
    rec('noise line'),
    rec([...Buffer.from('KMD_VPN_UP_ALARM_USER: Local IKE-ID: vpn'), 0xff, 0xfe]),
    '{"MESSAGE": "IKE_VPN_UP_ALARM_USER: cut',
    rec('IKE_VPN_UP_ALARM_USER: x', { __REALTIME_TIMESTAMP: 'soon' }),
    JSON.stringify({ _HOSTNAME: 'srx-br', note: 'IKE_VPN_UP_ALARM_USER' }),
    '["IKE_VPN_UP_ALARM_USER"]',
    '',
  ].join('\n');
  for (const chunk of [text.length, 1, 17]) {
    const { records, reader } = readJson(text, chunk);
    t.is(reader.layout?.name, 'journal');
    t.deepEqual(records.map((r) => r.lineNo), [2, 4]);
    t.deepEqual(records[0]!.text, Buffer.concat([Buffer.from('KMD_VPN_UP_ALARM_USER: Local IKE-ID: vpn'), Buffer.from([0xff, 0xfe])]));
    t.deepEqual(records[0]!.recorded, { host: 'srx-br', app: 'kmd', pid: '1834', time: Date.UTC(2026, 2, 14, 8, 2, 11) });
    t.like(reader.records, { read: 6, noText: 1, badTime: 1, malformed: 2 });
    const [notJson, badTime, notObject] = reader.records.examples;
    t.regex(notJson!, /^x\.ndjson:3: not JSON \(.+\)$/);
    t.is(badTime, 'x.ndjson:4: time "soon" is not a time; the line\'s own time is used');
    t.is(notObject, 'x.ndjson:6: not a JSON object');
    t.is(reader.counts.hits, 5, 'the noise line was not parsed');
  }
});

test('JSON lines: an unknown layout needs --field raw=, and then reads it', (t) => {
  const text = `${JSON.stringify({ msg: 'IKE_VPN_UP_ALARM_USER: x', device: 'srx-hq', ts: 1773475331 })}\n`;
  t.throws(() => readJson(text), { code: 'ERR_INPUT_FORMAT' as never, message: /x\.ndjson:1: .*its fields: msg, device, ts/ });
  const { records } = readJson(text, text.length, { raw: 'msg', host: 'device', time: 'ts' });
  t.deepEqual(records[0]!.recorded, { host: 'srx-hq', time: Date.UTC(2026, 2, 14, 8, 2, 11) });
});

function readCsv(bytes: Buffer, cuts: readonly number[] = [], fields = {}, maxRecordBytes = 64 * 1024) {
  const records: ExportRecord[] = [];
  const reader = new CsvReader({ file: 'x.csv', fields, zones: undefined, literals: LITERALS, maxRecordBytes, maxExamples: 5, onRecord: (r) => records.push({ ...r, text: Buffer.from(r.text) }) });
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    reader.push(bytes.subarray(prev, c));
    prev = c;
  }
  reader.end();
  return { records, reader };
}

const CSV = Buffer.from([
  '"_serial","_time","host","_raw"',
  '0,"2026-03-14T09:02:11.000+01:00","srx-hq","<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: user ""q"", a,b"',
  '1,2026-03-14T09:03:11Z,srx-hq,"IKE_VPN_UP_ALARM_USER: forged',
  '<30>Mar 14 09:03:12 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: second"',
  '2,x,srx-hq,noise',
  '3,2026-03-14T09:04:11Z,srx-hq,"IKE_VPN_UP_ALARM_USER: text" after quote',
  '4,2026-03-14T09:05:11Z,srx-hq,IKE_VPN_UP_ALARM_USER: bare " quote',
  '',
  '5,2026-03-14T09:06:11Z,srx-hq,"IKE_VPN_DOWN_ALARM_USER: last, no line break"',
].join('\r\n'));

test('CSV (RFC 4180): quoted commas, "" quotes and line breaks inside a field; broken rows counted with their line; any chunking', (t) => {
  const expected = [
    { lineNo: 2, text: '<30>Mar 14 09:02:11 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: user "q", a,b', time: Date.UTC(2026, 2, 14, 8, 2, 11) },
    { lineNo: 3, text: 'IKE_VPN_UP_ALARM_USER: forged\r\n<30>Mar 14 09:03:12 srx-hq iked[1]: IKE_VPN_UP_ALARM_USER: second', time: Date.UTC(2026, 2, 14, 9, 3, 11) },
    { lineNo: 9, text: 'IKE_VPN_DOWN_ALARM_USER: last, no line break', time: Date.UTC(2026, 2, 14, 9, 6, 11) },
  ];
  fc.assert(
    fc.property(fc.array(fc.nat({ max: CSV.length }), { maxLength: 6 }), (cuts) => {
      const { records, reader } = readCsv(CSV, [...new Set(cuts)].sort((a, b) => a - b));
      const got = records.map((r) => ({ lineNo: r.lineNo, text: r.text.toString(), time: r.recorded.time }));
      return JSON.stringify(got) === JSON.stringify(expected)
        && reader.records.read === 6 && reader.records.malformed === 2 && reader.records.badTime === 0
        && JSON.stringify(reader.records.examples) === JSON.stringify(['x.csv:6: text after the closing quote of a field', 'x.csv:7: a quote inside an unquoted field']);
    }),
    { numRuns: 400 },
  );
  const { records } = readCsv(CSV);
  t.deepEqual(records[0]!.recorded, { host: 'srx-hq', time: Date.UTC(2026, 2, 14, 8, 2, 11) });
});

test('CSV: a quote never closed is malformed with the line it opened on; an oversized record is dropped', (t) => {
  const open = readCsv(Buffer.from('_time,_raw\n2026-03-14T09:00:00Z,"IKE_VPN_UP_ALARM_USER: x\nmore\nand more'));
  t.is(open.records.length, 0);
  t.deepEqual(open.reader.records.examples, ['x.csv:2: a quoted field opened on line 2 is never closed']);
  const big = readCsv(Buffer.from(`_raw\n"IKE_VPN_UP_ALARM_USER: ${'x'.repeat(500)}"\nIKE_VPN_UP_ALARM_USER: ok\n`), [], {}, 100);
  t.deepEqual(big.records.map((r) => r.text.toString()), ['IKE_VPN_UP_ALARM_USER: ok']);
  t.is(big.reader.counts.oversized, 1);
});

test('CSV: random input never throws', (t) => {
  const alphabet = fc.constantFrom('"', ',', '\n', '\r', 'a', 'IKE_VPN_UP_ALARM_USER', '""');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 50 }), fc.array(fc.nat(), { maxLength: 4 }), (parts, cuts) => {
      const bytes = Buffer.from(`_raw,_time\n${parts.join('')}`);
      readCsv(bytes, [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b));
      return true;
    }),
    { numRuns: 1000 },
  );
  t.pass();
});
