import test from 'ava';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

/**
 * Golden files: every fixtures/*.log (or .log.gz) replayed through the real CLI must print exactly
 * fixtures/<name>.expected.ndjson, and a summary equal to fixtures/<name>.expected-summary.txt
 * (speed figures removed). A fixtures/<name>.config.yaml next to it is passed as --config.
 * Refresh after an intended change with: UPDATE_GOLDEN=1 npx ava test/replay/golden.test.ts
 * and review the diff.
 */
const NOW = '2026-03-15T00:00:00Z';
const fixtures = join(repoRoot, 'fixtures');
const update = process.env.UPDATE_GOLDEN === '1';
const captures = readdirSync(fixtures).filter((f) => /\.log(\.gz)?$/.test(f)).sort();

test('golden: there are fixtures', (t) => {
  t.true(captures.length >= 3);
});

for (const capture of captures) {
  const base = capture.replace(/\.log(\.gz)?$/, '');
  test(`golden: ${capture}`, async (t) => {
    const config = join(fixtures, `${base}.config.yaml`);
    const args = ['replay', '--dry-run', '--now', NOW, ...(existsSync(config) ? ['--config', config] : []), join(fixtures, capture)];
    const r = await runCli(args);
    t.is(r.code, 0, r.stderr);
    const summary = r.stderr.replace(/ in [\d.]+ s: [\d,]+ lines\/s/, '');
    const eventsFile = join(fixtures, `${base}.expected.ndjson`);
    const summaryFile = join(fixtures, `${base}.expected-summary.txt`);
    if (update) {
      writeFileSync(eventsFile, r.stdout);
      writeFileSync(summaryFile, summary);
      t.log(`updated ${eventsFile}`);
      return;
    }
    if (!existsSync(eventsFile)) {
      t.fail(`${eventsFile} is missing: create it with UPDATE_GOLDEN=1 npx ava test/replay/golden.test.ts and review it`);
      return;
    }
    t.deepEqual(r.stdout.split('\n'), readFileSync(eventsFile, 'utf8').split('\n'));
    if (existsSync(summaryFile)) t.is(summary, readFileSync(summaryFile, 'utf8'));
  });
}
