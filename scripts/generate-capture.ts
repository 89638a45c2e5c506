/**
 * Synthetic SRX syslog capture: mostly noise (RT_FLOW session create/close, RT_IDP, sshd, mgd UI_*,
 * SNMP) with about 1% remote-access VPN up/down lines (kmd and iked, IPv4 and IPv6, connects,
 * rekeys and disconnects for a few thousand users, some site-to-site), in every line form of
 * JUNOS-LOGS.md §4. Deterministic for a given seed.
 *
 *   npx tsx scripts/generate-capture.ts --lines 1000000 --seed 1 --out /tmp/mixed.log.gz
 *   npx tsx scripts/generate-capture.ts --vpn-only --lines 200000 --out /tmp/vpn.log
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';

export interface GenerateOptions {
  lines: number;
  seed: number;
  /** Share of VPN up/down lines (0..1); 1 means VPN lines only. */
  vpnRatio: number;
  users: number;
  /** First line's time, ms since the epoch. */
  start: number;
}

export const DEFAULTS: GenerateOptions = { lines: 100_000, seed: 1, vpnRatio: 0.01, users: 3000, start: Date.UTC(2026, 2, 14, 6, 0, 0) };

type Form = 'rfc3164' | 'file' | 'file-pri' | 'rfc5424' | 'host-first' | 'time-only' | 'bare';
const FORMS: ReadonlyArray<[Form, number]> = [
  ['rfc3164', 50], ['file', 15], ['file-pri', 5], ['rfc5424', 15], ['host-first', 7], ['time-only', 5], ['bare', 3],
];

interface Device {
  name: string;
  daemon: 'iked' | 'kmd';
  chassis: boolean;
  localIp: string;
  pid: number;
}

const DEVICES: readonly Device[] = [
  { name: 'srx-hq', daemon: 'iked', chassis: false, localIp: '203.0.113.1', pid: 4242 },
  { name: 'srx-branch1', daemon: 'kmd', chassis: false, localIp: '203.0.113.17', pid: 1834 },
  { name: 'srx-dc5800', daemon: 'iked', chassis: true, localIp: '203.0.113.33', pid: 7311 },
];

interface User {
  index: number;
  name: string;
  /** How the person is named in the line. */
  kind: 'aaa' | 'aaa-upn' | 'aaa-down-level' | 'cert';
  ip4: string;
  ip6?: string;
  v6only: boolean;
  peer: string;
  device: Device;
  tunnelId: number;
  up: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'zoe'];
const REASONS = [
  'Peer sent delete',
  'IPSEC SA VPN Monitor Failure',
  'Tunnel configuration is deleted. Corresponding IKE/IPSec SAs are deleted',
  'User issued tunnel redistribution command from CLI',
  'DPD failure, peer unreachable',
];
const APPS = ['junos-https', 'junos-http', 'junos-dns-udp', 'junos-ssh', 'junos-ntp', 'junos-smtp'];

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields the capture's lines (without LF), deterministic for the options. */
export function* generateLines(options: Partial<GenerateOptions> = {}): Generator<string> {
  const o = { ...DEFAULTS, ...options };
  const rnd = prng(o.seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const formTotal = FORMS.reduce((s, [, w]) => s + w, 0);
  const pickForm = (): Form => {
    let r = rnd() * formTotal;
    for (const [f, w] of FORMS) if ((r -= w) < 0) return f;
    return 'rfc3164';
  };
  const users: User[] = Array.from({ length: o.users }, (_, i) => {
    const r = rnd();
    const kind: User['kind'] = r < 0.55 ? 'aaa' : r < 0.7 ? 'aaa-upn' : r < 0.8 ? 'aaa-down-level' : 'cert';
    const hasV6 = rnd() < 0.2;
    const v6only = hasV6 && rnd() < 0.3;
    const u: User = {
      index: i,
      name: `${pick(NAMES)}${i}`,
      kind,
      ip4: `10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      v6only,
      peer: rnd() < 0.15 ? `2001:db8:ffff::${(i + 1).toString(16)}` : `198.51.${100 + (i % 3)}.${1 + (i % 250)}`,
      device: pick(DEVICES),
      tunnelId: 500000 + i,
      up: false,
    };
    if (hasV6) u.ip6 = `2001:db8:20::${(i + 1).toString(16)}`;
    return u;
  });

  let now = o.start;
  for (let n = 0; n < o.lines; n++) {
    // Bursty arrival: most lines a few ms apart, now and then a pause.
    now += rnd() < 0.001 ? 1000 + int(60_000) : int(40);
    const form = pickForm();
    if (rnd() < o.vpnRatio) {
      yield vpnLine(users, form, now, rnd, int, pick);
    } else {
      yield noiseLine(form, now, rnd, int, pick);
    }
  }
}

function vpnLine(users: User[], form: Form, now: number, rnd: () => number, int: (n: number) => number, pick: <T>(xs: readonly T[]) => T): string {
  // 4% site-to-site tunnels: matched, but no client address (skipped by the normalizer).
  const siteToSite = rnd() < 0.04;
  const u = pick(users);
  let up: boolean;
  if (siteToSite) up = rnd() < 0.5;
  else if (!u.up) up = true;
  else up = rnd() < 0.4; // an UP for a session that is up: a rekey
  if (!siteToSite) {
    if (!up) u.tunnelId += 1; // the next connect gets a new tunnel
    u.up = up;
  }
  const d = u.device;
  const isIked = d.daemon === 'iked';
  const tag = `${isIked ? 'IKE' : 'KMD'}_VPN_${up ? 'UP' : 'DOWN'}_ALARM_USER`;
  const vpn = siteToSite ? `s2s-${u.index % 7}` : isIked ? 'ra-vpn' : 'dialup-vpn';
  const gateway = siteToSite ? `gw-branch${u.index % 7}` : isIked ? 'ra-gw' : 'dialup-gw';
  let aaa = isIked ? 'Not-applicable' : 'Not-Applicable';
  let remoteId = '@ra.auth';
  if (siteToSite) remoteId = `branch${u.index % 7}.example.net`;
  else if (u.kind === 'aaa') aaa = u.name;
  else if (u.kind === 'aaa-upn') aaa = `${u.name}@corp.example`;
  else if (u.kind === 'aaa-down-level') aaa = `CORP\\${u.name}`;
  else remoteId = `${u.name}@cert.example`;
  // kmd has been seen writing garbage into Local IKE-ID; the generator keeps to valid UTF-8 (U+FFFD).
  const localId = !isIked && rnd() < 0.05 ? 'vpn.example.com\uFFFD\uFFFD' : 'vpn.example.com';
  let tsLocal: string;
  let tsRemote: string;
  if (isIked) {
    tsLocal = 'ipv4(0,0-65535,0.0.0.0-255.255.255.255)';
    if (siteToSite) tsRemote = 'ipv4(0,0-65535,0.0.0.0-255.255.255.255)';
    else if (u.v6only) tsRemote = `ipv6(0,0-65535,${u.ip6}-${u.ip6})`;
    else if (u.ip6) tsRemote = `ipv4(0,0-65535,${u.ip4}-${u.ip4}) ipv6(0,0-65535,${u.ip6}-${u.ip6})`;
    else tsRemote = `ipv4(0,0-65535,${u.ip4}-${u.ip4})`;
  } else {
    tsLocal = 'ipv4_subnet(any:0,[0..7]=0.0.0.0/0)';
    if (siteToSite) tsRemote = 'ipv4_subnet(any:0,[0..7]=0.0.0.0/0)';
    else if (u.v6only) tsRemote = `ipv6_subnet(any:0,[0..15]=${u.ip6}/128)`;
    else tsRemote = `ipv4_subnet(any:0,[0..7]=${u.ip4}/32)`;
  }
  const sep = isIked ? ' ,' : ',';
  const newer = isIked && u.index % 2 === 0;
  let text =
    `VPN ${vpn} from ${u.peer} is ${up ? 'up' : 'down'}. Local-ip: ${d.localIp}, gateway name: ${gateway}, vpn name: ${vpn}, ` +
    `tunnel-id: ${u.tunnelId}, ${newer ? 'tunnel type: policy-based, ' : ''}local tunnel-if: st0.${u.index % 4}, ` +
    `remote tunnel-ip: ${rnd() < 0.7 ? 'Not-Available' : `10.255.${int(255)}.${int(255)}`}, Local IKE-ID: ${localId}, Remote IKE-ID: ${remoteId}, ` +
    `AAA username: ${aaa}, VR id: ${isIked ? 'root' : '0'}, Traffic-selector: ${rnd() < 0.3 ? '' : `ts${u.index % 3}`}, ` +
    `Traffic-selector local ID: ${tsLocal}${sep} Traffic-selector remote ID: ${tsRemote}${sep} SA Type: ${isIked ? 'dynamic' : 'Static'}`;
  if (up && newer) text += `, Service Offload: ${rnd() < 0.5 ? 'Yes' : 'No'}`;
  if (!up) text += `, Reason: ${pick(REASONS)}`;
  const app = d.chassis ? `(FPC Slot 1, PIC Slot 0) SPC3_PIC0 ${d.daemon}` : d.daemon;
  const sd = `[junos@2636.1.1.1.2.129 vpn-name="${vpn}" peer-address="${u.peer}"]`;
  return render(form, now, 30, d.name, app, String(d.pid), tag, text, sd, d.daemon);
}

function noiseLine(form: Form, now: number, rnd: () => number, int: (n: number) => number, pick: <T>(xs: readonly T[]) => T): string {
  const host = pick(DEVICES).name;
  const src = `10.${1 + int(3)}.${int(255)}.${1 + int(254)}`;
  const dst = `${93 + int(100)}.${int(255)}.${int(255)}.${1 + int(254)}`;
  const sport = 1024 + int(60000);
  const r = rnd();
  if (r < 0.45) {
    const app = pick(APPS);
    const dport = app === 'junos-https' ? 443 : app === 'junos-http' ? 80 : app === 'junos-ssh' ? 22 : 53;
    const text = `session created ${src}/${sport}->${dst}/${dport} 0x0 ${app} 198.51.100.7/${sport}->${dst}/${dport} 0x0 source rule nat-out N/A N/A 6 allow-web trust untrust ${1_000_000 + int(8_000_000)} N/A(N/A) reth1.0 UNKNOWN UNKNOWN UNKNOWN N/A N/A -1 N/A N/A N/A Off root`;
    return render(form, now, 14, host, 'RT_FLOW', '', 'RT_FLOW_SESSION_CREATE', text, `[junos@2636.1.1.1.2.129 source-address="${src}" destination-address="${dst}"]`, 'RT_FLOW');
  }
  if (r < 0.85) {
    const app = pick(APPS);
    const text = `session closed ${pick(['TCP FIN', 'TCP RST', 'idle Timeout', 'response received'])}: ${src}/${sport}->${dst}/443 0x0 ${app} 198.51.100.7/${sport}->${dst}/443 0x0 source rule nat-out N/A N/A 6 allow-web trust untrust ${1_000_000 + int(8_000_000)} ${int(200)}(${int(90000)}) ${int(300)}(${int(900000)}) ${int(3600)} UNKNOWN UNKNOWN N/A(N/A) reth1.0 UNKNOWN N/A N/A -1 N/A NA 0 0.0.0.0/0->0.0.0.0/0 NA NA N/A N/A Off root`;
    return render(form, now, 14, host, 'RT_FLOW', '', 'RT_FLOW_SESSION_CLOSE', text, `[junos@2636.1.1.1.2.129 reason="closed"]`, 'RT_FLOW');
  }
  if (r < 0.9) {
    const text = `IDP: at ${Math.floor(now / 1000)}, SIG Attack log <${src}/${sport}->${dst}/80> for TCP protocol and service SERVICE_IDP application HTTP by rule ${1 + int(9)} of rulebase IPS in policy idp-policy. attack: id=${int(9999)}, repeat=0, action=DROP, threat-severity=HIGH, name=HTTP:SQL:INJ:GENERIC-${int(20)}, NAT <0.0.0.0:0->0.0.0.0:0>, time-elapsed=0, inbytes=0, outbytes=0, inpackets=0, outpackets=0, intf:untrust:reth0.0->trust:reth1.0, packet-log-id: 0 and misc-message -`;
    return render(form, now, 12, host, 'RT_IDP', '', 'IDP_ATTACK_LOG_EVENT', text, '[junos@2636.1.1.1.2.129 epoch-time="1"]', 'RT_IDP');
  }
  if (r < 0.94) {
    const text = rnd() < 0.5
      ? `Accepted publickey for admin from 192.0.2.${int(255)} port ${sport} ssh2: RSA SHA256:Qm9ndXNLZXk${int(9999)}`
      : `Failed password for invalid user ${pick(['test', 'oracle', 'ubnt', 'admin'])} from 192.0.2.${int(255)} port ${sport} ssh2`;
    return render(form, now, 38, host, 'sshd', String(2000 + int(5000)), '', text, '', 'sshd');
  }
  if (r < 0.98) {
    const tags: ReadonlyArray<[string, string]> = [
      ['UI_CMDLINE_READ_LINE', `User 'admin', command 'show security ike security-associations '`],
      ['UI_COMMIT_COMPLETED', 'commit complete'],
      ['UI_LOGIN_EVENT', `User 'admin' login, class 'j-super-user' [${int(9999)}], ssh-connection '192.0.2.50 ${sport} 192.0.2.1 22', client-mode 'cli'`],
      ['UI_LOGOUT_EVENT', `User 'admin' logout`],
    ];
    const [tag, text] = pick(tags);
    return render(form, now, 189, host, 'mgd', String(3000 + int(5000)), tag, text, '[junos@2636.1.1.1.2.129 username="admin"]', 'mgd');
  }
  const upDown = rnd() < 0.5 ? 'DOWN' : 'UP';
  const text = `ifIndex ${500 + int(100)}, ifAdminStatus up(1), ifOperStatus ${upDown === 'UP' ? 'up(1)' : 'down(2)'}, ifName ge-0/0/${int(16)}`;
  return render(form, now, 28, host, 'mib2d', String(1600 + int(100)), `SNMP_TRAP_LINK_${upDown}`, text, '[junos@2636.1.1.1.2.129 snmp-interface-index="1"]', 'mib2d');
}

function bsd(t: number): string {
  const d = new Date(t);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${MONTHS[d.getUTCMonth()]} ${day} ${d.toISOString().slice(11, 19)}`;
}

/** One message in the given form. `app` may carry the chassis prefix; `appName` is the bare daemon for RFC 5424. */
function render(form: Form, t: number, pri: number, host: string, app: string, pid: string, tag: string, text: string, sd: string, appName: string): string {
  const body = tag ? `${tag}: ${text}` : text;
  const daemon = pid ? `${app}[${pid}]` : app;
  switch (form) {
    case 'rfc3164':
      return `<${pri}>${bsd(t)} ${host} ${daemon}: ${body}`;
    case 'file':
      return `${bsd(t)}  ${host} ${daemon}: ${body}`;
    case 'file-pri':
      return `<${pri}>${bsd(t)}  ${host} ${daemon}: ${body}`;
    case 'rfc5424':
      return `<${pri}>1 ${new Date(t).toISOString()} ${host} ${appName} ${pid || '-'} ${tag || '-'} ${sd || '-'} ${text}`;
    case 'host-first':
      return `${host} ${daemon}: ${body}`;
    case 'time-only':
      return `${new Date(t).toISOString().slice(11, 19)}  ${body}`;
    case 'bare':
      return body;
    default:
      return form satisfies never;
  }
}

/** Writes the capture to a stream in ~1 MiB writes. */
export async function writeCapture(out: Writable, options: Partial<GenerateOptions>): Promise<void> {
  let parts: string[] = [];
  let size = 0;
  for (const line of generateLines(options)) {
    parts.push(line);
    size += line.length + 1;
    if (size >= 1 << 20) {
      if (!out.write(`${parts.join('\n')}\n`)) await once(out, 'drain');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) out.write(`${parts.join('\n')}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', short: 'n' },
      seed: { type: 'string' },
      'vpn-only': { type: 'boolean' },
      'vpn-ratio': { type: 'string' },
      users: { type: 'string' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`Usage: npx tsx scripts/generate-capture.ts [--lines N] [--seed N] [--vpn-only | --vpn-ratio R] [--users N] [--out FILE[.gz]]

Examples:
  npx tsx scripts/generate-capture.ts --lines 1000000 --out /tmp/mixed.log.gz
  npx tsx scripts/generate-capture.ts --vpn-only --lines 100000 --seed 7 > /tmp/vpn.log
`);
    return;
  }
  const num = (v: string | undefined, name: string, def: number): number => {
    if (v === undefined) return def;
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) throw new Error(`--${name} expects a non-negative number, got ${JSON.stringify(v)}`);
    return x;
  };
  const options: Partial<GenerateOptions> = {
    lines: num(values.lines, 'lines', DEFAULTS.lines),
    seed: num(values.seed, 'seed', DEFAULTS.seed),
    vpnRatio: values['vpn-only'] ? 1 : num(values['vpn-ratio'], 'vpn-ratio', DEFAULTS.vpnRatio),
    users: Math.max(1, num(values.users, 'users', DEFAULTS.users)),
  };
  let out: Writable = process.stdout;
  let file: Writable | undefined;
  if (values.out) {
    file = createWriteStream(values.out);
    out = values.out.endsWith('.gz') ? createGzip({ level: 1 }) : file;
    if (out !== file) out.pipe(file);
  }
  await writeCapture(out, options);
  if (file) {
    out.end();
    await once(file, 'finish');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`generate-capture: ${(error as Error).message}\n`);
    process.exitCode = 2;
  });
}
