import { stringify } from 'yaml';
import type { Derivation, Finding } from './derive.js';

/**
 * The derivation as YAML to merge into a bridge config: `vpns`, `gateways`, `devices`, each value
 * with a comment saying which Junos statement (and line) it came from. The text parses to keys
 * the config schema accepts; sections with nothing to say are a comment only.
 */
export function renderBridgeYaml(d: Derivation, options: { source: string }): string {
  const out: string[] = [
    `# ptim-bridge settings derived from ${oneLine(options.source)} by \`ptim-bridge junos import\`.`,
    '# Merge these sections into your config and check it: ptim-bridge config check --config FILE',
    '# What the import could not map is listed on standard error, with line numbers.',
    '',
  ];

  if (d.vpns.length > 0) {
    out.push('# Per-VPN settings, keyed by the IPsec VPN object name (the "vpn name" in the log line).', 'vpns:');
    for (const vpn of d.vpns) {
      const where = [vpn.line ? `ipsec vpn on line ${vpn.line}` : undefined, vpn.gateway ? `IKE gateway ${vpn.gateway}` : undefined].filter(Boolean).join(', ');
      const body = [`# remote access (${vpn.remoteAccess})${where ? `; ${where}` : ''}`, `# ${vpn.domainComment}`];
      if (vpn.domain !== undefined) body.push(`domain: ${scalar(vpn.domain)}`);
      if (vpn.rekeyComment !== undefined) body.push(`# ${vpn.rekeyComment}`);
      if (vpn.rekeyIntervalSeconds !== undefined) body.push(`rekeyIntervalSeconds: ${vpn.rekeyIntervalSeconds}`);
      out.push(...entry(vpn.name, body));
    }
  } else {
    out.push('# vpns: no remote-access IPsec VPN in this configuration.');
  }
  if (d.siteToSite.length > 0) out.push(`# Left out, site to site (no remote-access profile, no dial-up gateway): ${d.siteToSite.join(', ')}`);
  out.push('');

  if (d.gateways.length > 0) {
    out.push('# IKE gateways with aaa no-push-to-identity-management: their sessions are kept, JIMS gets nothing for them.', 'gateways:');
    for (const g of d.gateways) out.push(...entry(g.name, [`push: false  # line ${g.line}`]));
  } else {
    out.push('# gateways: no IKE gateway has aaa no-push-to-identity-management.');
  }
  out.push('');

  if (d.devices.length > 0) {
    out.push('# Firewalls by system host-name (the name in their syslog header) and the addresses they send from.', 'devices:');
    for (const device of d.devices) {
      const [host, senders, zone] = [device.comments[0], device.comments.find((c) => c.startsWith('senders:')), device.comments.find((c) => c.startsWith('timezone:'))];
      const body = [`# ${host}`];
      if (senders) body.push(`# ${senders}`);
      body.push(device.senders.length > 0 ? 'senders:' : 'senders: []', ...device.senders.map((s) => `  - ${scalar(s)}`));
      if (zone) body.push(`# ${zone}`);
      body.push(`timezone: ${scalar(device.timezone)}`);
      out.push(...entry(device.name, body));
    }
  } else {
    out.push('# devices: no system host-name in this configuration; add devices.<host-name> by hand.');
  }
  return `${out.join('\n')}\n`;
}

/**
 * The findings for standard error: what could not be mapped, then what rests on an assumption;
 * `file:line: what` per line, so editors and terminals link them.
 */
export function formatFindings(d: Derivation, file: string): string {
  const block = (title: string, findings: readonly Finding[]) => findings.length === 0 ? [] : [
    title,
    ...findings.map((f) => `  ${file}${f.line === undefined ? '' : `:${f.line}`}: ${f.message}${f.statement ? `: ${f.statement}` : ''}`),
  ];
  const lines = [
    ...block(`junos import: ${d.unmapped.length} not mapped:`, d.unmapped),
    ...block(`junos import: ${d.notes.length} derived on an assumption (check them):`, d.notes),
    `junos import: ${count(d.vpns.length, 'VPN')}, ${count(d.gateways.length, 'gateway opt-out')}, ${count(d.devices.length, 'device')} derived; ${d.unmapped.length} not mapped.`,
  ];
  return `${lines.join('\n')}\n`;
}

function entry(key: string, body: readonly string[]): string[] {
  // Nothing but comments: an empty mapping, the comments above it.
  if (body.every((l) => l.startsWith('#'))) return [...body.map((l) => `  ${l}`), `  ${scalar(key)}: {}`];
  return [`  ${scalar(key)}:`, ...body.map((l) => `    ${l}`)];
}

/** A YAML scalar: plain when that reads back as the same string, quoted otherwise. */
function scalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
