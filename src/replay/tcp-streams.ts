import { FrameDecoder, type FrameSink } from '../ingest/framing.js';

/**
 * TCP syslog out of a packet capture: segments are put back in order per stream (one direction of
 * one connection), then framed with the live listener's RFC 6587 decoder (src/ingest/framing.ts),
 * so octet counting and LF framing give the messages a live TCP listener would have read.
 *
 * What a capture can get wrong, and what happens (each counted, never thrown):
 * - retransmitted or overlapping segments: the bytes already taken are not taken again;
 * - segments out of order: held (up to MAX_HELD_BYTES per stream) until the gap before them fills;
 * - a gap that never fills (the capture lost a segment): the frame it cut is dropped, and reading
 *   goes on after the next LF (`gaps`);
 * - a stream whose SYN the capture did not see (capture started mid-connection): read from its first
 *   LF on, as its first bytes may be the tail of a message (`midstream`); an octet-counted stream
 *   cannot be picked up that way and fails its framing (`badFraming`);
 * - TLS (a stream that starts with a TLS record): encrypted, skipped (`tls`);
 * - a reset: what was not framed yet is lost, as it is live; the capture ending while a frame is
 *   open: that frame is incomplete and dropped (`truncated`). A FIN ends the stream as a live close
 *   does: a last line without LF is still a message.
 */

/** Out-of-order bytes held per stream before the hole before them is declared lost. */
const MAX_HELD_BYTES = 1024 * 1024;
/** Streams tracked at once; past it the oldest idle ones are closed (a capture of a port scan). */
const MAX_STREAMS = 10_000;
const LF = 0x0a;

export interface TcpSegment {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  seq: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  payload: Buffer;
  time: number;
}

export interface TcpCounts {
  /** Streams that carried data. */
  streams: number;
  /** Segments with data. */
  segments: number;
  /** Segments (or parts) seen twice and not taken again. */
  retransmitted: number;
  /** Holes the capture lost: the message they cut was dropped. */
  gaps: number;
  /** Streams the capture joined after their start. */
  midstream: number;
  /** Streams that broke RFC 6587 framing (the rest of such a stream is not read, as live). */
  badFraming: number;
  /** Frames cut by a reset, a gap or the end of the capture. */
  truncated: number;
  /** Streams that carried TLS (encrypted syslog): not readable. */
  tls: number;
  /** Frames over limits.maxMessageBytes, dropped. */
  tooLong: number;
}

export interface TcpMessage {
  data: Buffer;
  sender: string;
  receivedAt: number;
}

interface Stream {
  key: string;
  sender: string;
  next: number;
  decoder: FrameDecoder;
  /** Skip bytes until after the next LF (joined mid-stream, or after a gap). */
  resync: boolean;
  /** Out-of-order segments by sequence number. */
  held: Map<number, Buffer>;
  heldBytes: number;
  finAt: number | undefined;
  sawData: boolean;
  skipped: 'tls' | 'failed' | undefined;
  lastTime: number;
}

export class TcpStreams {
  readonly counts: TcpCounts = { streams: 0, segments: 0, retransmitted: 0, gaps: 0, midstream: 0, badFraming: 0, truncated: 0, tls: 0, tooLong: 0 };
  readonly #streams = new Map<string, Stream>();
  readonly #maxMessageBytes: number;
  readonly #onMessage: (m: TcpMessage) => void;
  // The stream and time being decoded: one sink for all.
  #current: Stream | undefined;
  #time = 0;
  readonly #sink: FrameSink;

  constructor(onMessage: (m: TcpMessage) => void, options: { maxMessageBytes: number }) {
    this.#onMessage = onMessage;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#sink = {
      frame: (data) => this.#onMessage({ data, sender: this.#current!.sender, receivedAt: this.#time }),
      oversized: () => {
        this.counts.tooLong++;
      },
    };
  }

  /** One captured segment, in capture order. */
  segment(seg: TcpSegment): void {
    const key = `${seg.src}\u0000${seg.srcPort}\u0000${seg.dst}\u0000${seg.dstPort}`;
    let stream = this.#streams.get(key);
    if (seg.syn) {
      // A new connection on the same four-tuple ends the old one.
      if (stream !== undefined) this.#close(stream, 'end');
      stream = this.#open(key, seg.src, (seg.seq + 1) >>> 0, false);
    }
    if (stream === undefined) {
      if (seg.rst || (seg.payload.length === 0 && !seg.fin)) return;
      stream = this.#open(key, seg.src, seg.seq, true);
    }
    stream.lastTime = seg.time;
    this.#time = seg.time;
    if (seg.payload.length > 0) {
      this.counts.segments++;
      if (!stream.sawData) {
        stream.sawData = true;
        this.counts.streams++;
        if (stream.resync) this.counts.midstream++;
      }
      const dataSeq = seg.syn ? (seg.seq + 1) >>> 0 : seg.seq;
      this.#data(stream, dataSeq, seg.payload);
    }
    if (seg.fin) stream.finAt = ((seg.syn ? seg.seq + 1 : seg.seq) + seg.payload.length) >>> 0;
    if (seg.rst) {
      this.#close(stream, 'reset');
      return;
    }
    if (stream.finAt !== undefined && stream.next === stream.finAt) this.#close(stream, 'end');
  }

  /** The capture ended: open streams end with it (their unfinished frames are incomplete). */
  end(): void {
    for (const stream of [...this.#streams.values()]) {
      if (stream.held.size > 0) this.#skipGap(stream);
      this.#close(stream, 'cut');
    }
  }

  #open(key: string, sender: string, next: number, midstream: boolean): Stream {
    if (this.#streams.size >= MAX_STREAMS) {
      let oldest: Stream | undefined;
      for (const s of this.#streams.values()) if (oldest === undefined || s.lastTime < oldest.lastTime) oldest = s;
      if (oldest) this.#close(oldest, 'cut');
    }
    const stream: Stream = {
      key, sender, next, decoder: new FrameDecoder({ maxMessageBytes: this.#maxMessageBytes }), resync: midstream,
      held: new Map(), heldBytes: 0, finAt: undefined, sawData: false, skipped: undefined, lastTime: this.#time,
    };
    this.#streams.set(key, stream);
    return stream;
  }

  #data(stream: Stream, seq: number, payload: Buffer): void {
    // Signed distance in sequence space (wraps at 2^32).
    const rel = (seq - stream.next) | 0;
    if (rel > 0) {
      if (stream.held.has(seq) && stream.held.get(seq)!.length >= payload.length) {
        this.counts.retransmitted++;
        return;
      }
      const previous = stream.held.get(seq);
      stream.held.set(seq, Buffer.from(payload));
      stream.heldBytes += payload.length - (previous?.length ?? 0);
      if (stream.heldBytes > MAX_HELD_BYTES) this.#skipGap(stream);
      return;
    }
    let bytes = payload;
    if (rel < 0) {
      if (-rel >= payload.length) {
        this.counts.retransmitted++;
        return;
      }
      this.counts.retransmitted++;
      bytes = payload.subarray(-rel);
    }
    this.#take(stream, bytes);
    this.#drainHeld(stream);
  }

  /** Held segments that now follow on. */
  #drainHeld(stream: Stream): void {
    while (stream.held.size > 0) {
      let progressed = false;
      for (const [seq, bytes] of stream.held) {
        const rel = (seq - stream.next) | 0;
        if (rel > 0) continue;
        stream.held.delete(seq);
        stream.heldBytes -= bytes.length;
        progressed = true;
        if (-rel < bytes.length) this.#take(stream, bytes.subarray(-rel));
        else this.counts.retransmitted++;
      }
      if (!progressed) return;
    }
  }

  /** The bytes before the earliest held segment are lost: drop the frame they cut, go on after it. */
  #skipGap(stream: Stream): void {
    let earliest: number | undefined;
    for (const seq of stream.held.keys()) {
      if (earliest === undefined || ((seq - earliest) | 0) < 0) earliest = seq;
    }
    if (earliest === undefined) return;
    this.counts.gaps++;
    if (stream.skipped === undefined) {
      if (stream.decoder.bufferedBytes > 0) this.counts.truncated++;
      stream.decoder = new FrameDecoder({ maxMessageBytes: this.#maxMessageBytes });
      stream.resync = true;
    }
    stream.next = earliest;
    this.#drainHeld(stream);
  }

  /** In-order bytes of a stream. */
  #take(stream: Stream, bytes: Buffer): void {
    stream.next = (stream.next + bytes.length) >>> 0;
    if (stream.skipped !== undefined) return;
    let data = bytes;
    if (stream.resync) {
      const lf = data.indexOf(LF);
      if (lf < 0) return;
      stream.resync = false;
      data = data.subarray(lf + 1);
      if (data.length === 0) return;
    }
    if (stream.decoder.mode === undefined && stream.decoder.bufferedBytes === 0 && looksLikeTls(data)) {
      stream.skipped = 'tls';
      this.counts.tls++;
      return;
    }
    this.#current = stream;
    const fault = stream.decoder.push(data, this.#sink);
    if (fault) {
      stream.skipped = 'failed';
      if (fault.reason === 'frame-too-long') this.counts.tooLong++;
      else this.counts.badFraming++;
    }
  }

  #close(stream: Stream, how: 'end' | 'reset' | 'cut'): void {
    this.#streams.delete(stream.key);
    if (stream.skipped !== undefined) return;
    if (how === 'end') {
      this.#current = stream;
      if (stream.decoder.end(this.#sink) > 0) this.counts.truncated++;
    } else if (stream.decoder.bufferedBytes > 0 || stream.decoder.end({ frame: () => {}, oversized: () => {} }) > 0) {
      this.counts.truncated++;
    }
  }
}

/** A TLS record header: handshake (22) or application data (23), version 3.x. */
function looksLikeTls(b: Buffer): boolean {
  return b.length >= 3 && (b[0] === 0x16 || b[0] === 0x17) && b[1] === 0x03 && b[2]! <= 0x04;
}
