/**
 * Builds small packet captures for tests: Ethernet (optionally VLAN-tagged) + IPv4/IPv6 + UDP or
 * TCP frames, written as pcap (either byte order) or pcapng. (Captures tcpdump made of real
 * traffic are in fixtures/replay-formats/; these cover what a real capture rarely shows on demand.)
 */
export interface TestPacket {
  src: string;
  dst?: string;
  /** Payload bytes (a syslog message). */
  payload: Buffer | string;
  timeMs: number;
  protocol?: 'udp' | 'tcp';
  vlan?: boolean;
  fragment?: boolean;
  /** TCP only: source port, sequence number and flags. */
  srcPort?: number;
  seq?: number;
  flags?: { syn?: boolean; fin?: boolean; rst?: boolean };
  /** Zero bytes after the IP packet (Ethernet pads short frames to 60 bytes). */
  padding?: number;
}

function ipv4Bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}

export function frame(p: TestPacket): Buffer {
  const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
  let l4: Buffer;
  if (p.protocol === 'tcp') {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(p.srcPort ?? 40000, 0);
    tcp.writeUInt16BE(514, 2);
    tcp.writeUInt32BE((p.seq ?? 1) >>> 0, 4);
    tcp[12] = 5 << 4;
    tcp[13] = (p.flags?.fin ? 0x01 : 0) | (p.flags?.syn ? 0x02 : 0) | (p.flags?.rst ? 0x04 : 0) | 0x10;
    l4 = Buffer.concat([tcp, payload]);
  } else {
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(p.srcPort ?? 51514, 0);
    udp.writeUInt16BE(514, 2);
    udp.writeUInt16BE(8 + payload.length, 4);
    l4 = Buffer.concat([udp, payload]);
  }
  const proto = p.protocol === 'tcp' ? 6 : 17;
  let ip: Buffer;
  let etherType: number;
  if (p.src.includes(':')) {
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(l4.length, 4);
    h[6] = proto;
    h[7] = 64;
    ipv6Bytes(p.src).copy(h, 8);
    ipv6Bytes(p.dst ?? '2001:db8::1').copy(h, 24);
    ip = Buffer.concat([h, l4]);
    etherType = 0x86dd;
  } else {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + l4.length, 2);
    if (p.fragment) h.writeUInt16BE(0x2000, 6);
    h[8] = 64;
    h[9] = proto;
    ipv4Bytes(p.src).copy(h, 12);
    ipv4Bytes(p.dst ?? '192.0.2.1').copy(h, 16);
    ip = Buffer.concat([h, l4]);
    etherType = 0x0800;
  }
  const eth = Buffer.alloc(p.vlan ? 18 : 14);
  if (p.vlan) {
    eth.writeUInt16BE(0x8100, 12);
    eth.writeUInt16BE(42, 14);
    eth.writeUInt16BE(etherType, 16);
  } else {
    eth.writeUInt16BE(etherType, 12);
  }
  return Buffer.concat([eth, ip, Buffer.alloc(p.padding ?? 0)]);
}

export function pcap(packets: readonly TestPacket[], options: { bigEndian?: boolean } = {}): Buffer {
  const be = options.bigEndian ?? false;
  const u32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  const u16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const header = Buffer.alloc(24);
  u32(header, 0xa1b2c3d4, 0);
  u16(header, 2, 4);
  u16(header, 4, 6);
  u32(header, 65535, 16);
  u32(header, 1, 20);
  const records = packets.map((p) => {
    const f = frame(p);
    const r = Buffer.alloc(16);
    u32(r, Math.floor(p.timeMs / 1000), 0);
    u32(r, (p.timeMs % 1000) * 1000, 4);
    u32(r, f.length, 8);
    u32(r, f.length, 12);
    return Buffer.concat([r, f]);
  });
  return Buffer.concat([header, ...records]);
}

export function pcapng(packets: readonly TestPacket[]): Buffer {
  const block = (type: number, body: Buffer): Buffer => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const len = padded.length + 12;
    const b = Buffer.alloc(len);
    b.writeUInt32LE(type, 0);
    b.writeUInt32LE(len, 4);
    padded.copy(b, 8);
    b.writeUInt32LE(len, len - 4);
    return b;
  };
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  // Interface with if_tsresol = 9 (nanoseconds), to exercise the option.
  const idb = Buffer.alloc(16);
  idb.writeUInt16LE(1, 0);
  idb.writeUInt32LE(65535, 4);
  idb.writeUInt16LE(9, 8);
  idb.writeUInt16LE(1, 10);
  idb[12] = 9;
  const epbs = packets.map((p) => {
    const f = frame(p);
    const h = Buffer.alloc(20);
    const ticks = BigInt(p.timeMs) * 1_000_000n;
    h.writeUInt32LE(0, 0);
    h.writeUInt32LE(Number(ticks >> 32n), 4);
    h.writeUInt32LE(Number(ticks & 0xffffffffn), 8);
    h.writeUInt32LE(f.length, 12);
    h.writeUInt32LE(f.length, 16);
    return block(6, Buffer.concat([h, f]));
  });
  return Buffer.concat([block(0x0a0d0d0a, shb), block(1, idb), ...epbs]);
}
