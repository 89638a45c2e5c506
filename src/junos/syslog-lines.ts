/**
 * The `set system syslog host ...` lines that make a firewall send the bridge its VPN messages.
 *
 * The Junos statements, and the releases that have them (Juniper's CLI reference and "Configure
 * Syslog over TLS"; JUNOS-LOGS.md §5):
 *
 *     host H daemon info            all releases. Both kmd and iked write the four tags at daemon/info.
 *     host H match "A|B|C|D"        all releases (before 7.4): a POSIX extended regular expression
 *                                   (no / or %), not case-sensitive.
 *     host H match-strings [ A B ]  16.1 and later: plain substrings, cheaper than a regex.
 *     host H port N                 all releases (default 514).
 *     host H source-address A       all releases.
 *     host H structured-data        8.3 and later: RFC 5424 with year, zone and [junos@2636...]
 *                                   parameters; never `brief` (it drops the text the patterns read).
 *     host H routing-instance R     where management lives in a VRF (e.g. mgmt_junos).
 *     host H transport tcp|tls      newer releases only (not in the 12.1X47/15.1X49 syntax): check
 *                                   `set system syslog host H transport ?` on the firewall.
 *     host H tlsdetails ...         with transport tls: 21.2R1 and later (Junos OS Evolved 23.4R1).
 */

export const VPN_TAGS = ['IKE_VPN_UP_ALARM_USER', 'IKE_VPN_DOWN_ALARM_USER', 'KMD_VPN_UP_ALARM_USER', 'KMD_VPN_DOWN_ALARM_USER'] as const;

export type SyslogTransport = 'udp' | 'tcp' | 'tls';
export type MatchForm = 'regex' | 'strings';

export interface SyslogLineOptions {
  /** Address or host name of the bridge, as the firewall should reach it. */
  readonly bridge: string;
  readonly port?: number;
  readonly transport: SyslogTransport;
  /** `daemon` (default) or `any`: which facility at severity info. */
  readonly facility: 'daemon' | 'any';
  readonly match: MatchForm;
  readonly structuredData: boolean;
  readonly sourceAddress?: string;
  readonly routingInstance?: string;
  /** TLS: the PKI CA profile holding the CA that signed the bridge's `tls.cert`. */
  readonly caProfile: string;
  /** TLS: the firewall's local certificate, for mutual TLS (`tls.clientCa` on the bridge). */
  readonly localCertificate?: string;
  /** The firewall's system host-name: the key of its `devices:` entry on the bridge. */
  readonly device?: string;
}

export interface SyslogLines {
  /** `set` lines, ready for `configure` / `load set terminal`. */
  readonly lines: readonly string[];
  /** What the operator must do besides (operational commands, the bridge side), and release caveats. */
  readonly notes: readonly string[];
}

/** Default port per transport: the bridge's plain listeners share 5514; TLS has its own port (6514, RFC 5425). */
export function defaultPort(transport: SyslogTransport): number {
  return transport === 'tls' ? 6514 : 5514;
}

/**
 * The firewall side of a bridge listener, and notes for the rest.
 * @throws TypeError when a name would not survive as one Junos word (the CLI checks them first).
 */
export function junosSyslogLines(o: SyslogLineOptions): SyslogLines {
  for (const [what, value] of [['bridge', o.bridge], ['source address', o.sourceAddress], ['routing instance', o.routingInstance], ['CA profile', o.caProfile], ['local certificate', o.localCertificate], ['device', o.device]] as const) {
    if (value !== undefined && !isJunosWord(value)) throw new TypeError(`${what} ${JSON.stringify(value)} is not a single Junos word`);
  }
  const port = o.port ?? defaultPort(o.transport);
  const host = `set system syslog host ${o.bridge}`;
  const lines: string[] = [];
  const notes: string[] = [];
  if (o.transport === 'tls') lines.push(`set security pki ca-profile ${o.caProfile} ca-identity ${o.caProfile}`);
  lines.push(`${host} ${o.facility} info`);
  lines.push(o.match === 'strings' ? `${host} match-strings [ ${VPN_TAGS.join(' ')} ]` : `${host} match "${VPN_TAGS.join('|')}"`);
  lines.push(`${host} port ${port}`);
  if (o.structuredData) lines.push(`${host} structured-data`);
  if (o.sourceAddress !== undefined) lines.push(`${host} source-address ${o.sourceAddress}`);
  if (o.routingInstance !== undefined) lines.push(`${host} routing-instance ${o.routingInstance}`);
  if (o.transport !== 'udp') lines.push(`${host} transport ${o.transport}`);
  if (o.transport === 'tls') {
    lines.push(`${host} tlsdetails trusted-ca-group ptim-bridge ca-profiles ${o.caProfile}`);
    if (o.localCertificate !== undefined) lines.push(`${host} tlsdetails local-certificate ${o.localCertificate}`);
  }

  const listen = `${o.transport}://0.0.0.0:${port}`;
  notes.push(`bridge: a listener ${listen} (config \`listen\`), and the firewall's address in \`senders.allow\`${o.device ? '' : ' and under `devices.<its host-name>.senders`'}.`);
  if (o.device !== undefined) {
    const senders = o.sourceAddress !== undefined ? `[${o.sourceAddress}]` : '[<the address the firewall sends from>]';
    const certNames = o.transport === 'tls' && o.localCertificate !== undefined ? `, certNames: [<CN or DNS name of ${o.localCertificate}>]` : '';
    notes.push(`bridge: devices: { ${o.device}: { senders: ${senders}${certNames} } }   (${o.device} must be the firewall's system host-name: the name in its syslog header)`);
  }
  if (o.match === 'strings') notes.push('junos: match-strings needs Junos 16.1 or later; use --match regex for older releases.');
  if (o.structuredData) notes.push('junos: structured-data (8.3 and later) sends RFC 5424 with year and zone; do not add `brief`.');
  if (o.transport === 'tcp') notes.push('junos: `transport` exists on newer releases only: check `set system syslog host ... transport ?`; without it, use UDP.');
  if (o.transport === 'tls') {
    notes.push('junos: transport tls and tlsdetails need Junos 21.2R1 or later (Junos OS Evolved 23.4R1).');
    notes.push(`junos: load the CA that signed the bridge's tls.cert: request security pki ca-certificate load ca-profile ${o.caProfile} filename /var/tmp/ptim-bridge-ca.pem`);
    notes.push(o.localCertificate !== undefined
      ? `bridge: mutual TLS: tls.clientCa must be the CA that signed ${o.localCertificate}, and devices.<host-name>.certNames must hold its name.`
      : 'bridge: without --local-certificate the firewall presents no certificate: leave tls.clientCa unset, or add --local-certificate for mutual TLS.');
  }
  return { lines, notes };
}

/** True when the value can stand unquoted in a Junos `set` line (an address, a host name, an object name). */
export function isJunosWord(value: string): boolean {
  return /^[A-Za-z0-9_.:@/+-]+$/.test(value) && value.length <= 255;
}
