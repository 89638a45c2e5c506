import { BlockList, isIP } from 'node:net';
import { BridgeError } from '../errors.js';

/**
 * Which senders may inject identities. Syslog over UDP is unauthenticated and a forged line can
 * map an attacker's IP to a privileged user, so only listed networks are heard.
 */
export interface AllowList {
  /** True when the address may send. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is judged as IPv4. */
  allows(address: string): boolean;
  /** True when every sender is allowed (the explicit opt-in). */
  readonly any: boolean;
}

/**
 * Builds an allow-list from addresses and CIDRs (IPv4 or IPv6). An empty list allows nobody;
 * `allowAny` allows everybody (the entries are still validated).
 * @throws BridgeError ERR_CONFIG_INVALID naming the bad entry.
 */
export function createAllowList(cidrs: readonly string[], allowAny = false, key = 'senders.allow'): AllowList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address = '', bits, ...rest] = entry.trim().split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(String(prefix)) || prefix > (family === 6 ? 128 : 32)) {
      const where = key === 'senders.allow' ? 'the sender allow-list (config `senders.allow` or --allow-sender)' : `config \`${key}\``;
      throw new BridgeError('ERR_CONFIG_INVALID', `Expected an address or CIDR like 192.0.2.0/24 or 2001:db8::/32 in ${where}, got ${JSON.stringify(entry)}`, { key });
    }
    const mapped = family === 6 ? mappedV4(address) : undefined;
    if (mapped !== undefined && prefix >= 96) {
      // A CIDR written as ::ffff:a.b.c.d/n means the IPv4 network; store it so.
      list.addSubnet(mapped, prefix - 96, 'ipv4');
    } else {
      list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }
  if (allowAny) return { any: true, allows: () => true };
  const check = (raw: string): boolean => {
    const family = isIP(raw);
    if (family === 4) return list.check(raw, 'ipv4');
    if (family === 6) {
      const v4 = mappedV4(raw);
      return v4 !== undefined ? list.check(v4, 'ipv4') : list.check(raw, 'ipv6');
    }
    return false;
  };
  // BlockList.check builds a SocketAddress per call (~1 us); a relay asks about the same few senders
  // for every datagram and every line. The list never changes, so answers are remembered, in a map
  // emptied when it is full (a flood of spoofed UDP sources cannot grow it without bound).
  const answers = new Map<string, boolean>();
  return {
    any: false,
    allows(raw: string): boolean {
      let answer = answers.get(raw);
      if (answer === undefined) {
        if (answers.size >= MAX_REMEMBERED_SENDERS) answers.clear();
        answer = check(raw);
        answers.set(raw, answer);
      }
      return answer;
    },
  };
}

const MAX_REMEMBERED_SENDERS = 4096;

/**
 * The IPv4 address inside `::ffff:a.b.c.d` (dual-stack sockets report IPv4 peers this way), or
 * inside its canonical IPv6 spelling `::ffff:a14:202` (what URL and the normalizer write).
 */
export function mappedV4(address: string): string | undefined {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (m) return isIP(m[1]!) === 4 ? m[1] : undefined;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The address as the rest of the bridge shows it: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeAddress(address: string): string {
  return mappedV4(address) ?? address;
}
