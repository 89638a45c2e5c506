import type { RejectReason } from '../../src/patterns/field-integrity.js';

/**
 * Hostile syslog lines for the identity-integrity suite (issue 8): each one, from an allowed
 * sender, tries to forge, move or end someone else's mapping. Built from the documented layout
 * (JUNOS-LOGS.md §2) with one field replaced by attacker-chosen text: the Remote IKE-ID and the AAA
 * username are what a VPN client chooses.
 */

export interface Fields {
  vpn: string;
  peer: string;
  tunnelId: string;
  localIkeId: string;
  remoteIkeId: string;
  aaaUser: string;
  tsRemote: string;
  reason: string;
}

export const VICTIM_IP = '10.20.0.5';

const BASE: Fields = {
  vpn: 'ra-vpn',
  peer: '198.51.100.23',
  tunnelId: '500011',
  localIkeId: 'vpn.example.com',
  remoteIkeId: '@ra.auth',
  aaaUser: 'alice',
  tsRemote: selector(VICTIM_IP),
  reason: 'Peer sent delete',
};

/** The message text after `TAG: ` of an iked UP or DOWN alarm. */
export function body(state: 'up' | 'down', over: Partial<Fields> = {}): string {
  const f = { ...BASE, ...over };
  const text =
    `VPN ${f.vpn} from ${f.peer} is ${state}. Local-ip: 203.0.113.1, gateway name: ra-gw, vpn name: ${f.vpn}, tunnel-id: ${f.tunnelId}, ` +
    `local tunnel-if: st0.1, remote tunnel-ip: Not-Available, Local IKE-ID: ${f.localIkeId}, Remote IKE-ID: ${f.remoteIkeId}, ` +
    `AAA username: ${f.aaaUser}, VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , ` +
    `Traffic-selector remote ID: ${f.tsRemote} , SA Type: dynamic`;
  return state === 'down' ? `${text}, Reason: ${f.reason}` : text;
}

/** `TAG: text` of an iked alarm. */
export function alarm(state: 'up' | 'down', over: Partial<Fields> = {}): string {
  return `IKE_VPN_${state === 'up' ? 'UP' : 'DOWN'}_ALARM_USER: ${body(state, over)}`;
}

/** A whole RFC 3164 line as an SRX sends it (`stamp` like `Mar 14 09:02:11`). */
export function line(stamp: string, host: string, message: string, daemon = 'iked[4242]'): string {
  return `<30>${stamp} ${host} ${daemon}: ${message}`;
}

/** The fields that follow the AAA username, ending a line for `ip`: what an injection must supply. */
function tailFor(ip: string): string {
  return `VR id: root, Traffic-selector: ts1, Traffic-selector local ID: ipv4(0,0-65535,0.0.0.0-255.255.255.255) , Traffic-selector remote ID: ${selector(ip)} , SA Type: dynamic`;
}

export interface Attack {
  name: string;
  /** The whole line as sent at `stamp` (`Mar 14 09:02:11`). */
  line: (stamp: string) => string;
  /** What the shipped patterns must say of it. */
  outcome: 'rejected' | 'near-miss' | 'noise';
  reason?: RejectReason;
}

/** The remote selector of one client address. */
function selector(ip: string): string {
  return `ipv4(0,0-65535,${ip}-${ip})`;
}

/** The UP alarm an attack wants believed: admin on 10.9.9.<n>. */
function forgedUp(n: number): string {
  return alarm('up', { aaaUser: 'admin', tsRemote: selector(`10.9.9.${n}`) });
}

/** An attack message as srx-hq's iked would send it. */
function fromIked(message: string): (stamp: string) => string {
  return (stamp) => line(stamp, 'srx-hq', message);
}

/**
 * Every attack of issue 8 that a line alone can carry (device binding, stale lines and duplicates
 * need a sender or a history: their tests are in identity-attacks.test.ts and test/events).
 * None may produce an event; the mapped identity an attack aims at is always admin / 10.9.9.x.
 */
export const ATTACKS: readonly Attack[] = [
  {
    name: 'Remote IKE-ID carries the rest of the fields (no AAA)',
    line: fromIked(alarm('up', { remoteIkeId: `x, AAA username: admin, ${tailFor('10.9.9.1')}`, aaaUser: 'Not-applicable' })),
    outcome: 'near-miss',
  },
  {
    name: 'AAA username carries the rest of the fields of an UP',
    line: fromIked(alarm('up', { aaaUser: `admin, ${tailFor('10.9.9.2')}` })),
    outcome: 'near-miss',
  },
  {
    name: 'AAA username of a DOWN carries another IP and a Reason label (forged disconnect)',
    line: fromIked(alarm('down', { aaaUser: `admin, ${tailFor(VICTIM_IP)}, Reason: x` })),
    outcome: 'rejected',
    reason: 'ambiguous-fields',
  },
  {
    name: "a user field holding another user's whole DOWN text",
    line: fromIked(alarm('up', { aaaUser: `mallory, ${alarm('down')}`, tsRemote: selector('10.9.9.3') })),
    outcome: 'near-miss',
  },
  {
    name: 'the same after a newline inside one frame',
    line: fromIked(alarm('up', { aaaUser: `mallory\n<30>Mar 14 09:02:12 srx-hq iked[4242]: ${alarm('down')}`, tsRemote: selector('10.9.9.4') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'the same after a NUL',
    line: fromIked(alarm('up', { aaaUser: `mallory\u0000${alarm('down')}`, tsRemote: selector('10.9.9.5') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'a control character (ESC) in the user name',
    line: fromIked(alarm('up', { aaaUser: 'admin\u001b[2J', tsRemote: selector('10.9.9.6') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'a Unicode line separator in the user name',
    line: fromIked(alarm('up', { aaaUser: `admin\u2028${alarm('down')}`, tsRemote: selector('10.9.9.7') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'a bidi override in the user name (reads as another user)',
    line: fromIked(alarm('up', { aaaUser: 'adm\u202ein', tsRemote: selector('10.9.9.19') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'a user name spelling the next field with no-break spaces (a rule\'s \\s matches them)',
    line: fromIked(alarm('up', { aaaUser: 'mallory\u00a0VR\u00a0id:\u00a0x', tsRemote: selector('10.9.9.20') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'a user name ending in an ideographic space (trimmed, it would be another user)',
    line: fromIked(alarm('up', { aaaUser: 'admin\u3000', tsRemote: selector('10.9.9.21') })),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: 'a no-break space for a space between the fields',
    line: fromIked(alarm('up', { aaaUser: 'admin', tsRemote: selector('10.9.9.22') }).replace('AAA username: ', 'AAA username:\u00a0')),
    outcome: 'rejected',
    reason: 'control-characters',
  },
  {
    name: "a user name holding another field's label",
    line: fromIked(alarm('up', { aaaUser: 'admin Remote IKE-ID: @ra.auth', tsRemote: selector('10.9.9.8') })),
    outcome: 'rejected',
    reason: 'ambiguous-fields',
  },
  {
    name: 'a CN inside an e-mail-like IKE id (not a DN)',
    line: fromIked(alarm('up', { remoteIkeId: 'mallory@corp, CN=admin', aaaUser: 'Not-applicable', tsRemote: selector('10.9.9.9') })),
    outcome: 'near-miss',
  },
  {
    name: 'an mgd command line that contains an UP line',
    line: (stamp) => line(stamp, 'srx-hq', `UI_CMDLINE_READ_LINE: User 'admin', command '${forgedUp(10)} '`, 'mgd[5555]'),
    outcome: 'near-miss',
  },
  {
    name: 'an sshd failed login for a user named like an UP line',
    line: (stamp) => line(stamp, 'srx-hq', `Failed password for invalid user ${forgedUp(11)} from 192.0.2.99 port 2222 ssh2`, 'sshd[777]'),
    outcome: 'near-miss',
  },
  {
    name: 'an RT_FLOW field carrying the text',
    line: (stamp) => line(stamp, 'srx-hq', `RT_FLOW_SESSION_CREATE: session created 10.9.9.12/1->192.0.2.80/443 0x0 junos-https ${forgedUp(12)}`, 'RT_FLOW'),
    outcome: 'near-miss',
  },
  {
    name: 'another daemon writes the tag at the start (logger -t sshd)',
    line: (stamp) => line(stamp, 'srx-hq', forgedUp(13), 'sshd[777]'),
    outcome: 'rejected',
    reason: 'foreign-daemon',
  },
  {
    name: 'the same behind a chassis prefix',
    line: (stamp) => line(stamp, 'srx-hq', forgedUp(14), '(FPC Slot 1, PIC Slot 0) SPC3_PIC0 sshd[777]'),
    outcome: 'rejected',
    reason: 'foreign-daemon',
  },
  {
    name: 'the tag after other text, not at the start of the message',
    line: (stamp) => line(stamp, 'srx-hq', `note ${forgedUp(15)}`),
    outcome: 'near-miss',
  },
  {
    name: 'RFC 5424 whose MSGID names another tag than the text',
    line: () => `<30>1 2026-03-14T09:02:11Z srx-hq mgd 5555 UI_CMDLINE_READ_LINE - ${forgedUp(16)}`,
    outcome: 'near-miss',
  },
  {
    name: 'an UP text under a DOWN tag (a disconnect dressed as a connect)',
    line: fromIked(`IKE_VPN_DOWN_ALARM_USER: ${body('up', { aaaUser: 'admin', tsRemote: selector('10.9.9.17') })}`),
    outcome: 'near-miss',
  },
  {
    name: 'a DOWN whose Reason repeats the fields of another IP',
    line: fromIked(alarm('down', { reason: `x, AAA username: admin, ${tailFor('10.9.9.18')}` })),
    outcome: 'rejected',
    reason: 'ambiguous-fields',
  },
];
