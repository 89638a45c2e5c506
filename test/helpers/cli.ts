import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { logEntries } from './logs.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const entry = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
// Resolved here, not by the child: a test may run the CLI from a temp directory with no node_modules.
const tsxLoader = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

/** Starts the real CLI (TypeScript sources through tsx) as a child process. */
export function startCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader, entry, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs the real CLI to completion and collects its output. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = startCli(args, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin!.end(options.input);
  });
}

/** A `run --dry-run` child: NDJSON events on stdout, JSON logs on stderr, read as they come. */
export interface DryRunProcess {
  child: ChildProcess;
  /** Parsed log lines (stderr) so far. */
  logs(): Array<Record<string, unknown>>;
  /** Parsed events (stdout) so far. */
  events(): Array<Record<string, unknown>>;
  stderr(): string;
  exit: Promise<number | null>;
}

/** Starts `ptim-bridge run --dry-run ARGS` (killed at the test's end); does not wait for it. */
export function startDryRun(t: import('ava').ExecutionContext, args: string[]): DryRunProcess {
  const child = startCli(['run', '--dry-run', ...args]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  return {
    child,
    logs: () => logEntries(err),
    events: () => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
    exit,
  };
}
