#!/usr/bin/env node
// How `ptim-bridge replay --dry-run` compares with syslog-ng doing the same work on the same
// capture, in one run each, both pinned to one core (taskset when available): read 1,000,000 mixed
// lines (~1 % VPN alarms), pick out the VPN alarms (a substring filter, then the tags), read their fields (gateway, VPN,
// tunnel id, peer, user, remote traffic selector) with one regex and write one JSON object per
// alarm. The bridge does more on top (envelope, field-integrity checks, normalisation, the session
// table in SQLite), syslog-ng reads a pipe (its stdin() source cannot read a regular file) and
// does not decide connect/rekey; so this is a floor on the bridge's edge, not an exact match.
// Target (issue 10): the bridge >= 3x syslog-ng's lines/s, wall time process start to exit.
// Needs syslog-ng (Debian: apt-get install syslog-ng-core); without it the bench says so and exits 0.
// Env: BENCH_MIXED_LINES (default 1,000,000), BENCH_RUNS (median of N, default 3), BENCH_PIN=0.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The command users run: bin/ptim-bridge.js, which loads the bundled CLI (dist/bundle/).
const main = join(root, 'bin', 'ptim-bridge.js');
if (!existsSync(join(root, 'dist', 'bundle', 'main.js'))) {
  process.stderr.write('dist/bundle/main.js is missing: run `npm run bench` (it builds first) or `npm run build`.\n');
  process.exit(2);
}
const syslogNg = spawnSync('sh', ['-c', 'command -v syslog-ng'], { encoding: 'utf8' }).stdout.trim();
if (syslogNg === '') {
  process.stdout.write('# replay-vs-syslog-ng: skipped, syslog-ng is not installed (Debian: apt-get install syslog-ng-core)\n');
  process.exit(0);
}
const lines = Number(process.env.BENCH_MIXED_LINES ?? 1_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const pin = process.env.BENCH_PIN !== '0' && spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? 'taskset -c 0 ' : '';

// The fields the bridge reads, in the order the alarm writes them; `.*?` skips what the bridge
// does not need (tunnel type, IKE ids, the local selector).
const FIELDS =
  String.raw`(?<tag>(?:IKE|KMD)_VPN_(?:UP|DOWN)_ALARM_USER): VPN \S+ from (?<peer>[^ ]+) is (?<state>up|down)\. Local-ip: [^,]*, gateway name: (?<gateway>[^,]*), vpn name: (?<vpn>[^,]*), tunnel-id: (?<tunnel>\d+),.*? AAA username: (?<user>[^,]*), VR id: [^,]*, Traffic-selector: [^,]*, Traffic-selector local ID: .*?, Traffic-selector remote ID: (?<ts>.*?) ?, SA Type:`;

const dir = mkdtempSync(join(tmpdir(), 'ptim-bench-sng-'));
try {
  const capture = join(dir, 'mixed.log');
  const gen = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'generate-capture.ts'), '--lines', String(lines), '--seed', '1', '--out', capture], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (gen.status !== 0) throw new Error('generate-capture failed');
  // The capture just written is flushed to disk over the next half minute; the kernel's writeback
  // would compete with whichever of the two runs first. sync waits for it.
  spawnSync('sync', [], { stdio: 'ignore' });
  const conf = join(dir, 'syslog-ng.conf');
  writeFileSync(
    conf,
    `@version: 3.38
options { stats-freq(0); log-msg-size(65536); };
source s_in { stdin(flags(no-parse) log-msg-size(65536)); };
filter f_vpn { message("_VPN_" type(string) flags(substring)); };
parser p_vpn { regexp-parser(prefix(".vpn.") patterns('${FIELDS}')); };
destination d_out { file("/dev/stdout" template("$(format-json --key .vpn.*)\\n")); };
log { source(s_in); filter(f_vpn); parser(p_vpn); destination(d_out); };
`,
  );
  const sngArgs = `-F --no-caps -f ${conf} -R ${join(dir, 'persist')} -p ${join(dir, 'pid')} -c ${join(dir, 'ctl')}`;
  const sng = measure(`cat ${capture} | ${pin}${syslogNg} ${sngArgs} > ${join(dir, 'sng.out')}`);
  const sngStart = measure(`: | ${pin}${syslogNg} ${sngArgs} > /dev/null`);
  const sngEvents = countLines(join(dir, 'sng.out'));
  const bridge = measure(`${pin}${process.execPath} ${main} replay --dry-run --no-progress --now 2026-03-15T00:00:00Z ${capture} > ${join(dir, 'bridge.out')}`);
  const bridgeStart = measure(`: > ${join(dir, 'empty.log')} && ${pin}${process.execPath} ${main} replay --dry-run --no-progress ${join(dir, 'empty.log')} > /dev/null`);
  const bridgeEvents = countLines(join(dir, 'bridge.out'));
  const rate = (ms) => Math.round((lines * 1000) / ms);
  const ratio = sng / bridge;
  process.stdout.write(`syslog-ng-mixed: ${rate(sng)} lines/s\n`);
  process.stdout.write(`syslog-ng-start-up: ${Math.round(sngStart)} ms\n`);
  process.stdout.write(`replay-dry-run-mixed-vs-syslog-ng: ${rate(bridge)} lines/s\n`);
  process.stdout.write(`replay-start-up: ${Math.round(bridgeStart)} ms\n`);
  process.stdout.write(`replay-vs-syslog-ng: ${ratio.toFixed(2)} x\n`);
  process.stdout.write(`# ${lines} lines, median of ${runs}${pin ? ', pinned to one core' : ''}, wall time; syslog-ng wrote ${sngEvents} JSON objects, the bridge ${bridgeEvents} events; target >= 3x ${ratio >= 3 ? 'met' : 'NOT met'}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Median wall time (ms) of a shell command over `runs` runs. */
function measure(command) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) throw new Error(`${command} exited ${r.status}: ${r.stderr}`);
  }
  return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

function countLines(file) {
  const r = spawnSync('wc', ['-l', file], { encoding: 'utf8' });
  return Number(r.stdout.trim().split(/\s+/)[0]);
}
