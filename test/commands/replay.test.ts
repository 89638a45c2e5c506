import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { repoRoot, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const NOW = '2026-03-15T00:00:00Z';
const iked = join(repoRoot, 'fixtures', 'replay-iked.log');

test('replay: delivering without JIMS settings is a config error that names the flag', async (t) => {
  const r = await runCli(['replay', iked], { env: { PTIM_JIMS_CLIENT_SECRET: undefined } });
  t.is(r.code, 2);
  t.regex(r.stderr, /ERR_CONFIG_INVALID.*--jims-url/s);
  t.is(r.stdout, '');
});

test('replay: a missing file fails before any output', async (t) => {
  const r = await runCli(['replay', '--dry-run', iked, join(repoRoot, 'fixtures', 'no-such-file.log')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ERR_INPUT_UNREADABLE: .*No such file/);
  t.is(r.stdout, '');
});

test('replay: a bad --now is a usage error', async (t) => {
  const r = await runCli(['replay', '--dry-run', '--now', 'yesterday', iked]);
  t.is(r.code, 2);
  t.regex(r.stderr, /ERR_USAGE.*--now/);
});

test('replay: --help shows examples', async (t) => {
  const r = await runCli(['replay', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Examples:\n\s+\$ ptim-bridge replay --dry-run/);
});

test('replay: gzip (by content, any name), stdin and several files give the same events as the plain file', async (t) => {
  const dir = tempDir(t);
  const gz = join(dir, 'capture.bin');
  writeFileSync(gz, gzipSync(readFileSync(iked)));
  const [plain, zipped, stdin, zippedStdin, two] = await Promise.all([
    runCli(['replay', '--dry-run', '--now', NOW, iked]),
    runCli(['replay', '--dry-run', '--now', NOW, gz]),
    runCli(['replay', '--dry-run', '--now', NOW, '-'], { input: readFileSync(iked) }),
    runCli(['replay', '--dry-run', '--now', NOW, '-'], { input: readFileSync(gz) }),
    runCli(['replay', '--dry-run', '--now', NOW, iked, gz]),
  ]);
  t.is(plain.code, 0, plain.stderr);
  t.true(plain.stdout.split('\n').length > 10);
  t.is(zipped.stdout, plain.stdout);
  t.is(stdin.stdout, plain.stdout);
  t.is(zippedStdin.stdout, plain.stdout);
  // Both files go through one session table: the second copy's UPs find their sessions live
  // (rekeys), so only the first copy's events equal the single file's.
  t.true(two.stdout.startsWith(plain.stdout));
  t.true(two.stdout.length > plain.stdout.length);
  t.regex(two.stderr, /^replay: 2 files, 50 lines/);
  t.regex(plain.stderr, /^replay: 1 file, 25 lines/);
  t.regex(plain.stderr, /no-user {2}1/);
  t.regex(plain.stderr, /near misses .*: 1\n {2}\| IKE_VPN_UP_ALARM_USER: VPN ra-vpn from 198\.51\.100\.99/);
  // A line without any time takes --now; every event of a file has sender "file".
  const events = plain.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user: string; time: string; sender: string });
  t.is(events.find((e) => e.user === 'grace')?.time, NOW.replace('Z', '.000Z'));
  t.true(events.every((e) => e.sender === 'file'));
});

test('replay: a corrupt gzip is a clear error', async (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.gz');
  writeFileSync(bad, Buffer.concat([gzipSync(readFileSync(iked)).subarray(0, 200), Buffer.from('not gzip at all')]));
  const r = await runCli(['replay', '--dry-run', bad]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ERR_INPUT_UNREADABLE: Cannot read capture .*bad\.gz/);
});
