import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { SECRET_ENV } from '../../src/commands/delivery-options.js';
import { CLIENT_ID, SECRET, startSim } from '../bridge/bridge-process.js';
import { repoRoot, runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * deploy/ptim-bridge.service: systemd's own checker accepts it, its hardening scores as such, its
 * user exists once its sysusers file is applied, and its commands, run in the order systemd runs
 * them, start, report ready and stop a real bridge. (systemd itself cannot run in the test's
 * container; `systemd-analyze verify` and `security --offline` need no running systemd.)
 */

const UNIT = join(repoRoot, 'deploy', 'ptim-bridge.service');
const CONFIG_PATH = '/etc/ptim-bridge/ptim-bridge.yaml';
const unitText = readFileSync(UNIT, 'utf8');

/** `Key=value` settings of the unit's [Service] section, in order (keys repeat). */
function serviceSettings(): Array<[string, string]> {
  const section = /^\[Service\]\n([\s\S]*?)(?=^\[)/m.exec(unitText)![1]!;
  return section.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
function setting(key: string): string {
  const found = serviceSettings().filter(([k]) => k === key);
  if (found.length !== 1) throw new Error(`expected one ${key}= in the unit, found ${found.length}`);
  return found[0]![1];
}

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).error === undefined;
const hasSysusers = spawnSync('systemd-sysusers', ['--version']).error === undefined;
const absent = (tool: string) => ` (skipped: ${tool} is not installed here; .ci/run installs Debian's systemd package)`;

/** The unit with its `ptim-bridge` commands pointed at this checkout's launcher: verify checks that each command exists. */
function unitForThisMachine(dir: string): string {
  const file = join(dir, 'ptim-bridge.service');
  writeFileSync(file, unitText.replace(/^(Exec[A-Za-z]*=)ptim-bridge /gm, `$1${join(repoRoot, 'bin', 'ptim-bridge.js')} `));
  return file;
}

(hasSystemdAnalyze ? test : test.skip)(`systemd-analyze verify accepts the unit without a warning${hasSystemdAnalyze ? '' : absent('systemd-analyze')}`, (t) => {
  const file = unitForThisMachine(tempDir(t));
  t.not(readFileSync(file, 'utf8'), unitText, 'the commands were pointed somewhere that exists');
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  // Unknown keys and bad values are only warnings to verify: any output about the unit fails.
  t.is(r.stderr.split('\n').filter((l) => l.includes('ptim-bridge')).join('\n'), '');
});

(hasSystemdAnalyze ? test : test.skip)(`systemd-analyze verify would catch a broken unit (the check can fail)${hasSystemdAnalyze ? '' : absent('systemd-analyze')}`, (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'ptim-bridge.service');
  writeFileSync(file, readFileSync(unitForThisMachine(dir), 'utf8').replace('ProtectSystem=strict', 'ProtectSytem=strict'));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
  t.regex(r.stderr, /Unknown key 'ProtectSytem'/);
});

(hasSystemdAnalyze ? test : test.skip)(`systemd-analyze security rates the unit's exposure 2.0 or lower ("OK")${hasSystemdAnalyze ? '' : absent('systemd-analyze')}`, (t) => {
  const file = unitForThisMachine(tempDir(t));
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', '--no-pager', file], { encoding: 'utf8' });
  const overall = /Overall exposure level for ptim-bridge\.service: ([\d.]+)/.exec(r.stdout);
  t.truthy(overall, r.stdout + r.stderr);
  t.true(Number(overall![1]) <= 2.0, `exposure ${overall![1]}`);
  t.is(r.status, 0);
});

test('the unit runs unprivileged with only CAP_NET_BIND_SERVICE, in a read-only system, with its state directory', (t) => {
  t.is(setting('User'), 'ptim-bridge');
  t.is(setting('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  t.is(setting('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  t.is(setting('NoNewPrivileges'), 'yes');
  t.is(setting('ProtectSystem'), 'strict');
  t.is(setting('StateDirectory'), 'ptim-bridge');
  t.is(setting('ExecReload'), '/bin/kill -HUP $MAINPID');
  t.is(setting('EnvironmentFile'), '/etc/ptim-bridge/ptim-bridge.env');
  t.regex(setting('ExecStartPost'), /^ptim-bridge health --config \/etc\/ptim-bridge\/ptim-bridge\.yaml --wait \d+$/);
  t.is(setting('RestartPreventExitStatus'), '2', 'a bad config (exit 2) is not restarted in a loop');
});

test('the example config fits the unit: state under StateDirectory=, metrics.listen for the readiness wait', (t) => {
  const example = parseYaml(readFileSync(join(repoRoot, 'examples', 'ptim-bridge.yaml'), 'utf8')) as { sessions: { state: string }; metrics: { listen?: string } };
  t.true(example.sessions.state.startsWith(`/var/lib/${setting('StateDirectory')}/`), example.sessions.state);
  t.truthy(example.metrics.listen);
});

test('the environment file names the variable the bridge reads the JIMS secret from, and no value', (t) => {
  const lines = readFileSync(join(repoRoot, 'deploy', 'ptim-bridge.env'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.deepEqual(lines, [`${SECRET_ENV}=`]);
});

(hasSysusers ? test : test.skip)(`the sysusers file creates the unit's User= and Group= with no login shell${hasSysusers ? '' : absent('systemd-sysusers')}`, (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'etc'));
  const r = spawnSync('systemd-sysusers', [`--root=${root}`, join(repoRoot, 'deploy', 'ptim-bridge.sysusers.conf')], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${setting('User')}:`));
  t.truthy(passwd);
  t.regex(passwd!, /:\/usr\/sbin\/nologin$/);
  t.true(readFileSync(join(root, 'etc', 'group'), 'utf8').split('\n').some((l) => l.startsWith(`${setting('Group')}:`)));
});

test('the unit\'s commands in systemd\'s order: config check, run, health --wait (ready), ExecReload (SIGHUP reload), SIGTERM stops with exit 0', async (t) => {
  const dir = tempDir(t);
  const { sim, caFile } = await startSim(t, dir);
  const metricsPort = await freePort();
  const config = join(dir, 'ptim-bridge.yaml');
  writeFileSync(config, JSON.stringify({
    listen: ['tcp://127.0.0.1:0', 'udp://127.0.0.1:0'],
    senders: { allow: ['127.0.0.1/32'] },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    sessions: { state: join(dir, 'state.db') },
    jims: { url: sim.url, clientId: CLIENT_ID, ca: caFile },
  }));
  // What EnvironmentFile= gives the service: the shipped file, with the secret filled in.
  const env = Object.fromEntries(readFileSync(join(repoRoot, 'deploy', 'ptim-bridge.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), SECRET]));
  const args = (key: string) => {
    const words = setting(key).split(' ');
    t.is(words[0], 'ptim-bridge', `${key} runs ptim-bridge`);
    return words.slice(1).map((w) => (w === CONFIG_PATH ? config : w));
  };

  const pre = await runCli(args('ExecStartPre'), { env, cwd: dir });
  t.is(pre.code, 0, pre.stderr);
  t.is(pre.stdout, '', '--quiet');

  const main = startCli(args('ExecStart'), { env, cwd: dir });
  let out = '';
  main.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  main.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => main.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (main.exitCode === null && main.signalCode === null) main.kill('SIGKILL');
  });

  const post = await runCli(args('ExecStartPost'), { env, cwd: dir });
  t.is(post.code, 0, `${post.stderr}\n${out}`);
  t.like(JSON.parse(post.stdout) as object, { ok: true });
  t.is(main.exitCode, null, 'the bridge runs');

  // systemctl reload: ExecReload with $MAINPID; the bridge reads its config again and keeps running.
  const [kill, ...killArgs] = setting('ExecReload').replace('$MAINPID', String(main.pid)).split(' ');
  const reload = spawnSync(kill!, killArgs, { encoding: 'utf8' });
  t.is(reload.status, 0, reload.stderr);
  await waitUntil(() => /"event":"reloaded"/.test(out), 20_000, 'the reload logged');
  t.is(main.exitCode, null, 'still running after the reload');
  const again = await runCli(args('ExecStartPost'), { env, cwd: dir });
  t.is(again.code, 0, again.stderr);

  t.is(setting('KillSignal'), 'SIGTERM');
  main.kill('SIGTERM');
  t.deepEqual(await exit, { code: 0, signal: null }, out);
});

/** A port nothing listens on (bound, then released), for metrics.listen: health must know it in advance. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
