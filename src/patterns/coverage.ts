import type { Config } from '../config.js';
import { CountingSink } from '../flow/counting-sink.js';
import { LinePipeline } from '../flow/pipeline.js';
import { replayCaptures, type ReplaySummary } from '../replay/replay-captures.js';
import { formatRejected, printable } from '../replay/report.js';
import type { PatternSet } from './pattern-set.js';
import { byKey, thousands as n } from '../count-text.js';

/**
 * Runs captures through exactly the pipeline the bridge uses (chunk scan, envelope, match,
 * normalize) without producing events, and returns what each rule saw.
 * @throws BridgeError ERR_INPUT_UNREADABLE for a missing or unreadable capture or corrupt gzip.
 */
export async function captureCoverage(options: {
  set: PatternSet;
  files: readonly string[];
  vpns?: Config['vpns'];
  nearMissExamples?: number;
  maxLineBytes?: number;
}): Promise<ReplaySummary> {
  return replayCaptures({
    files: options.files,
    pipeline: new LinePipeline({ patterns: options.set, vpns: options.vpns ?? {} }),
    // The events are counted (summary.events), never encoded.
    sink: new CountingSink(),
    nearMissExamples: options.nearMissExamples ?? 10,
    ...(options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes }),
  });
}

/**
 * The coverage report: lines seen, matches for every loaded rule (zeros included: a rule that
 * never fires on a real capture is the first thing to look at), skipped matches by reason, and
 * the near misses, the first ones verbatim.
 */
export function formatCoverage(set: PatternSet, s: ReplaySummary): string {
  const out: string[] = [];
  out.push(`coverage: ${n(s.files)} file${s.files === 1 ? '' : 's'}, ${n(s.lines)} lines seen, ${n(s.hits)} with a pattern literal`);
  const ids = [...new Set([...set.rules.map((r) => r.id), ...Object.keys(s.matched)])];
  const width = Math.max(0, ...ids.map((id) => id.length));
  const total = Object.values(s.matched).reduce((a, b) => a + b, 0);
  out.push(`matched per rule (${n(total)} in all):`);
  for (const id of ids) {
    const count = s.matched[id] ?? 0;
    out.push(`  ${id.padEnd(width)}  ${n(count).padStart(9)}${count === 0 ? '  (never matched)' : ''}`);
  }
  const skipped = Object.entries(s.skipped).sort(byKey);
  const totalSkipped = skipped.reduce((sum, [, byRule]) => sum + Object.values(byRule).reduce((a, b) => a + b, 0), 0);
  out.push(`skipped matches (no identity event): ${n(totalSkipped)}`);
  for (const [reason, byRule] of skipped) {
    for (const [id, count] of Object.entries(byRule).sort(byKey)) {
      out.push(`  ${reason.padEnd(18)} ${id.padEnd(width)}  ${n(count).padStart(9)}  ${SKIP_WHY[reason] ?? ''}`.trimEnd());
    }
  }
  out.push(...formatRejected(s));
  out.push(`near misses (look like VPN events, matched no rule): ${n(s.nearMisses)}`);
  // Capture text is untrusted: an ESC in it must not drive the operator's terminal.
  for (const text of s.nearMissExamples) out.push(`  | ${printable(text)}`);
  if (s.nearMisses > s.nearMissExamples.length) out.push(`  ... and ${n(s.nearMisses - s.nearMissExamples.length)} more`);
  if (s.oversized > 0) out.push(`oversized lines dropped: ${n(s.oversized)}`);
  return `${out.join('\n')}\n`;
}

const SKIP_WHY: Record<string, string> = {
  'no-client-address': 'remote selector is not one address (site-to-site tunnel)',
  'no-user': 'neither AAA username nor Remote IKE-ID names a user',
};
