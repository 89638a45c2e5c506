import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { BridgeError } from '../errors.js';

interface ConfigFlags {
  bridge: string;
  port?: string;
  transport: 'udp' | 'tcp' | 'tls';
  facility: 'daemon' | 'any';
  match: 'regex' | 'strings';
  structuredData: boolean;
  sourceAddress?: string;
  routingInstance?: string;
  caProfile: string;
  localCertificate?: string;
  device?: string;
}

/** `ptim-bridge junos import|config`: the firewall's configuration into bridge settings, and the syslog lines a firewall needs. */
export function registerJunosCommand(program: Command): void {
  const junos = program
    .command('junos')
    .description('Derive bridge settings from a Junos configuration (import), or print the syslog lines a firewall needs (config).')
    .addHelpText('after', `
Examples:
  $ ptim-bridge junos import srx-hq.set > srx-hq.bridge.yaml
  $ ssh admin@srx-hq 'show configuration | display set | no-more' | ptim-bridge junos import -
  $ ptim-bridge junos config --bridge 192.0.2.5 --transport tcp --source-address 192.0.2.10`);

  junos
    .command('import')
    .description('Read `show configuration | display set` output and print the bridge\'s vpns (user-domain alias and rekey interval per IPsec VPN), gateways (push opt-outs) and devices (host name, syslog source address, time zone) as YAML to merge, with comments; list on stderr what could not be mapped, with line numbers.')
    .argument('<file>', 'the `display set` output (- for standard input)')
    .addHelpText('after', `
What it reads (display set form; groups applied with apply-groups are followed, a cluster's
apply-groups "\${node}" gives one device per node; deactivated statements are ignored and listed):

  security remote-access profile P ipsec-vpn V            P serves IPsec VPN object V
  security remote-access profile P options user-domain D  vpns.V.domain: D
  security ipsec vpn V ike ipsec-policy POL               -> policy POL proposals PR | proposal-set S
  security ipsec proposal PR lifetime-seconds N           vpns.V.rekeyIntervalSeconds: N
                                                          (absent: Junos' default, 3600)
  security ike gateway G aaa no-push-to-identity-management   gateways.G.push: false
  system host-name H                                      devices.H
  system syslog [host X] source-address A                 devices.H.senders: [A]
  system time-zone Z                                      devices.H.timezone: Z (absent: UTC)

Only remote-access VPNs are imported (used by a remote-access profile or dynamic-vpn, or through a
dial-up gateway); site-to-site VPNs are named in a comment. Profiles that share one IPsec VPN object
must use the same user-domain (PTIM's rule; the bridge keys domains by VPN): two different ones
are refused with both profile names, the VPN and file:line (ERR_JUNOS_CONFIG, exit 2).

The YAML goes to stdout; findings (not mapped, derived on an assumption) to stderr.
Exit codes: 0 imported (findings or not); 1 the file cannot be read; 2 a user-domain conflict, or
input that is not display set output.

Examples:
  $ ptim-bridge junos import srx-hq.set > srx-hq.bridge.yaml
  $ ssh admin@srx-hq 'show configuration | display set | no-more' | ptim-bridge junos import - > srx-hq.bridge.yaml
  $ cat base.yaml srx-hq.bridge.yaml > ptim-bridge.yaml && ptim-bridge config check --config ptim-bridge.yaml`)
    .action(async (file: string) => {
      const source = file === '-' ? '<stdin>' : file;
      const text = file === '-' ? await readStdin() : readInput(file);
      const [{ parseSetLines }, { deriveBridgeConfig, hideSecrets }, { renderBridgeYaml, formatFindings }] = await Promise.all([
        import('../junos/set-lines.js'), import('../junos/derive.js'), import('../junos/render.js'),
      ]);
      const parsed = parseSetLines(text);
      if (parsed.statements.length === 0) {
        const hint = parsed.curlyLines > 0 ? 'it is the curly-brace form' : 'it has no set statements';
        throw new BridgeError('ERR_JUNOS_CONFIG', `${source}: expected the output of \`show configuration | display set\`, but ${hint}. On the firewall: show configuration | display set | no-more`, { file: source });
      }
      const derivation = deriveBridgeConfig(parsed.statements, { file: source });
      const notRead = parsed.skipped.map((s) => ({ line: s.line, message: `${s.reason}: not read`, statement: hideSecrets(s.text.split(/\s+/)) }));
      const findings = { ...derivation, unmapped: [...notRead, ...derivation.unmapped].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)) };
      process.stdout.write(renderBridgeYaml(derivation, { source }));
      process.stderr.write(formatFindings(findings, source));
    });

  junos
    .command('config')
    .description('Print the `set system syslog host ...` lines that make a firewall send its VPN up/down messages to the bridge (stdout), and what to do besides (stderr).')
    .requiredOption('--bridge <address>', 'the bridge\'s address (or host name) as the firewall reaches it')
    .option('--port <n>', 'the bridge listener\'s port (default: 5514 for udp and tcp, 6514 for tls)')
    .addOption(new Option('--transport <transport>', 'how the firewall sends').choices(['udp', 'tcp', 'tls']).default('udp'))
    .addOption(new Option('--facility <facility>', 'facility at severity info: daemon carries the VPN messages; any sends more, then match filters').choices(['daemon', 'any']).default('daemon'))
    .addOption(new Option('--match <form>', 'filter: regex (match "...", every release) or strings (match-strings, 16.1+)').choices(['regex', 'strings']).default('regex'))
    .option('--no-structured-data', 'send BSD syslog (RFC 3164) instead of structured-data (RFC 5424, with year and zone)')
    .option('--source-address <address>', 'the firewall address to send from (set ... source-address)')
    .option('--routing-instance <name>', 'send through this routing instance (e.g. mgmt_junos)')
    .option('--ca-profile <name>', 'tls: the PKI CA profile that holds the CA of the bridge\'s certificate', 'ptim-bridge-ca')
    .option('--local-certificate <name>', 'tls: the firewall\'s certificate, for mutual TLS (the bridge\'s tls.clientCa)')
    .option('--device <name>', 'the firewall\'s system host-name: prints its bridge-side devices entry too (stderr)')
    .addHelpText('after', `
Lines, and the Junos releases that have them:
  host B daemon info                 every release; kmd and iked write the VPN tags at daemon/info
                                     (a host at severity critical or error drops them)
  host B match "IKE_VPN_UP_ALARM_USER|IKE_VPN_DOWN_ALARM_USER|KMD_VPN_UP_ALARM_USER|KMD_VPN_DOWN_ALARM_USER"
                                     every release (POSIX extended regex); keeps flow logs off the wire
  host B match-strings [ ... ]       16.1 and later (--match strings): substrings, cheaper than a regex
  host B port N                      every release (Junos' default is 514)
  host B structured-data             8.3 and later: RFC 5424 with year and time zone, which the bridge
                                     reads; never add \`brief\` (it drops the text the patterns match)
  host B source-address A            every release
  host B routing-instance R          management in a VRF (mgmt_junos); check your release
  host B transport tcp               newer releases only (not in 12.1X47/15.1X49): check with
                                     \`set system syslog host B transport ?\`
  host B transport tls, tlsdetails   21.2R1 and later (Junos OS Evolved 23.4R1), with a PKI CA profile
                                     holding the CA that signed the bridge's tls.cert

The lines go to stdout (paste them in configure mode, or load set terminal); the bridge side and
the operational commands to stderr.

Examples:
  $ ptim-bridge junos config --bridge 192.0.2.5
  $ ptim-bridge junos config --bridge 192.0.2.5 --transport tcp --source-address 192.0.2.10 --device srx-hq
  $ ptim-bridge junos config --bridge bridge.example.net --transport tls --local-certificate srx-hq --routing-instance mgmt_junos
  $ ptim-bridge junos config --bridge 192.0.2.5 --match strings --no-structured-data > syslog.set`)
    .action(async (flags: ConfigFlags) => {
      const { junosSyslogLines, isJunosWord } = await import('../junos/syslog-lines.js');
      let port: number | undefined;
      if (flags.port !== undefined) {
        port = Number(flags.port);
        if (!/^\d{1,5}$/.test(flags.port) || port < 1 || port > 65535) throw new BridgeError('ERR_USAGE', `Expected --port a port 1-65535, got ${JSON.stringify(flags.port)}.`);
      }
      for (const [flag, value] of [['--bridge', flags.bridge], ['--source-address', flags.sourceAddress], ['--routing-instance', flags.routingInstance], ['--ca-profile', flags.caProfile], ['--local-certificate', flags.localCertificate], ['--device', flags.device]] as const) {
        if (value !== undefined && !isJunosWord(value)) throw new BridgeError('ERR_USAGE', `Expected ${flag} an address or name (letters, digits, . : _ - @ /), got ${JSON.stringify(value)}.`);
      }
      if (flags.localCertificate !== undefined && flags.transport !== 'tls') throw new BridgeError('ERR_USAGE', 'Expected --local-certificate only with --transport tls (it is the certificate the firewall presents in the TLS handshake).');
      const out = junosSyslogLines({
        bridge: flags.bridge,
        ...(port !== undefined ? { port } : {}),
        transport: flags.transport,
        facility: flags.facility,
        match: flags.match,
        structuredData: flags.structuredData,
        sourceAddress: flags.sourceAddress,
        routingInstance: flags.routingInstance,
        caProfile: flags.caProfile,
        localCertificate: flags.localCertificate,
        device: flags.device,
      });
      process.stdout.write(`${out.lines.join('\n')}\n`);
      process.stderr.write(out.notes.map((n) => `${n}\n`).join(''));
    });
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new BridgeError('ERR_INPUT_UNREADABLE', `Cannot read ${file}: ${code}. Give the file with the output of \`show configuration | display set\`, or - for standard input.`, { file, cause });
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
