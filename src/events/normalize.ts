import { isIPv4, isIPv6 } from 'node:net';
import type { Config } from '../config.js';
import type { Envelope, PatternMatch, ReceivedMessage } from '../flow/pipeline-records.js';
import { mappedV4 } from '../ingest/allow-list.js';
import { alarmText } from '../patterns/alarm-message.js';
import { isoTime } from './iso-time.js';
import { MISSING_DOMAIN, type PtimCandidate, type PtimFlag } from './ptim-event.js';

/**
 * From a matched line to a PTIM candidate, by the rules of JUNOS-LOGS.md §3. Pure: the same match,
 * envelope and message always give the same candidate (and so the same event id downstream).
 */

export type SkipReason = 'no-client-address' | 'no-user';

export type NormalizeResult = { kind: 'candidate'; candidate: PtimCandidate } | { kind: 'skipped'; reason: SkipReason };

/** `Not-applicable` (iked), `Not-Applicable` (kmd), `Not-Available`: the field holds no value. */
const NOT_A_VALUE = /^(?:Not-?Applicable|Not-?Available|N\/A|none|-)?$/i;

/**
 * Builds the candidate for one matched line.
 *
 * - user: `AAA username`; when that is Not-applicable, the `Remote IKE-ID` (dial-up without AAA,
 *   where the IKE id names the person, e.g. `alice@cert.example`). A Remote IKE-ID that starts with
 *   `@` is Junos' notation for a hostname-type id: with AAA Not-applicable that is a shared group id
 *   (`@ra.auth`), not a person, so the line is skipped as `no-user` rather than mapping every client
 *   to one fake user; so is an address-type id (`198.51.100.23`). A distinguished-name id yields
 *   its CN.
 * - domain: from `user@dom` (split at the last `@`) or `DOM\user` (split at the first `\`), the
 *   user keeping just the name; else `vpns.<vpn>.domain`; else MISSING_DOMAIN with flag
 *   `domain-missing`.
 * - ip: the single address of the remote traffic selector; IPv4 goes to `ip` and IPv6 to `ipv6`
 *   when the client has both, a lone IPv6 goes to `ip`; an IPv4-mapped IPv6 address is its IPv4 one.
 *   No single address (site-to-site), or one no client holds (unspecified, loopback, broadcast,
 *   multicast) -> skipped `no-client-address`.
 * - time: the envelope's, else receipt; device: the envelope's host, else the sender address.
 * Never throws.
 */
export function normalize(match: PatternMatch, envelope: Envelope, msg: ReceivedMessage, vpns: Config['vpns']): NormalizeResult {
  const f = match.fields;
  const address = clientAddress(f.tsRemote ?? '');
  if (!address) return { kind: 'skipped', reason: 'no-client-address' };

  const who = personOf(field(f.aaaUser), field(f.remoteIkeId));
  if (!who) return { kind: 'skipped', reason: 'no-user' };
  const split = splitDomain(who);
  if (!split) return { kind: 'skipped', reason: 'no-user' };

  const vpn = field(f.vpn);
  const flags: PtimFlag[] = [];
  let domain = split.domain;
  if (domain === undefined && vpn !== undefined && Object.hasOwn(vpns, vpn)) domain = vpns[vpn]?.domain;
  if (domain === undefined) {
    domain = MISSING_DOMAIN;
    flags.push('domain-missing');
  }

  // Keys are added in the order of DESIGN.md §3, so NDJSON output and golden files are stable.
  const candidate = { user: split.user, domain, ip: address.ip } as PtimCandidate;
  if (address.ipv6 !== undefined) candidate.ipv6 = address.ipv6;
  candidate.time = isoTime(envelope.time?.getTime() ?? msg.receivedAt);
  candidate.device = envelope.host ?? msg.sender;
  candidate.sender = msg.sender;
  const gateway = field(f.gateway);
  const tunnelId = field(f.tunnelId);
  const peer = field(f.peer);
  if (vpn !== undefined) candidate.vpn = vpn;
  if (gateway !== undefined) candidate.gateway = gateway;
  if (tunnelId !== undefined) candidate.tunnelId = tunnelId;
  // IPv6 peers in one spelling; IPv4 ones are already canonical as written.
  if (peer !== undefined) candidate.peer = peer.includes(':') ? (canonicalIp(peer) ?? peer) : peer;
  if (match.state === 'down') {
    const reason = field(f.reason);
    if (reason !== undefined) candidate.reason = reason;
  }
  candidate.flags = flags;
  candidate.pattern = match.ruleId;
  candidate.line = match.state;
  const text = match.tag === undefined || match.body === undefined ? envelope.msg : alarmText(match.tag, match.body, envelope.msg);
  candidate.lineKey = `${candidate.device}\u0000${envelope.tag ?? ''}\u0000${text}`;
  return { kind: 'candidate', candidate };
}

function field(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  return v === '' ? undefined : v;
}

/** A distinguished name starts with an attribute type and `=` (`C=US, O=..`, `/C=US/CN=..`). */
const DN_START = /^\/?[A-Za-z][A-Za-z0-9.]*=/;

function personOf(aaaUser: string | undefined, remoteIkeId: string | undefined): string | undefined {
  if (aaaUser !== undefined && !NOT_A_VALUE.test(aaaUser)) return aaaUser;
  if (remoteIkeId === undefined || NOT_A_VALUE.test(remoteIkeId)) return undefined;
  if (remoteIkeId.startsWith('@')) return undefined;
  // An address-type IKE id names the peer's device, not a person.
  if (canonicalIp(remoteIkeId) !== undefined) return undefined;
  // A CN is read only from a distinguished name (the id starts with an attribute, `C=`/`CN=`/...):
  // an e-mail or name id such as `mallory@corp, CN=admin` is the client's own choice of text.
  if (DN_START.test(remoteIkeId)) return commonName(remoteIkeId);
  return remoteIkeId;
}

/**
 * The CN of a distinguished name (`C=US, O=corp, CN=grace` or `/C=US/O=corp/CN=grace`), read
 * attribute by attribute: a `\,` (or `\/`) escapes the separator and a quoted value is one value,
 * so `OU=sales\, CN=admin` and `O="a, CN=admin"` hold no CN. Undefined when the DN holds no CN, or
 * more than one (which one names the person depends on the order the CA wrote; neither is a guess
 * worth a mapping), or when it is not a DN after all (a part without `type=`).
 */
export function commonName(dn: string): string | undefined {
  const slashForm = dn.startsWith('/');
  const separator = slashForm ? '/' : ',';
  const values: string[] = [];
  let part = '';
  let quoted = false;
  const take = (): boolean => {
    const eq = part.indexOf('=');
    if (eq < 0) return false;
    const type = part.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9.-]*$/.test(type)) return false;
    if (type.toUpperCase() === 'CN') values.push(part.slice(eq + 1).trim());
    part = '';
    return true;
  };
  for (let i = slashForm ? 1 : 0; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === '\\' && i + 1 < dn.length) part += dn[++i];
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === separator || c === '+')) {
      if (!take()) return undefined;
    } else part += c;
  }
  if (quoted || !take() || values.length !== 1) return undefined;
  return values[0] || undefined;
}

function splitDomain(who: string): { user: string; domain?: string } | undefined {
  const at = who.lastIndexOf('@');
  if (at >= 0) {
    const user = who.slice(0, at);
    const domain = who.slice(at + 1);
    if (user === '') return undefined;
    return domain === '' ? { user } : { user, domain };
  }
  const slash = who.indexOf('\\');
  if (slash >= 0) {
    const domain = who.slice(0, slash);
    const user = who.slice(slash + 1);
    if (user === '') return undefined;
    return domain === '' ? { user } : { user, domain };
  }
  return { user: who };
}

/**
 * The client's address from the raw remote traffic selector text, or undefined when no selector
 * names exactly one address (a site-to-site range like 0.0.0.0-255.255.255.255 or 0.0.0.0/0).
 * Selectors: `ipv4(0,0-65535,10.20.0.5-10.20.0.5)`, `ipv6(...)`, `ipv4_subnet(any:0,[0..7]=10.20.0.5/32)`.
 */
export function clientAddress(tsRemote: string): { ip: string; ipv6?: string } | undefined {
  let v4: string | undefined;
  let v6: string | undefined;
  // indexOf scanning rather than a global regex: this runs for every matched line.
  let pos = 0;
  for (;;) {
    const at = tsRemote.indexOf('ipv', pos);
    if (at < 0) break;
    const open = tsRemote.indexOf('(', at);
    const close = open < 0 ? -1 : tsRemote.indexOf(')', open);
    if (close < 0) break;
    pos = close + 1;
    const familyChar = tsRemote.charCodeAt(at + 3);
    if ((familyChar !== 52 /* 4 */ && familyChar !== 54) /* 6 */ || !/^[a-z_]*$/.test(tsRemote.slice(at + 4, open))) continue;
    const family = familyChar === 52 ? 4 : 6;
    const inner = tsRemote.slice(open + 1, close);
    // The address spec follows the last `=` (kmd) or the last `,` (iked).
    const cut = Math.max(inner.lastIndexOf('='), inner.lastIndexOf(','));
    const single = singleAddress(inner.slice(cut + 1).trim(), family);
    const client = single === undefined ? undefined : clientIp(single);
    if (client === undefined) continue;
    if (client.includes(':')) v6 ??= client;
    else v4 ??= client;
  }
  if (v4 !== undefined) return v6 === undefined ? { ip: v4 } : { ip: v4, ipv6: v6 };
  if (v6 !== undefined) return { ip: v6 };
  return undefined;
}

/**
 * A single (canonical) address as a VPN client's: an IPv4-mapped IPv6 address is its IPv4 one (one
 * client, one key); an address no client holds (unspecified, loopback, broadcast, multicast, 0/8)
 * is none, since mapping a user to it would say nothing true.
 */
function clientIp(canonical: string): string | undefined {
  const ip = mappedV4(canonical) ?? canonical;
  if (ip.includes(':')) return ip === '::' || ip === '::1' || ip.startsWith('ff') ? undefined : ip;
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return first === 0 || first === 127 || first >= 224 ? undefined : ip;
}

function singleAddress(spec: string, family: 4 | 6): string | undefined {
  let addr = spec;
  const slash = spec.indexOf('/');
  const dash = spec.indexOf('-');
  if (slash >= 0) {
    if (spec.slice(slash + 1) !== (family === 4 ? '32' : '128')) return undefined;
    addr = spec.slice(0, slash);
  } else if (dash >= 0) {
    const firstText = spec.slice(0, dash);
    const lastText = spec.slice(dash + 1);
    // Same spelling (the usual case) needs one validation; IPv6 may spell one address two ways.
    const first = canonicalIp(firstText);
    const last = firstText === lastText ? first : canonicalIp(lastText);
    if (first === undefined || first !== last) return undefined;
    return familyOf(first) === family ? first : undefined;
  }
  const one = canonicalIp(addr);
  return one !== undefined && familyOf(one) === family ? one : undefined;
}

function familyOf(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/** The address in one canonical spelling (IPv6 lower-case and compressed), or undefined. */
export function canonicalIp(text: string): string | undefined {
  const t = text.trim();
  if (isIPv4(t)) return t;
  if (isIPv6(t)) {
    try {
      return new URL(`http://[${t}]/`).hostname.slice(1, -1);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

