import { toEvent, type PtimCandidate, type PtimEvent, type PtimState } from '../events/ptim-event.js';
import type { LineOutcome, LinePipeline } from '../pipeline.js';
import type { ReceivedMessage } from '../pipeline-records.js';
import { isPacketCapture, PcapParser, type PcapCounts } from './pcap.js';
import { captureInfo, readCapture } from './read-capture.js';
import { ChunkScanner } from './scan-chunk.js';

/** What a replay saw, for the summary on stderr (and for tests and the bench). */
export interface ReplaySummary {
  files: number;
  /** Bytes read from the sources (compressed bytes for gzip). */
  bytes: number;
  lines: number;
  /** Lines that contained a pattern literal and were parsed. */
  hits: number;
  oversized: number;
  /** Matched lines per rule id (skipped ones included). */
  matched: Record<string, number>;
  /** Skipped matches: reason -> rule id -> count. */
  skipped: Record<string, Record<string, number>>;
  /** Refused lines (a rule matched, the line could forge a mapping): reason -> rule id -> count. */
  rejected: Record<string, Record<string, number>>;
  /** The first refused lines, verbatim, with their reason. */
  rejectedExamples: Array<{ reason: string; text: string }>;
  nearMisses: number;
  /** Matched lines the session table applied no event for, by reason (stale-line, duplicate, ...); replay through the table only. */
  ignored?: Readonly<Record<string, number>>;
  /** The first near misses, verbatim (as the patterns saw them). */
  nearMissExamples: string[];
  events: Record<PtimState, number>;
  elapsedMs: number;
  /** The output's reader went away (`| head`): reading stopped early. */
  outputClosed: boolean;
  /** Packet captures only: packets seen, UDP messages taken, packets skipped or malformed. */
  packets?: PcapCounts;
}

export interface ReplayProgress {
  file: string;
  fileBytes: number;
  fileSize: number | undefined;
  lines: number;
  elapsedMs: number;
}

/** What a replay writes its events to; `NdjsonWriter` is one. */
export interface EventOutput {
  write(event: PtimEvent): void;
  /** Hands written events on (when enough are waiting, or always with `force`), honouring back-pressure. */
  flush(force?: boolean): Promise<void>;
  /** True once nobody takes output any more (the reader of stdout went away): reading stops. */
  readonly closed: boolean;
}

export interface ReplayCapturesOptions {
  files: readonly string[];
  pipeline: LinePipeline;
  /** Where events go: NDJSON on stdout for a dry run, the outbox for a delivering replay. */
  out: EventOutput;
  /** Receipt time for lines (decides RFC 3164 years, stands in for missing times). Default: each file's mtime, now for stdin. */
  now?: number;
  maxLineBytes?: number;
  nearMissExamples?: number;
  onProgress?: (p: ReplayProgress) => void;
  /**
   * Turns a candidate into events (in input order). Default: up -> connect, down -> disconnect.
   * The session table plugs in here: `(c, at) => sessions.apply(c, at)`.
   */
  toEvents?: (candidate: PtimCandidate, receivedAt: number) => readonly PtimEvent[];
  /** Runs after each chunk's lines (about 1 MiB of input): a place to commit a transaction. */
  afterChunk?: () => void | Promise<void>;
}

/** The default without a session table (pattern coverage, tests): every up is a connect, every down a disconnect. */
export function lineStateEvents(candidate: PtimCandidate): readonly PtimEvent[] {
  return [toEvent(candidate, candidate.line === 'up' ? 'connect' : 'disconnect')];
}

/**
 * Replays captures: each line with a pattern literal goes through the pipeline; each candidate
 * becomes events through `toEvents` (by default up -> connect, down -> disconnect), written to
 * `out` (NDJSON for a dry run, the outbox when delivering). Files are read one after another, in order.
 * @throws BridgeError ERR_INPUT_UNREADABLE for a missing or unreadable file or corrupt gzip.
 */
export async function replayCaptures(options: ReplayCapturesOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const summary: ReplaySummary = {
    files: 0, bytes: 0, lines: 0, hits: 0, oversized: 0, matched: {}, skipped: {}, rejected: {}, rejectedExamples: [], nearMisses: 0, nearMissExamples: [],
    events: { connect: 0, disconnect: 0, rekey: 0 }, elapsedMs: 0, outputClosed: false,
  };
  const maxExamples = options.nearMissExamples ?? 5;
  const toEvents = options.toEvents ?? lineStateEvents;
  // Checked up front, so a typo in the last file fails before the first file's events are printed.
  const infos = options.files.map((f) => captureInfo(f));

  for (const [index, file] of options.files.entries()) {
    if (options.out.closed) break;
    const info = infos[index]!;
    const receivedAt = options.now ?? info.mtimeMs ?? Date.now();
    const msg: ReceivedMessage = { data: Buffer.alloc(0), sender: 'file', receivedAt, transport: 'file' };
    const handle = (outcome: LineOutcome, at: number): void => {
      switch (outcome.kind) {
        case 'candidate': {
          const c = outcome.candidate;
          summary.matched[c.pattern] = (summary.matched[c.pattern] ?? 0) + 1;
          for (const event of toEvents(c, at)) {
            summary.events[event.state]++;
            options.out.write(event);
          }
          break;
        }
        case 'skipped': {
          summary.matched[outcome.ruleId] = (summary.matched[outcome.ruleId] ?? 0) + 1;
          const byRule = (summary.skipped[outcome.reason] ??= {});
          byRule[outcome.ruleId] = (byRule[outcome.ruleId] ?? 0) + 1;
          break;
        }
        case 'rejected': {
          const byRule = (summary.rejected[outcome.reason] ??= {});
          byRule[outcome.ruleId] = (byRule[outcome.ruleId] ?? 0) + 1;
          if (summary.rejectedExamples.length < maxExamples) summary.rejectedExamples.push({ reason: outcome.reason, text: outcome.text });
          break;
        }
        case 'near-miss':
          summary.nearMisses++;
          if (summary.nearMissExamples.length < maxExamples) summary.nearMissExamples.push(outcome.text);
          break;
        case 'noise':
          break;
        default:
          outcome satisfies never;
      }
    };
    const scanner = new ChunkScanner(
      options.pipeline.literals,
      (line) => {
        msg.data = line;
        handle(options.pipeline.processPrefiltered(msg), receivedAt);
      },
      { maxLineBytes: options.maxLineBytes },
    );
    // A packet capture carries one message per UDP datagram, with its own sender and time.
    let pcap: PcapParser | undefined;
    const packetMsg: ReceivedMessage = { data: Buffer.alloc(0), sender: '', receivedAt: 0, transport: 'udp' };
    const feed = (chunk: Buffer, first: boolean): void => {
      if (first && isPacketCapture(chunk)) {
        pcap = new PcapParser((m) => {
          packetMsg.data = m.data;
          packetMsg.sender = m.sender;
          packetMsg.receivedAt = m.receivedAt;
          handle(options.pipeline.process(packetMsg), m.receivedAt);
        });
      }
      if (pcap) pcap.push(chunk);
      else scanner.push(chunk);
    };
    let fileBytes = 0;
    const linesBefore = summary.lines;
    let first = true;
    for await (const chunk of readCapture(file, (n) => (fileBytes += n))) {
      feed(chunk, first);
      first = false;
      await options.afterChunk?.();
      await options.out.flush();
      if (options.out.closed) break;
      const seen = pcap ? pcap.counts.udp : scanner.counts.lines;
      options.onProgress?.({ file, fileBytes, fileSize: info.size, lines: linesBefore + seen, elapsedMs: performance.now() - started });
    }
    if (pcap) {
      pcap.end();
      const p = (summary.packets ??= { packets: 0, udp: 0, skipped: 0, malformed: 0 });
      p.packets += pcap.counts.packets;
      p.udp += pcap.counts.udp;
      p.skipped += pcap.counts.skipped;
      p.malformed += pcap.counts.malformed;
      summary.lines += pcap.counts.udp;
    }
    scanner.end();
    await options.afterChunk?.();
    summary.files++;
    summary.bytes += fileBytes;
    summary.lines += scanner.counts.lines;
    summary.hits += scanner.counts.hits;
    summary.oversized += scanner.counts.oversized;
  }
  await options.out.flush(true);
  summary.elapsedMs = performance.now() - started;
  summary.outputClosed = options.out.closed;
  return summary;
}
