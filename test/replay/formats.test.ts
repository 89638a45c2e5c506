import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Replay of files real tools wrote (scripts/make-format-fixtures.sh made them from
 * fixtures/replay-formats/source.log): rsyslog and syslog-ng files, Graylog-, Elastic- and
 * Splunk-shaped exports, journalctl -o json/short-full/short-unix, tcpdump captures of UDP and TCP
 * (LF and octet-counted) syslog, xz/bzip2/zstd. Each must print exactly expected/<file>.ndjson and
 * a summary equal to expected/<file>.summary.txt (speed figures removed).
 * Refresh after an intended change: UPDATE_GOLDEN=1 npx ava test/replay/formats.test.ts, and review.
 */
const NOW = '2026-03-15T00:00:00Z';
const dir = join(repoRoot, 'fixtures', 'replay-formats');
const expectedDir = join(dir, 'expected');
const config = join(dir, 'config.yaml');
const update = process.env.UPDATE_GOLDEN === '1';
const captures = readdirSync(dir).filter((f) => !['source.log', 'config.yaml', 'expected'].includes(f)).sort();

/** A tool the replay needs for a file: compressed captures are decompressed by the system's tool. */
const TOOL_OF: Record<string, string> = { xz: 'xz', bz2: 'bzip2', zst: 'zstd' };
const hasTool = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** .ci/run installs these tools: CI never skips; a developer machine without one skips its files. */
function testFor(file: string): typeof test.skip {
  const tool = TOOL_OF[file.split('.').at(-1)!];
  return tool === undefined || hasTool(tool) || process.env.CI ? test : test.skip;
}

// One CLI run per file and flags, shared by the tests that look at it (each run starts a process).
const runs = new Map<string, Promise<CliResult>>();
function replay(file: string, extra: string[] = []): Promise<CliResult> {
  const args = ['replay', '--dry-run', '--now', NOW, '--config', config, ...extra, join(dir, file)];
  const key = args.join('\u0000');
  if (!runs.has(key)) runs.set(key, runCli(args));
  return runs.get(key)!;
}

const events = (stdout: string): PtimEvent[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PtimEvent);
const brief = (e: PtimEvent) => `${e.state} ${e.user}@${e.domain} ${e.ip} ${e.time} ${e.device}`;

test('formats: the fixtures are there', (t) => {
  t.true(captures.length >= 18, captures.join(' '));
});

for (const file of captures) {
  testFor(file)(`golden: ${file}`, async (t) => {
    const r = await replay(file);
    t.is(r.code, 0, r.stderr);
    const summary = r.stderr.replace(/ in [\d.]+ s: [\d,]+ lines\/s/, '').replaceAll(repoRoot, '');
    const eventsFile = join(expectedDir, `${file}.ndjson`);
    const summaryFile = join(expectedDir, `${file}.summary.txt`);
    if (update) {
      mkdirSync(expectedDir, { recursive: true });
      writeFileSync(eventsFile, r.stdout);
      writeFileSync(summaryFile, summary);
      t.log(`updated ${eventsFile}`);
      return;
    }
    if (!existsSync(eventsFile)) return t.fail(`${eventsFile} is missing: UPDATE_GOLDEN=1 npx ava test/replay/formats.test.ts, then review`);
    t.deepEqual(r.stdout.split('\n'), readFileSync(eventsFile, 'utf8').split('\n'));
    t.is(summary, readFileSync(summaryFile, 'utf8'));
    return undefined;
  });
}

// What the firewalls said (source.log), read back out of every tool's file. srx-hq keeps Paris time,
// zone-less everywhere it is zone-less, so every form must give the same events for it. (srx-br's
// zone-less times are stamped with the relays' own zone by rsyslog's RFC 3339 file, syslog-ng's
// ISODATE and what was built on them: the golden files show that; here only the zone-less forms.)
const STORY = [
  'connect alice@corp.example 10.20.0.5 2026-03-14T08:02:11.000Z srx-hq',
  'connect carol@CORP 10.20.0.7 2026-03-14T08:05:00.000Z srx-hq',
  'connect bob@branch.example 10.30.0.9 2026-03-14T08:15:00.000Z srx-br',
  'rekey alice@corp.example 10.20.0.5 2026-03-14T09:02:11.000Z srx-hq',
  'disconnect alice@corp.example 10.20.0.5 2026-03-14T10:40:02.000Z srx-hq',
];

for (const [file, kind] of [
  ['rsyslog-traditional.log', undefined], ['syslog-ng.log', undefined], ['journal.ndjson', 'json/journal'],
  ['rsyslog-rfc3339.log', undefined], ['graylog.ndjson', 'json/graylog'], ['elastic.ndjson', 'json/elastic'], ['splunk.csv', 'csv/splunk'],
  ['udp-lo.pcap', 'pcap'], ['udp-any.pcap', 'pcap'], ['tcp-lf.pcap', 'pcap'], ['tcp-octet.pcap', 'pcap'],
  ['journal-short-full.log', undefined], ['journal-short-unix.log', undefined],
] as const) {
  test(`formats: ${file} gives the story's events${kind ? ` (read as ${kind})` : ''}`, async (t) => {
    const r = await replay(file);
    t.is(r.code, 0, r.stderr);
    const got = events(r.stdout).map(brief);
    const hq = (lines: readonly string[]) => lines.filter((l) => l.endsWith('srx-hq'));
    t.deepEqual(hq(got).slice(0, 4), hq(STORY), 'srx-hq, in order');
    if (kind) t.regex(r.stderr, new RegExp(`^input: ${kind.replace('/', '\\/')} 1$`, 'm'));
    // The line logged by sshd claims a VPN event: refused as live, in every form that keeps the daemon.
    t.regex(r.stderr, /foreign-daemon {2}1 /);
    if (['rsyslog-traditional.log', 'syslog-ng.log', 'journal.ndjson', 'udp-lo.pcap', 'tcp-lf.pcap'].includes(file)) {
      t.true(got.includes(STORY[2]!), `srx-br read in America/New_York: ${got.join('\n')}`);
    }
  });
}

test('formats: the journal keeps kmd garbage bytes only in -o json (as a byte list): bob is there, short forms show a blob', async (t) => {
  const json = events((await replay('journal.ndjson')).stdout);
  t.true(json.some((e) => e.user === 'bob'));
  t.true(readFileSync(join(dir, 'journal.ndjson'), 'utf8').includes('"MESSAGE":[75,77,68,95'), 'journalctl wrote the message as bytes');
  for (const file of ['journal-short-full.log', 'journal-short-unix.log']) t.false(events((await replay(file)).stdout).some((e) => e.user === 'bob'), file);
});

test('formats: standard input is detected like a file (journalctl -o json | ptim-bridge replay -)', async (t) => {
  const piped = await runCli(['replay', '--dry-run', '--now', NOW, '--config', config, '-'], { input: readFileSync(join(dir, 'journal.ndjson')) });
  t.is(piped.code, 0, piped.stderr);
  t.is(piped.stdout, (await replay('journal.ndjson')).stdout);
  t.regex(piped.stderr, /^input: json\/journal 1$/m);
});

test('formats: a datagram with two VPN lines gives two events from the pcap (tcpdump of a real datagram) with limits.splitDatagramLines; by default it is one message, refused', async (t) => {
  const got = events((await replay('udp-lo.pcap')).stdout).map((e) => `${e.state} ${e.user} ${e.ip}`);
  t.true(got.includes('connect dave 10.20.0.8'));
  t.true(got.includes('connect erin 10.20.0.9'));
  const plain = join(tempDir(t), 'config.yaml');
  writeFileSync(plain, readFileSync(config, 'utf8').replace(/^limits:\n.*\n/m, ''));
  t.notRegex(readFileSync(plain, 'utf8'), /splitDatagramLines/);
  const r = await runCli(['replay', '--dry-run', '--now', NOW, '--config', plain, join(dir, 'udp-lo.pcap')]);
  t.is(r.code, 0, r.stderr);
  const unsplit = events(r.stdout).map((e) => e.user);
  t.false(unsplit.includes('dave') || unsplit.includes('erin'), r.stdout);
  t.regex(r.stderr, /control-characters\s+1/);
});

test('formats: logger over TCP (octet counting and LF) is reassembled and framed', async (t) => {
  const octet = events((await replay('tcp-octet.pcap')).stdout);
  const lf = events((await replay('tcp-lf.pcap')).stdout);
  t.true(octet.some((e) => e.user === 'frank' && e.device === 'srx-lab'));
  t.true(lf.some((e) => e.user === 'grace' && e.device === 'srx-lab'));
});

for (const [ext, tool] of Object.entries(TOOL_OF)) {
  testFor(`x.${ext}`)(`formats: ${tool}-compressed capture (made by the ${tool} CLI) gives the plain file's events`, async (t) => {
    const [plain, packed] = await Promise.all([replay('rsyslog-traditional.log'), replay(`rsyslog-traditional.log.${ext}`)]);
    t.is(packed.code, 0, packed.stderr);
    t.is(packed.stdout, plain.stdout);
  });
}

test('formats: hostile exports: a line break or NUL decoded from JSON or CSV is refused, never split into two lines', async (t) => {
  for (const file of ['splunk-hostile.csv', 'elastic-hostile.ndjson']) {
    const r = await replay(file);
    t.is(r.code, 0, r.stderr);
    const got = events(r.stdout);
    t.false(got.some((e) => e.user === 'root' || e.user === 'eve' || e.ip === '10.20.0.99'), `${file}: ${r.stdout}`);
    t.regex(r.stderr, /control-characters {2}2 /, file);
    // The forged second line is shown escaped, not as a line of the report.
    t.regex(r.stderr, /AAA username: eve\\x0a<30>Mar 14 09:02:12/);
  }
  t.deepEqual(events((await replay('splunk-hostile.csv')).stdout).map((e) => e.user), ['heidi']);
});

test('formats: --format and --field choose what detection would not', async (t) => {
  // The Splunk CSV read with its host column turned off and the time taken from the text.
  const r = await replay('splunk.csv', ['--format', 'csv', '--field', 'time=', '--field', 'host=source']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(events(r.stdout).map(brief).filter((l) => l.endsWith('srx-hq')).slice(0, 2), STORY.slice(0, 2));
  // Graylog's message read as the raw text under another role name layout: custom fields.
  const custom = await replay('graylog.ndjson', ['--field', 'raw=message', '--field', 'host=source', '--field', 'time=timestamp', '--field', 'app=application_name']);
  t.is(custom.stdout, (await replay('graylog.ndjson')).stdout);
});
