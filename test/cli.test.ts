import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { repoRoot, runCli, startCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

// cli.ts promises exit 2 for bad usage; commander's own usage errors must keep that promise.
const usageErrors: Array<{ title: string; args: string[]; stderr: RegExp }> = [
  { title: 'unknown option', args: ['run', '--no-such-flag'], stderr: /unknown option/ },
  { title: 'unknown command', args: ['no-such-command'], stderr: /unknown command/ },
  { title: 'missing argument', args: ['replay'], stderr: /missing required argument/ },
  { title: 'no command', args: [], stderr: /Usage: ptim-bridge/ },
];

for (const { title, args, stderr } of usageErrors) {
  test(`bad usage exits 2: ${title}`, async (t) => {
    const r = await runCli(args);
    t.is(r.code, 2);
    t.regex(r.stderr, stderr);
  });
}

test('--help and --version exit 0', async (t) => {
  t.is((await runCli(['--help'])).code, 0);
  t.is((await runCli(['run', '--help'])).code, 0);
  t.is((await runCli(['--version'])).code, 0);
});

test('--version prints this package\'s version, not the calling project\'s npm_package_version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const r = await runCli(['--version'], { env: { npm_package_version: '9.9.9-caller' } });
  t.is(r.code, 0);
  t.is(r.stdout, `${version}\n`);
});

test('--help lists every command and ends with examples', async (t) => {
  const r = await runCli(['--help']);
  t.is(r.code, 0);
  for (const command of ['config', 'replay', 'patterns', 'sessions', 'dlq', 'jims-sim', 'demo', 'run', 'health']) t.regex(r.stdout, new RegExp(`^  ${command} `, 'm'));
  t.regex(r.stdout, /Examples:\n {2}\$ ptim-bridge /);
});

// Every command's help is complete although its modules load only when it runs (src/cli.ts).
for (const args of [['run'], ['replay'], ['patterns', 'test'], ['sessions'], ['dlq', 'list'], ['config', 'check'], ['jims-sim'], ['demo'], ['health']]) {
  test(`${args.join(' ')} --help shows options and examples`, async (t) => {
    const r = await runCli([...args, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, new RegExp(`^Usage: ptim-bridge ${args.join(' ')} `, 'm'));
    t.regex(r.stdout, /^Options:/m);
    t.regex(r.stdout, /^Examples?:\n {2}\$ /m);
  });
}

/**
 * Runs the real CLI with the named output pipes already closed by their reader (what `| head -1`
 * does once it has its line): every write fails with EPIPE.
 */
function runWithClosed(args: string[], closed: ReadonlyArray<'stdout' | 'stderr'>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = startCli(args);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for (const name of closed) child[name]!.destroy();
    if (!closed.includes('stdout')) child.stdout!.on('data', (b: Buffer) => out.push(b));
    if (!closed.includes('stderr')) child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin!.end();
  });
}

const STACK_TRACE = /\n\s+at |Unhandled 'error' event|EPIPE/;

for (const args of [['--help'], ['replay', '--help'], ['patterns', 'test'], ['config', 'schema'], ['replay', '--dry-run', 'fixtures/replay-generated.log']]) {
  test(`closed stdout: \`${args.join(' ')} | head\` ends quietly with its own exit code`, async (t) => {
    const r = await runWithClosed(args, ['stdout']);
    t.is(r.signal, null);
    t.is(r.code, 0, r.stderr);
    t.notRegex(r.stderr, STACK_TRACE);
  });
}

test('closed stderr: a usage error still exits 2, not a crash', async (t) => {
  const r = await runWithClosed(['no-such-command'], ['stderr']);
  t.is(r.code, 2);
});

test('closed stdout and stderr: replay --dry-run still ends with exit 0', async (t) => {
  const r = await runWithClosed(['replay', '--dry-run', 'fixtures/replay-generated.log'], ['stdout', 'stderr']);
  t.is(r.code, 0);
});

test('through a real shell pipe: --help | head -1 and replay | head -1 print one line, no stack trace', async (t) => {
  const cli = `"${process.execPath}" --import "${import.meta.resolve('tsx')}" "${join(repoRoot, 'src', 'main.ts')}"`;
  for (const args of ['--help', 'replay --dry-run fixtures/replay-generated.log', 'patterns test']) {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // The pipeline's status would be head's: exit with the CLI's own instead.
      execFile('/bin/bash', ['-c', `${cli} ${args} | head -1; exit "\${PIPESTATUS[0]}"`], { cwd: repoRoot }, (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }));
    });
    t.is(r.code, 0, args);
    t.is(r.stdout.split('\n').length, 2, `${args}: one line, got ${JSON.stringify(r.stdout)}`);
    t.notRegex(r.stderr, STACK_TRACE, args);
  }
});

test('health: a running metrics server answers, a closed port is ERR_NOT_READY (exit 1) after --wait', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"sessions":0}\n');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const up = await runCli(['health', '--url', `http://127.0.0.1:${port}`]);
  t.is(up.code, 0, up.stderr);
  t.deepEqual(JSON.parse(up.stdout), { ok: true, sessions: 0 });

  const closed = await freePort();
  const started = Date.now();
  const down = await runCli(['health', '--url', `http://127.0.0.1:${closed}`, '--wait', '1']);
  t.is(down.code, 1);
  t.regex(down.stderr, /^ptim-bridge: ERR_NOT_READY: .*ECONNREFUSED/m);
  t.true(Date.now() - started >= 1000, 'kept asking for --wait seconds');
});

test('health --wait: succeeds once the server comes up within the wait', async (t) => {
  const port = await freePort();
  const child = startCli(['health', '--url', `http://127.0.0.1:${port}`, '--wait', '30']);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdin!.end();
  // Not synchronisation: the server comes up late on purpose, so that the command has to ask again.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const server = createServer((_req, res) => res.writeHead(200).end('{"ok":true}\n'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  t.is(await exit, 0);
  t.is(out, '{"ok":true}\n');
});

test('health: config without metrics.listen, both --url and --config, bad --wait are usage errors (exit 2)', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'no-metrics.yaml');
  writeFileSync(config, 'senders: { allow: [127.0.0.1] }\n');
  const cases: Array<{ args: string[]; stderr: RegExp }> = [
    { args: ['health', '--config', config], stderr: /ERR_USAGE: Expected `metrics.listen`/ },
    { args: ['health', '--config', config, '--url', 'http://127.0.0.1:9464'], stderr: /ERR_USAGE: Expected --url or --config, got both/ },
    { args: ['health'], stderr: /ERR_USAGE: Expected --config .* or --url/ },
    { args: ['health', '--url', 'https://127.0.0.1:9464'], stderr: /ERR_USAGE: Expected --url an http:\/\/ URL/ },
    { args: ['health', '--url', 'http://127.0.0.1:9464', '--wait', 'soon'], stderr: /ERR_USAGE: Expected --wait a number of seconds 0-3600, got "soon"/ },
  ];
  for (const { args, stderr } of cases) {
    const r = await runCli(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, stderr);
  }
});

test('health --config asks the metrics.listen of the config (0.0.0.0 on loopback)', async (t) => {
  const port = await freePort();
  const server = createServer((_req, res) => res.writeHead(200).end('{"ok":true}\n'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const dir = tempDir(t);
  const config = join(dir, 'bridge.yaml');
  writeFileSync(config, `metrics: { listen: "0.0.0.0:${port}" }\n`);
  const r = await runCli(['health', '--config', config]);
  t.is(r.code, 0, r.stderr);
});

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
