import test from 'ava';
import { runCli } from './helpers/cli.js';

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
