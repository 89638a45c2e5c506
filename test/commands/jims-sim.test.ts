import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import got from 'got';
import { runCli, startCli } from '../helpers/cli.js';
import { jimsEvent } from '../helpers/jims-events.js';
import { tempDir } from '../helpers/tmp.js';

test('jims-sim --help shows examples', async (t) => {
  const r = await runCli(['jims-sim', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Examples:/);
  t.regex(r.stdout, /PTIM_JIMS_CLIENT_SECRET/);
});

test('jims-sim usage errors exit 2 and say what to do', async (t) => {
  const noSecret = await runCli(['jims-sim', '--client-id', 'b', '--listen', 'https://127.0.0.1:0'], { env: { PTIM_JIMS_CLIENT_SECRET: '' } });
  t.is(noSecret.code, 2);
  t.regex(noSecret.stderr, /ERR_USAGE: No client secret: export PTIM_JIMS_CLIENT_SECRET/);
  const badRate = await runCli(['jims-sim', '--client-id', 'b', '--client-secret', 's', '--fail-rate', '2']);
  t.is(badRate.code, 2);
  t.regex(badRate.stderr, /--fail-rate a number 0-1, got "2"/);
  const halfTls = await runCli(['jims-sim', '--client-id', 'b', '--client-secret', 's', '--tls-cert', 'x.pem']);
  t.is(halfTls.code, 2);
});

test('jims-sim serves the contract, prints URL and fingerprint, stops cleanly on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const caFile = join(dir, 'ca.pem');
  const child = startCli(['jims-sim', '--listen', 'https://127.0.0.1:0', '--client-id', 'bridge', '--write-ca', caFile], { env: { PTIM_JIMS_CLIENT_SECRET: 'from-env' } });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!/identity table: GET (\S+)/.test(out)) {
    if (Date.now() > deadline) return t.fail(`not ready: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.regex(out, /certificate SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  const url = /listening on (\S+)/.exec(out)![1]!;
  const http = got.extend({ prefixUrl: url, https: { certificateAuthority: readFileSync(caFile, 'utf8') }, retry: { limit: 0 } });
  const { access_token: token } = await http
    .post('oauth_token/oauth', { form: { grant_type: 'client_credentials', client_id: 'bridge', client_secret: 'from-env' } })
    .json<{ access_token: string }>();
  const accepted = await http.post('api/v1/ptim/events', { json: { events: [jimsEvent('10.20.0.5')] }, headers: { authorization: `Bearer ${token}` } }).json();
  t.deepEqual(accepted, { accepted: 1 });
  const sessions = await http.get('api/v1/ptim/sessions').json<Array<{ ip: string; user: string }>>();
  t.like(sessions[0], { ip: '10.20.0.5', user: 'alice' });
  child.kill('SIGTERM');
  t.is(await exited, 0);
  t.regex(out, /jims-sim stopped: 1 events received \(0 duplicates\), 1 identities held/);
});
