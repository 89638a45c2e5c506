import type { PtimEvent, PtimState } from '../events/ptim-event.js';
import { BridgeError } from '../errors.js';
import type { EventSink } from '../flow/event-sink.js';
import type { LineOutcome, LinePipeline } from '../flow/pipeline.js';
import type { ReceivedMessage } from '../flow/pipeline-records.js';
import { LINE_STATES, Tick, type TickTable } from '../flow/tick.js';
import { CsvReader } from './csv-records.js';
import { emptyRecordCounts, type RecordCounts } from './export-records.js';
import { detectFormat, type DetectedFormat, type FieldNames, type InputFormat } from './input-format.js';
import { JsonLinesReader, type ExportRecord } from './json-lines.js';
import { isPacketCapture, PcapParser, type PcapCounts } from './pcap.js';
import { captureInfo, readCapture } from './read-capture.js';
import { ChunkScanner } from './scan-chunk.js';
import type { TcpCounts } from './tcp-streams.js';

/** What a replay saw, for the summary on stderr (and for tests and the bench). */
export interface ReplaySummary {
  files: number;
  /** Bytes read from the sources (compressed bytes for gzip, xz, bzip2, zstd). */
  bytes: number;
  /** Text lines, export records, or syslog messages out of packets. */
  lines: number;
  /** Lines that contained a pattern literal and were parsed. */
  hits: number;
  oversized: number;
  /** Files per input kind: `syslog`, `pcap`, `json/journal`, `csv/splunk`, ... */
  inputs: Record<string, number>;
  /** Matched lines per rule id (skipped ones included). */
  matched: Record<string, number>;
  /** Skipped matches: reason -> rule id -> count. */
  skipped: Record<string, Record<string, number>>;
  /** Refused lines (a rule matched, the line could forge a mapping): reason -> rule id -> count. */
  rejected: Record<string, Record<string, number>>;
  /** The first refused lines, verbatim, with their reason and where they are (`file:line`, or the packet's sender and time). */
  rejectedExamples: Array<{ reason: string; text: string; where?: string }>;
  nearMisses: number;
  /** Matched lines the session table applied no event for, by reason (stale-line, duplicate, ...); replay through the table only. */
  ignored?: Readonly<Record<string, number>>;
  /** The first near misses, verbatim (as the patterns saw them). */
  nearMissExamples: string[];
  events: Record<PtimState, number>;
  elapsedMs: number;
  /** The output's reader went away (`| head`): reading stopped early. */
  outputClosed: boolean;
  /** Packet captures only: packets seen, UDP datagrams, TCP streams, messages taken, packets skipped or malformed. */
  packets?: PcapCounts;
  /** Exports (JSON lines, CSV) only: records read and the ones with problems. */
  records?: RecordCounts;
  /** With --since/--until: matched lines whose time was outside the range (not applied). */
  outOfRange?: { before: number; after: number };
  /** With --final-state: connects of sessions live at the end (written), events held back. */
  finalState?: { live: number; withheld: number };
}

export interface ReplayProgress {
  file: string;
  fileBytes: number;
  fileSize: number | undefined;
  lines: number;
  elapsedMs: number;
}

/** How the captures are read and what of them is delivered (the `replay` flags). */
export interface CaptureInput {
  /** `auto` (default) decides per file from its content. */
  format?: InputFormat;
  /** Export fields for the text, time, host, daemon and PID (`--field`). */
  fields?: FieldNames;
  /** Only lines timed at or after this (ms) are applied. */
  since?: number;
  /** Only lines timed before this (ms) are applied. */
  until?: number;
  /**
   * Deliver only what JIMS must hold at the end: the connect of each session still live when the
   * captures end, nothing of sessions that ended. The session table still sees every line.
   */
  finalState?: boolean;
}

export interface ReplayCapturesOptions extends CaptureInput {
  files: readonly string[];
  pipeline: LinePipeline;
  /**
   * Where events go (NDJSON on stdout for a dry run, the outbox for a delivering replay, a count
   * for coverage). Its `flush` is awaited after every read chunk and `closed` ends reading.
   */
  sink: EventSink;
  /**
   * What candidates are applied to, one tick (transaction) per read chunk: the session table on
   * the capture's clock. Default `LINE_STATES`: up -> connect, down -> disconnect.
   */
  table?: TickTable;
  /** Receipt time for lines (decides RFC 3164 years, stands in for missing times). Default: each file's mtime, now for stdin. */
  now?: number;
  maxLineBytes?: number;
  /** A UDP datagram in a packet capture holds one message per line (limits.splitDatagramLines). */
  splitDatagramLines?: boolean;
  nearMissExamples?: number;
  onProgress?: (p: ReplayProgress) => void;
  /**
   * With `finalState`: the sessions the table holds at the end (device, ip). A connect is written
   * only for a session listed here; without it, every session whose last event was not a
   * disconnect counts as live.
   */
  liveSessions?: () => Iterable<{ device: string; ip: string }>;
}

/** Bytes a file's format is judged on (or the whole file, when shorter). */
const DETECT_BYTES = 64 * 1024;

interface Reader {
  push(chunk: Buffer): void;
  end(): void;
  /** Lines (records, messages) seen so far. */
  seen(): number;
}

/**
 * Replays captures: each line with a pattern literal goes through the pipeline; each candidate
 * goes through `table` (by default up -> connect, down -> disconnect) to `sink` (NDJSON for a dry
 * run, the outbox when delivering), one tick (src/flow/tick.ts) per read chunk, as live intake has
 * one per event-loop turn. Files are read one after another, in order; each file's format is found
 * from its content (src/replay/input-format.ts) unless `format` says. With `since`/`until` only lines timed in [since, until) are applied; with
 * `finalState` only the connects of the sessions live at the end are written.
 * @throws BridgeError ERR_INPUT_UNREADABLE for a missing or unreadable file, corrupt compressed
 *   data or a missing decompression tool; ERR_INPUT_FORMAT for binary or unknown input.
 */
export async function replayCaptures(options: ReplayCapturesOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const summary: ReplaySummary = {
    files: 0, bytes: 0, lines: 0, hits: 0, oversized: 0, inputs: {}, matched: {}, skipped: {}, rejected: {}, rejectedExamples: [], nearMisses: 0, nearMissExamples: [],
    events: { connect: 0, disconnect: 0, rekey: 0 }, elapsedMs: 0, outputClosed: false,
  };
  const maxExamples = options.nearMissExamples ?? 5;
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  const sink = options.sink;
  const fields = options.fields ?? {};
  const format = options.format ?? 'auto';
  const { since, until } = options;
  if (since !== undefined || until !== undefined) summary.outOfRange = { before: 0, after: 0 };
  // --final-state: the connect that opened each session, by device and IP, in the order they opened.
  const held = options.finalState ? new Map<string, PtimEvent>() : undefined;
  let withheld = 0;
  // Checked up front, so a typo in the last file fails before the first file's events are printed.
  const infos = options.files.map((f) => captureInfo(f));

  // Between the table and `sink`: counts what is passed on, or (--final-state) holds it back.
  let passed = false;
  const counted: EventSink = {
    queue(events, receivedAt) {
      if (held === undefined) {
        for (const event of events) summary.events[event.state]++;
        passed = true;
        sink.queue(events, receivedAt);
        return;
      }
      for (const event of events) {
        withheld++;
        const key = `${event.device}\u0000${event.ip}`;
        if (event.state === 'connect') {
          held.delete(key);
          held.set(key, event);
        } else if (event.state === 'disconnect') {
          held.delete(key);
        }
      }
    },
    beforeCommit: () => {
      if (passed) sink.beforeCommit?.();
    },
    committed: () => {
      if (passed) sink.committed();
      passed = false;
    },
    discard: () => {
      if (passed) sink.discard?.();
      passed = false;
    },
  };
  const tick = new Tick({ table: options.table ?? LINE_STATES, sink: counted });
  const closed = (): boolean => sink.closed === true;

  /** A refused line: the field-integrity reasons, and replay's own `continuation-line`. */
  const reject = (reason: string, ruleId: string, text: string, where: () => string): void => {
    const byRule = (summary.rejected[reason] ??= {});
    byRule[ruleId] = (byRule[ruleId] ?? 0) + 1;
    if (summary.rejectedExamples.length < maxExamples) summary.rejectedExamples.push({ reason, text, where: where() });
  };

  const handle = (outcome: LineOutcome, at: number, where: () => string): void => {
    switch (outcome.kind) {
      case 'candidate': {
        const c = outcome.candidate;
        summary.matched[c.pattern] = (summary.matched[c.pattern] ?? 0) + 1;
        if (summary.outOfRange !== undefined) {
          const t = Date.parse(c.time);
          if (since !== undefined && !(t >= since)) {
            summary.outOfRange.before++;
            break;
          }
          if (until !== undefined && !(t < until)) {
            summary.outOfRange.after++;
            break;
          }
        }
        tick.apply(c, at);
        break;
      }
      case 'skipped': {
        summary.matched[outcome.ruleId] = (summary.matched[outcome.ruleId] ?? 0) + 1;
        const byRule = (summary.skipped[outcome.reason] ??= {});
        byRule[outcome.ruleId] = (byRule[outcome.ruleId] ?? 0) + 1;
        break;
      }
      case 'rejected':
        reject(outcome.reason, outcome.ruleId, outcome.text, where);
        break;
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

  for (const [index, file] of options.files.entries()) {
    if (closed()) break;
    const info = infos[index]!;
    const receivedAt = options.now ?? info.mtimeMs ?? Date.now();
    const name = file === '-' ? 'stdin' : file;
    const zones = options.pipeline.zones;
    let reader: Reader | undefined;
    let kind: DetectedFormat | undefined;
    let pcap: PcapParser | undefined;
    let scanner: ChunkScanner | undefined;
    let exportReader: JsonLinesReader | CsvReader | undefined;

    const start = (head: Buffer): Reader => {
      kind = format === 'auto' ? detectFormat(head, file, fields) : format;
      switch (kind) {
        case 'syslog': {
          const msg: ReceivedMessage = { data: Buffer.alloc(0), sender: 'file', receivedAt, transport: 'file' };
          let lineNo = 0;
          const where = () => `${name}:${lineNo}`;
          const s = new ChunkScanner(options.pipeline.literals, (line, n) => {
            msg.data = line;
            lineNo = n;
            const outcome = options.pipeline.processPrefiltered(msg);
            // An indented line continues the message before it (journalctl -o short*, relays that
            // indent a multi-line message): it held a line break, and a line break inside a message
            // is refused live. Read alone it would lose its daemon and pass as a message of its own.
            if ((line[0] === 0x20 || line[0] === 0x09) && (outcome.kind === 'candidate' || outcome.kind === 'skipped')) {
              const ruleId = outcome.kind === 'candidate' ? outcome.candidate.pattern : outcome.ruleId;
              reject('continuation-line', ruleId, line.toString('utf8').trim(), where);
              return;
            }
            handle(outcome, receivedAt, where);
          }, { maxLineBytes });
          scanner = s;
          return { push: (c) => s.push(c), end: () => s.end(), seen: () => s.counts.lines };
        }
        case 'pcap': {
          if (!isPacketCapture(head)) {
            throw new BridgeError('ERR_INPUT_FORMAT', `${file === '-' ? 'standard input' : file} is not a pcap or pcapng file (--format pcap): its first bytes are ${head.subarray(0, 4).toString('hex')}. Leave --format out to have the format found from the content.`, { file });
          }
          // A packet carries its own sender and time, exactly what a listener would have seen.
          const msg: ReceivedMessage = { data: Buffer.alloc(0), sender: '', receivedAt: 0, transport: 'udp' };
          const p = new PcapParser((m) => {
            msg.data = m.data;
            msg.sender = m.sender;
            msg.receivedAt = m.receivedAt;
            msg.transport = m.transport;
            handle(options.pipeline.process(msg), m.receivedAt, () => `${name}: packet from ${m.sender} at ${new Date(m.receivedAt).toISOString()}`);
          }, { maxMessageBytes: maxLineBytes, splitDatagramLines: options.splitDatagramLines ?? false });
          pcap = p;
          return { push: (c) => p.push(c), end: () => p.end(), seen: () => p.counts.messages };
        }
        case 'json':
        case 'csv': {
          const msg: ReceivedMessage = { data: Buffer.alloc(0), sender: 'file', receivedAt, transport: 'file' };
          const onRecord = (r: ExportRecord): void => {
            msg.data = r.text;
            msg.recorded = r.recorded;
            handle(options.pipeline.process(msg), receivedAt, () => `${name}:${r.lineNo}`);
          };
          const common = { file, fields, zones, literals: options.pipeline.literals, maxExamples, onRecord };
          if (kind === 'json') {
            const j = new JsonLinesReader({ ...common, maxLineBytes });
            exportReader = j;
            return { push: (c) => j.push(c), end: () => j.end(), seen: () => j.counts.lines };
          }
          const c = new CsvReader({ ...common, maxRecordBytes: maxLineBytes });
          exportReader = c;
          return { push: (b) => c.push(b), end: () => c.end(), seen: () => c.records.read };
        }
        default:
          return kind satisfies never;
      }
    };

    let fileBytes = 0;
    const linesBefore = summary.lines;
    // The format is judged on at least DETECT_BYTES (decompressors hand out small first pieces).
    let head: Buffer[] = [];
    let headBytes = 0;
    // A chunk is ours only until the next one (read-capture.ts reuses its buffer): every reader
    // (text, pcap, JSON lines, CSV) copies what it keeps past a push, and so does the head here.
    for await (const chunk of readCapture(file, (n) => (fileBytes += n))) {
      if (reader === undefined) {
        head.push(head.length === 0 ? chunk : Buffer.from(chunk));
        headBytes += chunk.length;
        if (headBytes < DETECT_BYTES) continue;
        const whole = head.length === 1 ? head[0]! : Buffer.concat(head);
        head = [];
        const r = start(whole);
        reader = r;
        tick.run(() => r.push(whole));
      } else {
        const r = reader;
        tick.run(() => r.push(chunk));
      }
      await sink.flush?.();
      if (closed()) break;
      options.onProgress?.({ file, fileBytes, fileSize: info.size, lines: linesBefore + reader.seen(), elapsedMs: performance.now() - started });
    }
    if (reader === undefined && headBytes > 0 && !closed()) {
      const whole = Buffer.concat(head);
      const r = start(whole);
      reader = r;
      tick.run(() => r.push(whole));
    }
    const last = reader;
    if (last !== undefined) tick.run(() => last.end());
    summary.files++;
    summary.bytes += fileBytes;
    const inputName = exportReader?.layout ? `${kind}/${exportReader.layout.name}` : kind ?? 'syslog';
    summary.inputs[inputName] = (summary.inputs[inputName] ?? 0) + 1;
    if (scanner) {
      summary.lines += scanner.counts.lines;
      summary.hits += scanner.counts.hits;
      summary.oversized += scanner.counts.oversized;
    }
    if (pcap) {
      addPcapCounts((summary.packets ??= emptyPcapCounts()), pcap.counts);
      summary.lines += pcap.counts.messages;
      summary.oversized += pcap.counts.tooLong + pcap.counts.tcp.tooLong;
    }
    if (exportReader) {
      const r = (summary.records ??= emptyRecordCounts());
      const mine = exportReader.records;
      r.read += mine.read;
      r.noText += mine.noText;
      r.badTime += mine.badTime;
      r.malformed += mine.malformed;
      for (const e of mine.examples) if (r.examples.length < maxExamples) r.examples.push(e);
      summary.lines += mine.read;
      summary.hits += exportReader.counts.hits;
      summary.oversized += exportReader.counts.oversized;
    }
  }
  if (held !== undefined) {
    const live = options.liveSessions ? new Set([...options.liveSessions()].map((s) => `${s.device}\u0000${s.ip}`)) : undefined;
    const final: PtimEvent[] = [];
    for (const [key, event] of held) {
      if (live !== undefined && !live.has(key)) continue;
      summary.events[event.state]++;
      final.push(event);
    }
    // Straight to the sink: these are the held-back events themselves. The table has no part in it.
    const direct = new Tick({ table: LINE_STATES, sink });
    direct.run(() => direct.queue(final, Date.now()));
    summary.finalState = { live: final.length, withheld };
  }
  await sink.flush?.(true);
  summary.elapsedMs = performance.now() - started;
  summary.outputClosed = closed();
  return summary;
}

function emptyTcpCounts(): TcpCounts {
  return { streams: 0, segments: 0, retransmitted: 0, gaps: 0, midstream: 0, badFraming: 0, truncated: 0, tls: 0, tooLong: 0 };
}

function emptyPcapCounts(): PcapCounts {
  return { packets: 0, udp: 0, messages: 0, skipped: 0, malformed: 0, tooLong: 0, tcp: emptyTcpCounts() };
}

function addPcapCounts(into: PcapCounts, add: PcapCounts): void {
  into.packets += add.packets;
  into.udp += add.udp;
  into.messages += add.messages;
  into.skipped += add.skipped;
  into.malformed += add.malformed;
  into.tooLong += add.tooLong;
  for (const k of Object.keys(into.tcp) as Array<keyof TcpCounts>) into.tcp[k] += add.tcp[k];
}
