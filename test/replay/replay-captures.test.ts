import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { toEvent } from '../../src/events/ptim-event.js';
import { LinePipeline } from '../../src/flow/pipeline.js';
import { replayCaptures } from '../../src/replay/replay-captures.js';
import { CountingSink } from '../../src/flow/counting-sink.js';
import { NdjsonSink } from '../../src/flow/ndjson-sink.js';
import type { TickTable } from '../../src/flow/tick.js';
import { generateLines } from '../../scripts/generate-capture.js';
import { tempDir } from '../helpers/tmp.js';
import { tinyPatterns } from '../helpers/tiny-patterns.js';

const NOW = Date.UTC(2026, 2, 15);

function collect(): { sink: NdjsonSink; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  return { sink: new NdjsonSink(stream, { chunkBytes: 1000 }), text: () => Buffer.concat(parts).toString('utf8') };
}

test('dry run: the fast path (literals in raw chunks) gives exactly what every line through the pipeline gives', async (t) => {
  const dir = tempDir(t);
  const lines = [...generateLines({ lines: 20_000, seed: 3, vpnRatio: 0.02, users: 200 })];
  const file = join(dir, 'mixed.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const pipeline = new LinePipeline({ patterns: tinyPatterns });

  const { sink, text } = collect();
  const summary = await replayCaptures({ files: [file], pipeline, sink, now: NOW });

  // Slow path: every line, decoded, through the pipeline.
  const expected: string[] = [];
  let skipped = 0;
  for (const line of lines) {
    const o = pipeline.process({ data: Buffer.from(line), sender: 'file', receivedAt: NOW, transport: 'file' });
    if (o.kind === 'candidate') expected.push(JSON.stringify(toEvent(o.candidate, o.candidate.line === 'up' ? 'connect' : 'disconnect')));
    if (o.kind === 'skipped') skipped++;
  }
  t.is(summary.lines, 20_000);
  t.deepEqual(text().trim().split('\n'), expected);
  t.is(summary.events.connect + summary.events.disconnect, expected.length);
  const vpnLines = lines.filter((l) => l.includes('_VPN_')).length;
  t.is(summary.hits, vpnLines, 'only VPN lines were decoded');
  t.is(Object.values(summary.matched).reduce((a, b) => a + b, 0), vpnLines, 'the generator writes only lines the patterns match');
  t.is(Object.values(summary.skipped['no-client-address'] ?? {}).reduce((a, b) => a + b, 0), skipped);
  t.true(vpnLines > 200 && vpnLines < 600, `about 2% VPN lines, got ${vpnLines}`);
});

test('dry run: near misses are counted with the first ones verbatim; oversized lines are dropped', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'odd.log');
  const near = (i: number) => `<30>Mar 14 09:00:0${i} srx iked[1]: IKE_VPN_UP_ALARM_USER: VPN x from 1.2.3.4 is up. new format ${i}`;
  writeFileSync(file, [near(1), near(2), near(3), `${'x'.repeat(70_000)} IKE_VPN_UP_ALARM_USER`, 'noise'].join('\r\n'));
  const { sink, text } = collect();
  const summary = await replayCaptures({ files: [file], pipeline: new LinePipeline({ patterns: tinyPatterns }), sink, now: NOW, nearMissExamples: 2 });
  t.is(summary.lines, 5);
  t.is(summary.nearMisses, 3);
  t.deepEqual(summary.nearMissExamples, [near(1).slice(near(1).indexOf('IKE_')), near(2).slice(near(2).indexOf('IKE_'))]);
  t.is(summary.oversized, 1);
  t.is(text(), '');
});

test('report: near-miss text is made safe for a terminal', async (t) => {
  const { printable } = await import('../../src/replay/report.js');
  t.is(printable('a\u001b[2Jb\u0007c\td'), 'a\\x1b[2Jb\\x07c\td');
  t.is(printable('x'.repeat(10), 4), 'xxxx... (6 more characters)');
  t.is(printable('eve\n<30>forged\r'), 'eve\\x0a<30>forged\\x0d', 'a line break cannot fake a line of the report');
});

test('dry run: a reader that goes away stops the replay quietly', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'many.log');
  writeFileSync(file, `${[...generateLines({ lines: 30_000, seed: 4, vpnRatio: 1, users: 50 })].join('\n')}\n`);
  const stream = new PassThrough();
  stream.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  const sink = new NdjsonSink(stream, { chunkBytes: 100 });
  const summary = await replayCaptures({ files: [file, file], pipeline: new LinePipeline({ patterns: tinyPatterns }), sink, now: NOW });
  t.true(summary.outputClosed);
  t.true(summary.lines < 60_000);
});

test('dry run: the table plugs in; each read chunk is one transaction of it', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'vpn.log');
  // About 3 MiB: several read chunks.
  writeFileSync(file, `${[...generateLines({ lines: 20_000, seed: 9, vpnRatio: 1, users: 20 })].join('\n')}\n`);
  const { sink, text } = collect();
  let transactions = 0;
  let inTransaction = false;
  let seen = 0;
  const table: TickTable = {
    transaction: (fn) => {
      transactions++;
      inTransaction = true;
      try {
        return fn();
      } finally {
        inTransaction = false;
      }
    },
    apply: (c, receivedAt) => {
      t.is(receivedAt, NOW);
      t.true(inTransaction, 'applied inside a transaction');
      seen++;
      return c.line === 'up' ? [toEvent(c, 'rekey', ['rekey-inferred'])] : [];
    },
    expire: () => [],
  };
  const summary = await replayCaptures({ files: [file], pipeline: new LinePipeline({ patterns: tinyPatterns }), sink, table, now: NOW });
  t.true(transactions > 2, `one per chunk, got ${transactions}`);
  const events = text().trim().split('\n').map((l) => JSON.parse(l) as { state: string; flags: string[] });
  t.true(events.length > 0 && events.length < seen);
  t.true(events.every((e) => e.state === 'rekey' && e.flags.includes('rekey-inferred')));
  t.deepEqual(summary.events, { connect: 0, disconnect: 0, rekey: events.length });
});

test('a table that throws stops the replay: the sink forgets the failed chunk, what committed before is printed', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'vpn.log');
  writeFileSync(file, `${[...generateLines({ lines: 20_000, seed: 9, vpnRatio: 1, users: 20 })].join('\n')}\n`);
  const { sink, text } = collect();
  let applied = 0;
  let committed = 0;
  const table: TickTable = {
    transaction: (fn) => {
      committed = applied;
      return fn();
    },
    apply: (c) => {
      if (++applied === 10_000) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      return [toEvent(c, c.line === 'up' ? 'connect' : 'disconnect')];
    },
    expire: () => [],
  };
  const error = await t.throwsAsync(replayCaptures({ files: [file], pipeline: new LinePipeline({ patterns: tinyPatterns }), sink, table, now: NOW }));
  t.is((error as { code?: string }).code, 'SQLITE_FULL');
  t.true(committed > 0 && committed < 10_000, 'the failure came in a later chunk');
  // Were the failed chunk's events still queued, this would print them.
  sink.committed();
  await sink.flush(true);
  t.is(text().split('\n').length - 1, committed);
});

test.serial('coverage: a counting sink counts the events without encoding them', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'vpn.log');
  writeFileSync(file, `${[...generateLines({ lines: 500, seed: 9, vpnRatio: 1, users: 20 })].join('\n')}\n`);
  const sink = new CountingSink();
  const stringify = JSON.stringify;
  let encoded = 0;
  // Only encodings of whole events count (serial: other tests of the file print events).
  JSON.stringify = ((...args: Parameters<typeof stringify>) => {
    const value = args[0] as { id?: unknown; state?: unknown; pattern?: unknown } | undefined;
    if (typeof value === 'object' && value !== null && 'id' in value && 'state' in value && 'pattern' in value) encoded++;
    return stringify(...args);
  }) as typeof JSON.stringify;
  let summary;
  try {
    summary = await replayCaptures({ files: [file], pipeline: new LinePipeline({ patterns: tinyPatterns }), sink, now: NOW });
  } finally {
    JSON.stringify = stringify;
  }
  const events = summary.events.connect + summary.events.disconnect;
  t.true(events > 0);
  t.is(sink.counts.events, events);
  t.is(encoded, 0);
});
