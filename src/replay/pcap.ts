import { splitDatagram, type DatagramSink } from '../ingest/datagram.js';
import { TcpStreams, type TcpCounts } from './tcp-streams.js';

/**
 * Syslog messages out of packet captures (pcap and pcapng, either byte order), streamed chunk by
 * chunk: each message with the packet's source address as sender and the capture timestamp as
 * receipt time, exactly what a live listener would have seen. UDP datagrams are split by the live
 * listener's splitter (src/ingest/datagram.ts: several lines in one datagram are several
 * messages); TCP is reassembled per stream and framed as RFC 6587 (src/replay/tcp-streams.ts).
 * IP fragments and other protocols are counted, not decoded.
 */

export interface PcapMessage {
  data: Buffer;
  sender: string;
  receivedAt: number;
  transport: 'udp' | 'tcp';
}

export interface PcapCounts {
  packets: number;
  /** UDP datagrams. */
  udp: number;
  /** Syslog messages out of UDP datagrams and TCP streams (counted as lines). */
  messages: number;
  /** Fragments, unknown link or network types, other protocols, outgoing copies of `-i any`. */
  skipped: number;
  /** Records or blocks that could not be parsed. */
  malformed: number;
  /** UDP messages over limits.maxMessageBytes, dropped. */
  tooLong: number;
  tcp: TcpCounts;
}

export interface PcapParserOptions {
  /** Longest message taken (limits.maxMessageBytes); longer ones are dropped and counted. */
  maxMessageBytes?: number;
  /** A UDP datagram's lines are messages of their own (limits.splitDatagramLines, as live). Default false. */
  splitDatagramLines?: boolean;
}

/** True when the first bytes are a pcap or pcapng file header. */
export function isPacketCapture(head: Buffer): boolean {
  if (head.length < 4) return false;
  const m = head.readUInt32LE(0);
  return m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1 || m === 0x0a0d0d0a;
}

/**
 * Stateful parser: `push` chunks in order, then `end`; `onMessage` gets each syslog message (a
 * view, valid during the call). Never throws on malformed input: it counts it and stops at a broken
 * record (the rest of a corrupt file cannot be framed reliably).
 */
export class PcapParser {
  readonly counts: PcapCounts;
  readonly #onMessage: (m: PcapMessage) => void;
  readonly #maxMessageBytes: number;
  readonly #splitDatagramLines: boolean;
  readonly #tcp: TcpStreams;
  readonly #udpSink: DatagramSink;
  #udpSender = '';
  #udpTime = 0;
  #pending: Buffer = Buffer.alloc(0);
  #kind: 'unknown' | 'pcap' | 'pcapng' | 'broken' = 'unknown';
  #le = true;
  #nanos = false;
  #linkType = 1;
  /** pcapng: link type and timestamp unit (ticks per second) per interface. */
  #interfaces: Array<{ linkType: number; ticksPerSecond: number }> = [];
  #lastTime = 0;

  constructor(onMessage: (m: PcapMessage) => void, options: PcapParserOptions = {}) {
    this.#onMessage = onMessage;
    this.#maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
    this.#splitDatagramLines = options.splitDatagramLines ?? false;
    this.#tcp = new TcpStreams((m) => {
      this.counts.messages++;
      this.#onMessage({ data: m.data, sender: m.sender, receivedAt: m.receivedAt, transport: 'tcp' });
    }, { maxMessageBytes: this.#maxMessageBytes });
    this.counts = { packets: 0, udp: 0, messages: 0, skipped: 0, malformed: 0, tooLong: 0, tcp: this.#tcp.counts };
    this.#udpSink = {
      message: (data) => {
        this.counts.messages++;
        this.#onMessage({ data, sender: this.#udpSender, receivedAt: this.#udpTime, transport: 'udp' });
      },
      tooLong: () => {
        this.counts.tooLong++;
      },
    };
  }

  push(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let pos = 0;
    const buf = this.#pending;
    for (;;) {
      const used = this.#step(buf, pos);
      if (used <= 0) break;
      pos += used;
    }
    // Keep only the unparsed tail (copied, as the chunk's memory may be reused).
    this.#pending = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
  }

  /** Ends the input: a truncated last record is counted as malformed; open TCP streams end. */
  end(): void {
    if (this.#pending.length > 0 && this.#kind !== 'broken') this.counts.malformed++;
    this.#pending = Buffer.alloc(0);
    this.#tcp.end();
  }

  /** Parses one header/record/block at pos; returns bytes used, 0 when more input is needed. */
  #step(buf: Buffer, pos: number): number {
    const left = buf.length - pos;
    switch (this.#kind) {
      case 'broken':
        return 0;
      case 'unknown': {
        if (left < 24) return 0;
        const magic = buf.readUInt32LE(pos);
        if (magic === 0x0a0d0d0a) {
          this.#kind = 'pcapng';
          return this.#pcapngBlock(buf, pos);
        }
        if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.#le = true;
        else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.#le = false;
        else return this.#broken();
        this.#nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
        this.#kind = 'pcap';
        this.#linkType = this.#u32(buf, pos + 20) & 0x0fffffff;
        return 24;
      }
      case 'pcap': {
        if (left < 16) return 0;
        const sec = this.#u32(buf, pos);
        const frac = this.#u32(buf, pos + 4);
        const capLen = this.#u32(buf, pos + 8);
        if (capLen > 16 * 1024 * 1024) return this.#broken();
        if (left < 16 + capLen) return 0;
        const ms = sec * 1000 + (this.#nanos ? Math.floor(frac / 1e6) : Math.floor(frac / 1e3));
        this.#packet(this.#linkType, buf.subarray(pos + 16, pos + 16 + capLen), ms);
        return 16 + capLen;
      }
      case 'pcapng':
        return this.#pcapngBlock(buf, pos);
      default:
        return this.#kind satisfies never;
    }
  }

  #pcapngBlock(buf: Buffer, pos: number): number {
    const left = buf.length - pos;
    if (left < 12) return 0;
    const type = buf.readUInt32LE(pos);
    if (type === 0x0a0d0d0a) {
      // Section header: its byte-order magic decides how to read this section.
      const bom = buf.readUInt32LE(pos + 8);
      if (bom === 0x1a2b3c4d) this.#le = true;
      else if (bom === 0x4d3c2b1a) this.#le = false;
      else return this.#broken();
      this.#interfaces = [];
    }
    const len = this.#u32(buf, pos + 4);
    if (len < 12 || len % 4 !== 0 || len > 16 * 1024 * 1024) return this.#broken();
    if (left < len) return 0;
    const blockType = this.#u32(buf, pos);
    const body = buf.subarray(pos + 8, pos + len - 4);
    if (blockType === 1 && body.length >= 8) {
      this.#interfaces.push({ linkType: this.#u16(body, 0), ticksPerSecond: this.#tsResolution(body.subarray(8)) });
    } else if (blockType === 6 && body.length >= 20) {
      const iface = this.#interfaces[this.#u32(body, 0)];
      const capLen = this.#u32(body, 12);
      if (!iface || 20 + capLen > body.length) {
        this.counts.malformed++;
      } else {
        // Nanosecond ticks since 1970 exceed 2^53: divide exactly in BigInt.
        const ticks = (BigInt(this.#u32(body, 4)) << 32n) | BigInt(this.#u32(body, 8));
        this.#packet(iface.linkType, body.subarray(20, 20 + capLen), Number((ticks * 1000n) / BigInt(iface.ticksPerSecond)));
      }
    } else if (blockType === 3 && body.length >= 4) {
      // Simple packet block: no timestamp; interface 0.
      const iface = this.#interfaces[0];
      // It carries no time: take the previous packet's, so output stays deterministic.
      if (iface) this.#packet(iface.linkType, body.subarray(4, 4 + Math.min(this.#u32(body, 0), body.length - 4)), this.#lastTime);
    }
    return len;
  }

  /** if_tsresol option (code 9) of an interface description; default microseconds. */
  #tsResolution(options: Buffer): number {
    let p = 0;
    while (p + 4 <= options.length) {
      const code = this.#u16(options, p);
      const len = this.#u16(options, p + 2);
      if (code === 0) break;
      if (code === 9 && len >= 1 && p + 4 < options.length) {
        const v = options[p + 4]!;
        const exp = v & 0x7f;
        // Beyond these a tick is finer than anything real; a crafted value must not break the maths.
        if ((v & 0x80 && exp > 60) || (!(v & 0x80) && exp > 18)) return 1e6;
        return v & 0x80 ? 2 ** exp : 10 ** exp;
      }
      p += 4 + Math.ceil(len / 4) * 4;
    }
    return 1e6;
  }

  #packet(linkType: number, frame: Buffer, receivedAt: number): void {
    this.counts.packets++;
    this.#lastTime = receivedAt;
    let ip: Buffer | undefined;
    let etherType = -1;
    switch (linkType) {
      case 1: { // Ethernet, with any number of VLAN tags
        let p = 12;
        etherType = frame.length >= 14 ? frame.readUInt16BE(12) : -1;
        while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= p + 6) {
          p += 4;
          etherType = frame.readUInt16BE(p);
        }
        ip = frame.subarray(p + 2);
        break;
      }
      case 113: // Linux cooked capture (SLL)
        // `tcpdump -i any` sees a loopback packet twice, going out and coming in: keep what came in.
        if (frame.length >= 2 && frame.readUInt16BE(0) === PACKET_OUTGOING) return this.#skip();
        etherType = frame.length >= 16 ? frame.readUInt16BE(14) : -1;
        ip = frame.subarray(16);
        break;
      case 276: // SLL2
        if (frame.length >= 11 && frame[10] === PACKET_OUTGOING) return this.#skip();
        etherType = frame.length >= 20 ? frame.readUInt16BE(0) : -1;
        ip = frame.subarray(20);
        break;
      case 0: // BSD loopback: 4-byte address family in host order
        ip = frame.subarray(4);
        break;
      case 101: case 228: case 229: case 12: case 14: // raw IP
        ip = frame;
        break;
      default:
        this.counts.skipped++;
        return;
    }
    if (etherType !== -1 && etherType !== 0x0800 && etherType !== 0x86dd) {
      this.counts.skipped++;
      return;
    }
    this.#ip(ip, receivedAt);
  }

  #ip(ip: Buffer, receivedAt: number): void {
    if (ip.length < 1) return this.#skip();
    const version = ip[0]! >> 4;
    let payload: Buffer;
    let sender: string;
    let protocol: number;
    let dst: Buffer;
    if (version === 4) {
      const ihl = (ip[0]! & 0x0f) * 4;
      if (ip.length < ihl + 8 || ihl < 20) return this.#skip();
      const flagsFrag = ip.readUInt16BE(6);
      // A fragment (more-fragments set or an offset) cannot be read alone.
      if ((flagsFrag & 0x2000) !== 0 || (flagsFrag & 0x1fff) !== 0) return this.#skip();
      protocol = ip[9]!;
      // The IP length, not the frame's: Ethernet pads short frames with zeros.
      const total = Math.min(ip.readUInt16BE(2) || ip.length, ip.length);
      payload = ip.subarray(ihl, total);
      sender = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
      dst = ip.subarray(16, 20);
    } else if (version === 6) {
      if (ip.length < 48) return this.#skip();
      protocol = ip[6]!; // extension headers: not followed (rare for syslog)
      payload = ip.subarray(40, Math.min(40 + ip.readUInt16BE(4), ip.length));
      sender = ipv6Text(ip.subarray(8, 24));
      dst = ip.subarray(24, 40);
    } else {
      return this.#skip();
    }
    if (protocol === 17) {
      if (payload.length < 8) return this.#skip();
      const udpLen = payload.readUInt16BE(4);
      const data = payload.subarray(8, udpLen >= 8 ? Math.min(udpLen, payload.length) : payload.length);
      this.counts.udp++;
      this.#udpSender = sender;
      this.#udpTime = receivedAt;
      splitDatagram(data, this.#maxMessageBytes, this.#udpSink, this.#splitDatagramLines);
      return;
    }
    if (protocol === 6) {
      if (payload.length < 20) return this.#skip();
      const offset = (payload[12]! >> 4) * 4;
      if (offset < 20 || offset > payload.length) return this.#skip();
      const flags = payload[13]!;
      this.#tcp.segment({
        src: sender,
        srcPort: payload.readUInt16BE(0),
        dst: dst.length === 4 ? `${dst[0]}.${dst[1]}.${dst[2]}.${dst[3]}` : ipv6Text(dst),
        dstPort: payload.readUInt16BE(2),
        seq: payload.readUInt32BE(4),
        fin: (flags & 0x01) !== 0,
        syn: (flags & 0x02) !== 0,
        rst: (flags & 0x04) !== 0,
        payload: payload.subarray(offset),
        time: receivedAt,
      });
      return;
    }
    return this.#skip();
  }

  #skip(): void {
    this.counts.skipped++;
  }

  #broken(): number {
    this.counts.malformed++;
    this.#kind = 'broken';
    return 0;
  }

  #u32(b: Buffer, p: number): number {
    return this.#le ? b.readUInt32LE(p) : b.readUInt32BE(p);
  }

  #u16(b: Buffer, p: number): number {
    return this.#le ? b.readUInt16LE(p) : b.readUInt16BE(p);
  }
}

/** Linux packet type of a frame the capturing host sent (linux/if_packet.h). */
const PACKET_OUTGOING = 4;

/** RFC 5952 text of a 16-byte IPv6 address (longest run of zero groups compressed). */
export function ipv6Text(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
