import type { ReplayProgress, ReplaySummary } from './replay-captures.js';
import { byKey, thousands as n } from '../count-text.js';

/** Lines per second of a replay, rounded (0 for an instant replay of nothing). */
export function linesPerSecond(summary: Pick<ReplaySummary, 'lines' | 'elapsedMs'>): number {
  return summary.elapsedMs > 0 ? Math.round((summary.lines * 1000) / summary.elapsedMs) : 0;
}

/**
 * The human summary a replay prints on stderr: lines read, matches per rule, skipped matches by
 * reason, near misses with the first few verbatim, events by state, speed.
 */
export function formatSummary(s: ReplaySummary): string {
  const out: string[] = [];
  const mb = (s.bytes / 1e6).toFixed(1);
  out.push(`replay: ${n(s.files)} file${s.files === 1 ? '' : 's'}, ${n(s.lines)} lines (${mb} MB) in ${(s.elapsedMs / 1000).toFixed(2)} s: ${n(linesPerSecond(s))} lines/s`);
  const inputs = Object.entries(s.inputs ?? {}).sort(byKey);
  // Plain syslog text needs no word; anything else says how it was read.
  if (inputs.some(([kind]) => kind !== 'syslog')) out.push(`input: ${inputs.map(([kind, c]) => `${kind} ${n(c)}`).join(', ')}`);
  if (s.packets) {
    const p = s.packets;
    out.push(`packets: ${n(p.packets)}, UDP datagrams ${n(p.udp)}, TCP streams ${n(p.tcp.streams)} (${n(p.tcp.segments)} segments), syslog messages ${n(p.messages)} (counted as lines), skipped ${n(p.skipped)} (fragments, other protocols), malformed ${n(p.malformed)}`);
    const t = p.tcp;
    const troubles = ([
      ['retransmitted', t.retransmitted], ['gaps (lost segments; the message cut was dropped)', t.gaps], ['joined mid-stream', t.midstream],
      ['bad framing (rest of stream unread)', t.badFraming], ['cut frames dropped', t.truncated], ['TLS (encrypted, unreadable)', t.tls],
    ] as const).filter(([, c]) => c > 0);
    if (troubles.length > 0) out.push(`TCP: ${troubles.map(([what, c]) => `${what} ${n(c)}`).join(', ')}`);
  }
  if (s.records) {
    const r = s.records;
    out.push(`records: ${n(r.read)}, without text ${n(r.noText)}, unreadable time ${n(r.badTime)}, malformed ${n(r.malformed)}`);
    for (const e of r.examples) out.push(`  | ${printable(e)}`);
  }
  const matched = Object.entries(s.matched).sort(byKey);
  const totalMatched = matched.reduce((sum, [, c]) => sum + c, 0);
  out.push(`matched: ${n(totalMatched)} line${totalMatched === 1 ? '' : 's'}`);
  const width = Math.max(0, ...matched.map(([id]) => id.length));
  for (const [id, count] of matched) out.push(`  ${id.padEnd(width)}  ${n(count)}`);
  const skipped = Object.entries(s.skipped).sort(byKey);
  const totalSkipped = skipped.reduce((sum, [, byRule]) => sum + Object.values(byRule).reduce((a, b) => a + b, 0), 0);
  out.push(`skipped (matched, no identity event): ${n(totalSkipped)}`);
  for (const [reason, byRule] of skipped) {
    const count = Object.values(byRule).reduce((a, b) => a + b, 0);
    const rules = Object.entries(byRule).sort(byKey).map(([id, c]) => `${id} ${n(c)}`).join(', ');
    out.push(`  ${reason}  ${n(count)}  (${rules})`);
  }
  out.push(...formatRejected(s));
  out.push(`near misses (look like VPN events, matched no rule): ${n(s.nearMisses)}`);
  for (const text of s.nearMissExamples) out.push(`  | ${printable(text)}`);
  if (s.nearMisses > s.nearMissExamples.length && s.nearMissExamples.length > 0) out.push(`  ... and ${n(s.nearMisses - s.nearMissExamples.length)} more (run \`ptim-bridge patterns test\` on the capture)`);
  if (s.ignored) {
    const ignored = Object.entries(s.ignored).filter(([, c]) => c > 0).sort(byKey);
    const total = ignored.reduce((sum, [, c]) => sum + c, 0);
    out.push(`ignored by the session table (no event): ${n(total)}${ignored.length > 0 ? ` (${ignored.map(([r, c]) => `${r} ${n(c)}`).join(', ')})` : ''}`);
  }
  if (s.outOfRange) out.push(`outside --since/--until (not applied): ${n(s.outOfRange.before)} before, ${n(s.outOfRange.after)} after`);
  if (s.finalState) out.push(`--final-state: ${n(s.finalState.live)} session${s.finalState.live === 1 ? '' : 's'} live at the end (their connects are the output); ${n(s.finalState.withheld)} events of the capture held back`);
  out.push(`events: connect ${n(s.events.connect)}, disconnect ${n(s.events.disconnect)}, rekey ${n(s.events.rekey)}`);
  if (s.oversized > 0) out.push(`oversized lines dropped: ${n(s.oversized)}`);
  if (s.outputClosed) out.push('stopped early: the reader of standard output went away; the figures cover the lines read until then');
  return `${out.join('\n')}\n`;
}

/**
 * The refused lines of a summary: count by reason and rule, then the first ones verbatim. Shared by
 * the replay summary and `patterns test`'s coverage.
 */
export function formatRejected(s: Pick<ReplaySummary, 'rejected' | 'rejectedExamples'>): string[] {
  const out: string[] = [];
  const rejected = Object.entries(s.rejected).sort(byKey);
  const total = rejected.reduce((sum, [, byRule]) => sum + Object.values(byRule).reduce((a, b) => a + b, 0), 0);
  out.push(`rejected (matched, refused: could forge a mapping): ${n(total)}`);
  for (const [reason, byRule] of rejected) {
    const count = Object.values(byRule).reduce((a, b) => a + b, 0);
    const rules = Object.entries(byRule).sort(byKey).map(([id, c]) => `${id} ${n(c)}`).join(', ');
    out.push(`  ${reason}  ${n(count)}  (${rules})`);
  }
  for (const e of s.rejectedExamples) out.push(`  | ${e.reason}${e.where ? ` (${printable(e.where)})` : ''}: ${printable(e.text)}`);
  return out;
}

/** One progress line for a terminal (to be written after `\r`). */
export function formatProgress(p: ReplayProgress): string {
  const pct = p.fileSize ? ` ${Math.min(100, Math.floor((p.fileBytes * 100) / p.fileSize))}%` : '';
  const rate = p.elapsedMs > 0 ? Math.round((p.lines * 1000) / p.elapsedMs) : 0;
  return `${p.file}:${pct} ${n(p.lines)} lines, ${n(rate)} lines/s`;
}

/**
 * Untrusted text made safe for a terminal: control characters (an ESC could rewrite the screen, a
 * line break fake a line of the report) shown as \xNN, tabs kept, and long lines cut.
 */
export function printable(text: string, max = 400): string {
  // eslint-disable-next-line no-control-regex
  // A line break too: a forged second line in an example must not read as a line of the report.
  const safe = text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe.length > max ? `${safe.slice(0, max)}... (${safe.length - max} more characters)` : safe;
}
