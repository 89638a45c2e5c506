import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { repoRoot } from '../helpers/cli.js';

/**
 * The package as users get it: `npm pack` of this checkout (prepack/prepare build dist/), installed
 * with `npm install -g --prefix <temp>`, run from a folder that is not the checkout.
 *
 * Packed from a copy of the working tree (tracked and untracked files, as `npm pack` here would see
 * them; dist/ and node_modules/ left out), so that the checkout's own dist/ is never rebuilt under
 * someone else's feet.
 *
 * better-sqlite3 is a native addon and builds from source for minutes when no prebuilt binary can be
 * fetched, so the install runs with --ignore-scripts and takes the addon the checkout already built
 * when the installed version is the checkout's (same version, same Node): the rest of the tree is
 * what npm installed. PTIM_PACKAGE_TEST_NATIVE=rebuild builds it in the install instead (CI with time).
 */

interface Installed {
  /** The installed `ptim-bridge` command. */
  bin: string;
  /** The installed package folder (…/lib/node_modules/ptim-bridge). */
  dir: string;
  /** Files in the tarball, without the leading `package/`. */
  files: string[];
  /** A folder that is neither the checkout nor the install: where the commands run. */
  cwd: string;
}

const work = mkdtempSync(join(tmpdir(), 'ptim-package-'));
let installed: Installed | undefined;

test.before('npm pack, then npm install -g --prefix of the tarball', async (t) => {
  t.timeout(10 * 60_000, 'pack (two TypeScript builds) and install on a loaded machine');
  const stage = join(work, 'stage');
  copyWorkingTree(stage);
  // tsc (the build in prepack/prepare) comes from the checkout's dev dependencies.
  symlinkSync(join(repoRoot, 'node_modules'), join(stage, 'node_modules'), 'dir');
  const out = join(work, 'out');
  mkdirSync(out);
  const packed = await npm(['pack', '--pack-destination', out, '--json'], stage);
  const tarball = join(out, (JSON.parse(packed) as Array<{ filename: string }>)[0]!.filename);
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));

  const prefix = join(work, 'prefix');
  const rebuild = process.env.PTIM_PACKAGE_TEST_NATIVE === 'rebuild';
  await npm(['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', ...(rebuild ? [] : ['--ignore-scripts']), tarball], work);
  const dir = join(prefix, 'lib', 'node_modules', 'ptim-bridge');
  if (!rebuild) provideSqliteAddon(dir);
  const cwd = join(work, 'elsewhere');
  mkdirSync(cwd);
  installed = { bin: join(prefix, 'bin', 'ptim-bridge'), dir, files, cwd };
});

test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('the tarball ships what runs and nothing else', (t) => {
  const { files } = installed!;
  for (const needed of ['package.json', 'README.md', 'bin/ptim-bridge.js', 'dist/bundle/main.js', 'patterns/junos-iked.yaml', 'patterns/junos-kmd.yaml', 'patterns/common.yaml', 'fixtures/demo/srx-vpn.log', 'examples/ptim-bridge.yaml', 'deploy/ptim-bridge.service', 'deploy/ptim-bridge.env', 'deploy/prometheus/ptim-bridge.rules.yml', 'deploy/grafana/ptim-bridge.dashboard.json']) {
    t.true(files.includes(needed), `${needed} is in the tarball`);
  }
  // The bundled CLI is what runs (scripts/bundle-cli.mjs); tsc's module-by-module dist/ is for benches.
  const unwanted = files.filter((f) => /^(src|test|bench|scripts|\.ci|node_modules)\//.test(f) || (f.startsWith('dist/') && !f.startsWith('dist/bundle/')) || f.endsWith('.map') || f.endsWith('.ts') || (f.startsWith('fixtures/') && !f.startsWith('fixtures/demo/')) || f === 'package-lock.json');
  t.deepEqual(unwanted, []);
});

test('the bundled packages\' licences ship with the bundle, and the package\'s own', (t) => {
  const { files, dir } = installed!;
  t.true(files.includes('LICENSE'), 'LICENSE is in the tarball');
  t.true(files.includes('dist/bundle/THIRD_PARTY_LICENSES.txt'), 'dist/bundle/THIRD_PARTY_LICENSES.txt is in the tarball');
  const text = readFileSync(join(dir, 'dist', 'bundle', 'THIRD_PARTY_LICENSES.txt'), 'utf8');
  // A few of the bundled packages, with their licence text (Apache-2.0 ones with it in full).
  for (const name of ['commander', 'got', 'p-queue', 'xregexp', 'yaml', 'zod', 'pino', 'prom-client', '@opentelemetry/api']) {
    t.regex(text, new RegExp(`^${name.replace('/', '\\/')} \\d+\\.\\d+\\.\\d+ \\(`, 'm'), `${name} is listed`);
  }
  t.regex(text, /Permission is hereby granted/);
  t.regex(text, /Apache License\s+Version 2\.0/);
  // The packages left outside the bundle bring their own files in node_modules.
  t.notRegex(text, /^better-sqlite3 /m);
});

test('dist/ is built fresh at pack time: a stale file in dist/ does not ship', (t) => {
  t.false(installed!.files.some((f) => f === 'dist/stale-from-an-old-build.js'));
});

test('--version is the package\'s own version, wherever it runs from', async (t) => {
  const { version } = JSON.parse(readFileSync(join(installed!.dir, 'package.json'), 'utf8')) as { version: string };
  const r = await run(['--version'], { npm_package_version: '9.9.9-caller' });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${version}\n`);
});

test('--help and a command\'s help work from the installed package', async (t) => {
  const help = await run(['--help']);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^Usage: ptim-bridge /);
  const runHelp = await run(['run', '--help']);
  t.is(runHelp.code, 0, runHelp.stderr);
  t.regex(runHelp.stdout, /Examples:/);
});

test('patterns test finds the shipped patterns relative to the package, not the working directory', async (t) => {
  const r = await run(['patterns', 'test']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /patterns: \d+ rules from \d+ files; (\d+) of \1 examples pass/);
  t.true(r.stdout.includes(join(installed!.dir, 'patterns')), 'rules are listed with their files in the install');
});

test('replay --dry-run and demo run from the install (SQLite, TLS, the bundled capture)', async (t) => {
  const replay = await run(['replay', '--dry-run', '--now', '2026-03-15T00:00:00Z', join(installed!.dir, 'fixtures', 'demo', 'srx-vpn.log')]);
  t.is(replay.code, 0, replay.stderr);
  const events = replay.stdout.trim().split('\n').map((l) => JSON.parse(l) as { state: string });
  t.true(events.length > 0);
  t.true(events.some((e) => e.state === 'connect'));
  const demo = await run(['demo']);
  t.is(demo.code, 0, demo.stderr);
  t.regex(demo.stdout, /^Identity table at JIMS \(4 addresses\):/);
});

test('the bundled CLI needs only its native and worker dependencies: every --help works with node_modules absent', async (t) => {
  // A copy of the install without node_modules: a command whose help needed a dependency outside
  // the bundle (better-sqlite3, recheck) at its top, instead of in its action, fails here.
  const bare = join(work, 'bare');
  cpSync(installed!.dir, bare, { recursive: true, filter: (src) => !src.startsWith(join(installed!.dir, 'node_modules')) });
  const bin = join(bare, 'bin', 'ptim-bridge.js');
  const version = await exec(process.execPath, [bin, '--version'], installed!.cwd);
  t.is(version.code, 0, version.stderr);
  // Every command the help lists, and every subcommand theirs list: commands added later are covered too.
  const pending: string[][] = [[]];
  const seen: string[] = [];
  while (pending.length > 0) {
    const command = pending.shift()!;
    const r = await exec(process.execPath, [bin, ...command, '--help'], installed!.cwd);
    t.is(r.code, 0, `${[...command, '--help'].join(' ')}: ${r.stderr}`);
    seen.push(command.join(' '));
    const listed = /^Commands:\n((?: {2}.*\n?)+)/m.exec(r.stdout)?.[1] ?? '';
    for (const m of listed.matchAll(/^ {2}(\S+)/gm)) if (m[1] !== 'help') pending.push([...command, m[1]!]);
  }
  for (const expected of ['run', 'replay', 'patterns test', 'dlq purge', 'health']) t.true(seen.includes(expected), `${expected} --help was run`);
  // A dry-run replay without --state opens no state file, so it needs neither.
  const capture = join(bare, 'fixtures', 'demo', 'srx-vpn.log');
  const dry = await exec(process.execPath, [bin, 'replay', '--dry-run', capture], installed!.cwd);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /"state":"connect"/);
  // And the copy really lacks them: a command that opens a state file needs better-sqlite3.
  const real = await exec(process.execPath, [bin, 'replay', '--dry-run', '--state', join(work, 'bare-state.db'), capture], installed!.cwd);
  t.is(real.code, 1);
  t.regex(real.stderr, /Cannot find (package|module) 'better-sqlite3'/);
});

test('--version and --help load a small part of the bundle; a command\'s help adds only that command', async (t) => {
  // Every module file the CLI loads, recorded by a module loader hook; sizes in bytes.
  const bundle = join(installed!.dir, 'dist', 'bundle');
  const total = readdirSync(bundle).reduce((sum, f) => sum + statSync(join(bundle, f)).size, 0);
  const loaded = async (args: string[]): Promise<{ files: string[]; bytes: number }> => {
    const log = join(work, `loaded-${args.join('-')}.txt`);
    const r = await exec(process.execPath, ['--import', LOAD_RECORDER, installed!.bin, ...args], installed!.cwd, { PTIM_TEST_LOADED_LOG: log });
    t.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    const files = [...new Set(readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u)))];
    return { files, bytes: files.reduce((sum, f) => sum + statSync(f).size, 0) };
  };
  const version = await loaded(['--version']);
  const help = await loaded(['--help']);
  const runHelp = await loaded(['run', '--help']);
  const everything = await loaded(['patterns', 'lint']);
  t.true(version.bytes < 32 * 1024, `--version loads ${version.bytes} bytes (${version.files.length} files)`);
  // commander is most of it: the help is built from the command index, no command module loads.
  t.true(help.bytes < total / 10, `--help loads ${help.bytes} of ${total} bytes`);
  t.true(runHelp.bytes - help.bytes < total / 20, `run --help adds ${runHelp.bytes - help.bytes} bytes`);
  // And the recorder sees what a real command loads: far more.
  t.true(everything.bytes > 4 * help.bytes, `patterns lint loads ${everything.bytes} bytes`);
});

// A module loader hook (module.register) that appends the URL of every module loaded to the file
// named by PTIM_TEST_LOADED_LOG (hooks run on their own thread: a file, not stdout).
const LOAD_RECORDER = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.PTIM_TEST_LOADED_LOG, url + '\\n');
  return next(url, context);
}
`)}));
`)}`;

/** Copies what `git ls-files` calls the working tree (tracked + untracked, not ignored), plus a stale dist/ file. */
function copyWorkingTree(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    // A node_modules that is a symlink (a git worktree sharing another checkout's) is no directory to .gitignore's `node_modules/`.
    if (file === 'node_modules') continue;
    const from = join(repoRoot, file);
    // Deleted in the working tree but still in the index.
    if (!existsSync(from)) continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(from, join(to, file));
  }
  // What an old build could leave behind: the pack must not ship it.
  mkdirSync(join(to, 'dist'), { recursive: true });
  copyFileSync(join(repoRoot, 'package.json'), join(to, 'dist', 'stale-from-an-old-build.js'));
}

/** The checkout's compiled better-sqlite3 addon into the install, if the versions match; else builds it there. */
function provideSqliteAddon(dir: string): void {
  const installedModule = join(dir, 'node_modules', 'better-sqlite3');
  const checkoutModule = join(repoRoot, 'node_modules', 'better-sqlite3');
  const version = (d: string) => (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { version: string }).version;
  const addon = join('build', 'Release', 'better_sqlite3.node');
  if (version(installedModule) === version(checkoutModule) && existsSync(join(checkoutModule, addon))) {
    mkdirSync(join(installedModule, 'build', 'Release'), { recursive: true });
    copyFileSync(join(checkoutModule, addon), join(installedModule, addon));
    return;
  }
  execFileSync('npm', ['rebuild', 'better-sqlite3', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'ignore' });
  if (!readdirSync(join(installedModule, 'build', 'Release')).includes('better_sqlite3.node')) throw new Error('better-sqlite3 did not build');
}

function npm(args: string[], cwd: string): Promise<string> {
  return exec('npm', args, cwd).then((r) => {
    if (r.code !== 0) throw new Error(`npm ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  });
}

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return exec(installed!.bin, args, installed!.cwd, env);
}

function exec(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 5 * 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
