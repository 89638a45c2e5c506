import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat, parseFieldOption, parseFormatOption, type DetectedFormat } from '../../src/replay/input-format.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { pcap } from '../helpers/pcap-writer.js';
import { tempDir } from '../helpers/tmp.js';

const formats = join(repoRoot, 'fixtures', 'replay-formats');
const head = (file: string) => readFileSync(join(formats, file));

test('detect: real tools\' files are told apart by content', (t) => {
  const table: Array<[string, DetectedFormat]> = [
    ['rsyslog-traditional.log', 'syslog'], ['rsyslog-rfc3339.log', 'syslog'], ['syslog-ng.log', 'syslog'],
    ['journal-short-full.log', 'syslog'], ['journal-short-unix.log', 'syslog'],
    ['journal.ndjson', 'json'], ['graylog.ndjson', 'json'], ['elastic.ndjson', 'json'],
    ['splunk.csv', 'csv'], ['udp-lo.pcap', 'pcap'], ['tcp-octet.pcap', 'pcap'],
  ];
  for (const [file, kind] of table) t.is(detectFormat(head(file), file), kind, file);
  t.is(detectFormat(Buffer.from('# comment only\n\n'), 'x'), 'syslog');
  t.is(detectFormat(Buffer.alloc(0), 'x'), 'syslog');
  t.is(detectFormat(Buffer.from('when,where,text\n1,2,3\n'), 'x', { raw: 'text' }), 'csv');
});

const refused: Array<[string, Buffer, RegExp]> = [
  ['random bytes', randomBytes(4096), /control characters: it is binary data/],
  ['a journald file', Buffer.concat([Buffer.from('LPKSHHRH'), randomBytes(200)]), /systemd journal file.*journalctl --file FILE -o json/],
  ['a zip archive', Buffer.concat([Buffer.from('PK\u0003\u0004'), randomBytes(100)]), /zip archive/],
  ['an SQLite state file', Buffer.concat([Buffer.from('SQLite format 3\u0000'), Buffer.alloc(100)]), /SQLite database/],
  ['UTF-16 text', Buffer.from('\ufeffMar 14 09:02:11 srx-hq iked: x\n', 'utf16le'), /UTF-16 text.*iconv/],
  ['a JSON array', Buffer.from('[{"message": "x"}]\n'), /one JSON document \(an array\).*jq -c/],
  ['prose', Buffer.from('Dear admin,\nplease find the logs attached.\nRegards\n'), /:1: none of the first 3 lines looks like syslog.*--format syslog/],
];
for (const [what, bytes, message] of refused) {
  test(`detect: ${what} is refused with ERR_INPUT_FORMAT`, (t) => {
    const error = t.throws(() => detectFormat(bytes, 'capture.bin'), { code: 'ERR_INPUT_FORMAT' as never });
    t.regex(error!.message, message);
    t.regex(error!.message, /capture\.bin/);
  });
}

test('detect: text with some kmd garbage bytes is still text', (t) => {
  const line = Buffer.concat([Buffer.from('<30>Mar 14 10:01:00 srx kmd[1]: KMD_VPN_UP_ALARM_USER: Local IKE-ID: vpn'), Buffer.from([0xff, 0x01, 0x02, 0x00]), Buffer.from(', x\n')]);
  t.is(detectFormat(Buffer.concat(Array(50).fill(line)), 'x'), 'syslog');
});

test('flags: --field and --format are checked', (t) => {
  t.deepEqual(parseFieldOption('host=host.hostname', parseFieldOption('raw=msg')), { raw: 'msg', host: 'host.hostname' });
  t.deepEqual(parseFieldOption('time='), { time: '' });
  t.throws(() => parseFieldOption('message'), { code: 'ERR_USAGE' as never, message: /ROLE=NAME/ });
  t.throws(() => parseFieldOption('user=x'), { code: 'ERR_USAGE' as never });
  t.is(parseFormatOption('csv'), 'csv');
  t.throws(() => parseFormatOption('xml'), { code: 'ERR_USAGE' as never, message: /auto, syslog, json, csv, pcap/ });
});

test('replay: binary input fails with ERR_INPUT_FORMAT and exit 1, not "0 events"', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'capture.bin');
  writeFileSync(file, randomBytes(100_000));
  const r = await runCli(['replay', '--dry-run', file]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ptim-bridge: ERR_INPUT_FORMAT: .*capture\.bin is not a capture the bridge can read/);
  t.is(r.stdout, '');
});

test('replay: --format pcap on text, and a JSON export without a known text field, are clear errors', async (t) => {
  const dir = tempDir(t);
  const json = join(dir, 'export.ndjson');
  writeFileSync(json, '{"msg":"IKE_VPN_UP_ALARM_USER: x","ts":1}\n');
  const [forced, unknown, named, badField] = await Promise.all([
    runCli(['replay', '--dry-run', '--format', 'pcap', join(formats, 'source.log')]),
    runCli(['replay', '--dry-run', json]),
    runCli(['replay', '--dry-run', '--field', 'raw=msg', '--field', 'time=ts', json]),
    runCli(['replay', '--dry-run', '--field', 'nonsense', json]),
  ]);
  t.is(forced.code, 1);
  t.regex(forced.stderr, /ERR_INPUT_FORMAT: .*source\.log is not a pcap or pcapng file \(--format pcap\)/);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /ERR_INPUT_FORMAT: .*export\.ndjson:1: a JSON record without a known text field .*its fields: msg, ts.*--field raw=NAME/);
  t.is(named.code, 0, named.stderr);
  t.regex(named.stderr, /input: json\/custom 1/);
  t.is(badField.code, 2);
  t.regex(badField.stderr, /ERR_USAGE/);
});

test('replay: a pcap is recognised even when named .log; a CSV without _raw says which column to name', async (t) => {
  const dir = tempDir(t);
  const misnamed = join(dir, 'capture.log');
  writeFileSync(misnamed, pcap([]));
  const csv = join(dir, 'export.csv');
  writeFileSync(csv, 'time,text\n2026-03-14T09:00:00Z,x\n');
  const [p, c] = await Promise.all([runCli(['replay', '--dry-run', misnamed]), runCli(['replay', '--dry-run', '--format', 'csv', csv])]);
  t.is(p.code, 0, p.stderr);
  t.regex(p.stderr, /input: pcap 1/);
  t.is(c.code, 1);
  t.regex(c.stderr, /ERR_INPUT_FORMAT: .*export\.csv:1: the CSV header has no column _raw .*columns: time, text\. Name it with --field raw=COLUMN/);
});
