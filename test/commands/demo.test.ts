import test from 'ava';
import { Registry } from 'prom-client';
import { readFileSync } from 'node:fs';
import { DEMO_CAPTURE, DEMO_EVENTS, runDemo, type DemoBridgeModule } from '../../src/commands/demo.js';
import { createJimsClient } from '../../src/delivery/jims-client.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';
import type { IdentityRow } from '../../src/jims-sim/identity-table.js';
import { silentLogger } from '../../src/log.js';
import { runCli } from '../helpers/cli.js';

const expected = ['10.20.0.5 alice@corp.example', '10.20.0.6 dave@corp.example', '10.20.0.7 carol@CORP', '10.30.0.9 henry@branch.example'];
const show = (rows: IdentityRow[]) => rows.map((r) => `${r.ip} ${r.user}@${r.domain}`);

test('demo --help shows examples', async (t) => {
  const r = await runCli(['demo', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Examples:\n {2}\$ ptim-bridge demo/);
});

test('demo on a fresh machine: embedded simulator, delivery, identity table on stdout', async (t) => {
  const r = await runCli(['demo']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /JIMS simulator on https:\/\/127\.0\.0\.1:\d+ \(certificate SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\)/);
  t.regex(r.stdout, /Identity table at JIMS \(4 addresses\)/);
  for (const row of expected) {
    const [ip, who] = row.split(' ');
    t.regex(r.stdout, new RegExp(`${ip!.replaceAll('.', '\\.')}\\s+${who!.split('@')[0]}\\s+${who!.split('@')[1]}`));
  }
  t.regex(r.stdout, /JIMS received 9 events \(9 unique, 0 duplicates\)/);
});

test('demo --json prints the table as JSON', async (t) => {
  const r = await runCli(['demo', '--json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(show(JSON.parse(r.stdout) as IdentityRow[]), expected);
});

test('demo hands the bridge a config that reaches the simulator (verified TLS, secret by file)', async (t) => {
  const seen: { files?: readonly string[]; now?: number | undefined } = {};
  const fakeBridge: DemoBridgeModule = {
    async runReplay({ config, files, now }) {
      seen.files = files;
      seen.now = now;
      t.is(config.jims.insecureSkipVerify, false);
      t.regex(config.jims.clientSecret ?? '', /^file:/);
      t.is(config.vpns['ra-vpn']?.domain, 'corp.example', 'bundled config kept');
      const client = await createJimsClient(config.jims, { log: silentLogger(), registry: new Registry() });
      const events = readFileSync(DEMO_EVENTS, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PtimEvent);
      const outcome = await client.push(events);
      client.close();
      t.is(outcome.kind, 'delivered');
    },
  };
  let shown: IdentityRow[] = [];
  const result = await runDemo({ timeoutMs: 30_000, say: () => {}, show: (rows) => (shown = rows), loadBridge: async () => fakeBridge });
  t.is(result.mode, 'bridge');
  t.deepEqual(seen.files, [DEMO_CAPTURE]);
  t.is(typeof seen.now, 'number');
  t.deepEqual(show(shown), expected);
});

test('demo --capture without the replay pipeline is a usage error', async (t) => {
  const error = await t.throwsAsync(() => runDemo({ capture: DEMO_CAPTURE, timeoutMs: 5000, say: () => {}, show: () => {}, loadBridge: async () => undefined }));
  t.is((error as { code?: string }).code, 'ERR_USAGE');
});
