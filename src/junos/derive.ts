import { BridgeError } from '../errors.js';
import { canonicalTimeZone } from '../ingest/time-zone.js';
import type { SetStatement } from './set-lines.js';

/**
 * What a firewall's configuration says that the bridge config needs, and what it could not say.
 *
 * The Junos statements read (all under `set`, in `display set` form):
 *
 *     security remote-access profile P ipsec-vpn V          profile P serves VPN object V
 *     security remote-access profile P options user-domain D  D: the domain alias of P's users
 *     security ipsec vpn V ike gateway G                      V's IKE gateway
 *     security ipsec vpn V ike ipsec-policy POL               V's IPsec policy
 *     security ipsec policy POL proposals PR | proposal-set S
 *     security ipsec proposal PR lifetime-seconds N           the IPsec SA lifetime: the rekey interval
 *     security ike gateway G aaa no-push-to-identity-management   gateways.G.push: false
 *     security ike gateway G dynamic ... | aaa ...           a dial-up (remote-access) gateway
 *     security dynamic-vpn clients C ipsec-vpn V              legacy dynamic VPN: V is remote access
 *     system host-name H                                      devices.H
 *     system syslog source-address A, system syslog host X source-address A   devices.H.senders
 *     system time-zone Z                                      devices.H.timezone
 *
 * Configuration groups are followed: `set groups G ...` counts when `set apply-groups G` applies
 * it (the top-level configuration wins over groups, earlier groups over later ones), and a chassis
 * cluster's `apply-groups "${node}"` makes one device per `groups nodeN system host-name`.
 * `deactivate` makes a subtree inactive: ignored, and listed.
 */

/** A Junos IPsec proposal without `lifetime-seconds`, and the predefined proposal sets, live this long. */
export const JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS = 3600;

export interface Finding {
  /** Line in the imported file; undefined for what no single line says. */
  readonly line: number | undefined;
  readonly message: string;
  /** The statement, as words (secrets hidden), when the finding is about one line. */
  readonly statement?: string;
}

export interface Sourced<T> {
  readonly value: T;
  readonly line: number;
}

export interface DerivedVpn {
  /** The IPsec VPN object name: `vpn name` in the log line, the key under `vpns:`. */
  readonly name: string;
  readonly line: number | undefined;
  readonly gateway?: string;
  readonly domain?: string;
  readonly rekeyIntervalSeconds?: number;
  /** Why it counts as remote access (a profile, dynamic-vpn, a dial-up gateway). */
  readonly remoteAccess: string;
  /** Where the domain came from, or why there is none (for the YAML comments). */
  readonly domainComment: string;
  /** Where the rekey interval came from, when there is one. */
  readonly rekeyComment?: string;
}

export interface DerivedGateway {
  readonly name: string;
  readonly push: false;
  readonly line: number;
}

export interface DerivedDevice {
  /** `system host-name`: the syslog HOSTNAME, the key under `devices:`. */
  readonly name: string;
  readonly line: number;
  readonly senders: readonly string[];
  readonly timezone: string;
  readonly comments: readonly string[];
}

export interface Derivation {
  readonly vpns: readonly DerivedVpn[];
  readonly gateways: readonly DerivedGateway[];
  readonly devices: readonly DerivedDevice[];
  /** IPsec VPNs left out: site-to-site (a gateway with a fixed peer and no remote-access use). */
  readonly siteToSite: readonly string[];
  /** Relevant statements the import could not turn into config (or that need a hand). */
  readonly unmapped: readonly Finding[];
  /** Values derived on an assumption (a Junos default, a choice between several). */
  readonly notes: readonly Finding[];
}

export interface DomainConflict {
  readonly vpn: string;
  /** Every profile of that VPN that sets a user-domain, in file order. */
  readonly profiles: ReadonlyArray<{ readonly name: string; readonly domain: string; readonly line: number }>;
}

/**
 * Two remote-access profiles share one IPsec VPN object but name different `user-domain`s: PTIM
 * forbids it, and the bridge (domains keyed by VPN name) could not tell their users apart.
 */
export class JunosConfigError extends BridgeError {
  readonly conflicts: readonly DomainConflict[];
  constructor(message: string, options: { file: string; line: number; key: string; conflicts: readonly DomainConflict[] }) {
    super('ERR_JUNOS_CONFIG', message, options);
    this.conflicts = options.conflicts;
  }
}

interface Vpn {
  line: number;
  gateway?: Sourced<string>;
  policy?: Sourced<string>;
  manual?: number;
}
interface Policy {
  line: number;
  proposals: Array<Sourced<string>>;
  proposalSet?: Sourced<string>;
  /** Which source set the proposals: a group's list does not add to the main one. */
  proposalsFrom?: string;
}
interface Proposal {
  line: number;
  lifetimeSeconds?: Sourced<number>;
  lifetimeKilobytes?: Sourced<number>;
}
interface Gateway {
  line: number;
  noPush?: number;
  dialUp?: number;
}
interface Profile {
  line: number;
  vpn?: Sourced<string>;
  userDomain?: Sourced<string>;
}
/** The `system` statements a device is made of; kept per source because cluster nodes differ. */
interface SystemFacts {
  hostName?: Sourced<string>;
  timeZone?: Sourced<string>;
  sourceAddresses: Array<Sourced<string>>;
}

interface Entry {
  readonly line: number;
  /** The words after `set`, without a `groups G` prefix. */
  readonly path: readonly string[];
  /** undefined: the top-level configuration. */
  readonly group: string | undefined;
}

interface Model {
  vpns: Map<string, Vpn>;
  policies: Map<string, Policy>;
  proposals: Map<string, Proposal>;
  gateways: Map<string, Gateway>;
  profiles: Map<string, Profile>;
  /** VPN names a `dynamic-vpn clients` entry uses. */
  dynamicVpn: Map<string, number>;
  /** By source: '' for the top level, else the group name. */
  system: Map<string, SystemFacts>;
}

const NODE_GROUP = /^node\d+$/;
const SECRET_WORDS = /secret|password|pre-shared-key|ascii-text|hexadecimal|key$/i;

/**
 * Derives the bridge's `vpns`, `gateways` and `devices` from a firewall's `display set` statements.
 * @throws JunosConfigError (ERR_JUNOS_CONFIG) when profiles sharing a VPN object name different
 *   user-domains: every such VPN, with both (all) profiles, their domains and lines, in one error.
 */
export function deriveBridgeConfig(statements: readonly SetStatement[], options: { file: string }): Derivation {
  const unmapped: Finding[] = [];
  const notes: Finding[] = [];
  const { entries, order, nodes } = resolveGroups(statements, unmapped);
  const model: Model = { vpns: new Map(), policies: new Map(), proposals: new Map(), gateways: new Map(), profiles: new Map(), dynamicVpn: new Map(), system: new Map() };
  for (const entry of entries) absorb(model, entry, unmapped);

  const conflicts: DomainConflict[] = [];
  const vpns: DerivedVpn[] = [];
  const siteToSite: string[] = [];
  const remoteAccess = remoteAccessVpns(model);
  for (const name of [...new Set([...model.vpns.keys(), ...remoteAccess.keys()])]) {
    if (!remoteAccess.has(name)) {
      siteToSite.push(name);
      continue;
    }
    const derived = deriveVpn(model, name, remoteAccess.get(name)!, unmapped, notes, conflicts);
    if (derived) vpns.push(derived);
  }
  if (conflicts.length > 0) throw conflictError(conflicts, options.file);

  const gateways: DerivedGateway[] = [...model.gateways]
    .filter(([, g]) => g.noPush !== undefined)
    .map(([name, g]) => ({ name, push: false as const, line: g.noPush! }));

  const devices = deriveDevices(model, order, nodes, unmapped, notes);
  return { vpns, gateways, devices, siteToSite, unmapped: sortFindings(unmapped), notes: sortFindings(notes) };
}

/**
 * Flattens groups into entries ordered by precedence (top level, then applied groups in order),
 * drops inactive and unapplied statements (listing the relevant ones), and finds cluster nodes.
 */
function resolveGroups(statements: readonly SetStatement[], unmapped: Finding[]): { entries: Entry[]; order: string[]; nodes: string[] } {
  const inactive = statements.filter((s) => s.verb === 'deactivate');
  const inactiveBy = (words: readonly string[]) => inactive.find((d) => d.words.length <= words.length && d.words.every((w, i) => words[i] === w));
  const groupsDefined = new Set<string>();
  const applied: string[] = [];
  let perNode = false;
  const candidates: Array<{ statement: SetStatement; entry: Entry }> = [];
  for (const s of statements) {
    if (s.verb === 'deactivate' || s.verb === 'protect' || s.verb === 'unprotect' || s.verb === 'activate') continue;
    if (s.verb === 'delete') {
      if (isRelevant(stripGroup(s.words).path)) unmapped.push(finding(s.line, '`delete` is not applied: import the output of `show configuration | display set` of the committed configuration', s.words));
      continue;
    }
    const { path, group } = stripGroup(s.words);
    if (group !== undefined) groupsDefined.add(group);
    if (group === undefined && path[0] === 'apply-groups' && path[1] !== undefined) {
      if (inactiveBy(s.words)) continue;
      if (path[1] === '${node}') perNode = true;
      else applied.push(path[1]);
      continue;
    }
    candidates.push({ statement: s, entry: { line: s.line, path, group } });
  }
  const nodes = perNode ? [...groupsDefined].filter((g) => NODE_GROUP.test(g)).sort() : [];
  const order = ['', ...applied, ...nodes];
  const rank = new Map(order.map((g, i) => [g, i]));
  const entries: Entry[] = [];
  for (const { statement, entry } of candidates) {
    if (!isRelevant(entry.path) && !(entry.path[0] === 'logical-systems' || entry.path[0] === 'tenants')) continue;
    if (entry.path[0] === 'logical-systems' || entry.path[0] === 'tenants') {
      if (isRelevant(entry.path.slice(2))) unmapped.push(finding(entry.line, `in ${entry.path[0]} ${entry.path[1] ?? ''}: VPNs of logical systems and tenants are not imported`, statement.words));
      continue;
    }
    const off = inactiveBy(statement.words);
    if (off) {
      unmapped.push(finding(entry.line, `inactive (deactivate on line ${off.line}): ignored`, statement.words));
      continue;
    }
    if (entry.group !== undefined && !rank.has(entry.group)) {
      unmapped.push(finding(entry.line, `in group ${entry.group}, which no top-level apply-groups applies: ignored`, statement.words));
      continue;
    }
    if (entry.path.some((w) => /^<.*>$/.test(w))) {
      unmapped.push(finding(entry.line, 'wildcard group path: not followed', statement.words));
      continue;
    }
    entries.push(entry);
  }
  // Stable sort: precedence first, file order within a source.
  entries.sort((a, b) => rank.get(a.group ?? '')! - rank.get(b.group ?? '')!);
  return { entries, order, nodes };
}

function stripGroup(words: readonly string[]): { path: readonly string[]; group: string | undefined } {
  if (words[0] === 'groups' && words[1] !== undefined) return { path: words.slice(2), group: words[1] };
  return { path: words, group: undefined };
}

/** The hierarchies the import reads; everything else in a firewall's configuration is not its business. */
function isRelevant(path: readonly string[]): boolean {
  const [a, b, c, , e] = path;
  if (a === 'security') return b === 'ike' || b === 'ipsec' || b === 'remote-access' || b === 'dynamic-vpn';
  if (a === 'system') return b === 'host-name' || b === 'time-zone' || (b === 'syslog' && (c === 'source-address' || (c === 'host' && e === 'source-address')));
  return false;
}

// Statements of the objects the import reads that say nothing the bridge needs.
const GATEWAY_IGNORED = new Set(['address', 'external-interface', 'ike-policy', 'local-address', 'local-identity', 'remote-identity', 'version', 'dead-peer-detection', 'nat-keepalive', 'no-nat-traversal', 'force-nat-traversal', 'general-ikeid', 'fragmentation', 'tcp-encap-profile', 'xauth', 'advpn', 'description', 'connections-limit', 'ppk-profile', 'remote-certificate', 'local-certificate']);
const AAA_IGNORED = new Set(['access-profile', 'client', 'config-payload-password', 'use-routing-instance-address']);
const VPN_IGNORED = new Set(['bind-interface', 'df-bit', 'copy-outer-dscp', 'establish-tunnels', 'traffic-selector', 'vpn-monitor', 'multi-sa', 'passive-mode-tunneling', 'udp-encapsulate', 'tunnel-mtu', 'description', 'distribution-profile', 'anti-replay-window-size', 'match-direction', 'traffic-selector-match']);
const VPN_IKE_IGNORED = new Set(['proxy-identity', 'idle-time', 'install-interval', 'no-anti-replay', 'anti-replay-window-size']);
const POLICY_IGNORED = new Set(['perfect-forward-secrecy', 'description']);
const PROPOSAL_IGNORED = new Set(['authentication-algorithm', 'encryption-algorithm', 'protocol', 'description', 'extended-sequence-number']);
const PROFILE_IGNORED = new Set(['access-profile', 'client-config', 'description']);
const PROFILE_OPTIONS_IGNORED = new Set(['multi-access']);

/** Records one relevant statement in the model, or lists it as not understood. */
function absorb(model: Model, entry: Entry, unmapped: Finding[]): void {
  const { path, line } = entry;
  const notUnderstood = (why = 'not understood by the import: ignored') => unmapped.push(finding(line, why, entry.group === undefined ? path : ['groups', entry.group, ...path]));
  const [, area, kind, name, head, ...rest] = path;
  if (path[0] === 'system') {
    const facts = model.system.get(entry.group ?? '') ?? { sourceAddresses: [] };
    model.system.set(entry.group ?? '', facts);
    if (area === 'host-name' && kind !== undefined) facts.hostName ??= { value: kind, line };
    else if (area === 'time-zone' && kind !== undefined) facts.timeZone ??= { value: kind, line };
    else if (area === 'syslog' && kind === 'source-address' && name !== undefined) facts.sourceAddresses.push({ value: name, line });
    else if (area === 'syslog' && kind === 'host' && head === 'source-address' && rest[0] !== undefined) facts.sourceAddresses.push({ value: rest[0], line });
    else notUnderstood();
    return;
  }
  if (name === undefined) return; // `security ike traceoptions`, `security ipsec vpn-monitor-options`, ...
  switch (area) {
    case 'ike': {
      if (kind !== 'gateway') return;
      const g = getOr(model.gateways, name, (): Gateway => ({ line }));
      if (head === 'aaa') {
        g.dialUp ??= line;
        if (rest[0] === 'no-push-to-identity-management') g.noPush ??= line;
        else if (rest[0] === undefined || !AAA_IGNORED.has(rest[0])) notUnderstood();
      } else if (head === 'dynamic') {
        g.dialUp ??= line;
      } else if (head !== undefined && !GATEWAY_IGNORED.has(head)) {
        notUnderstood();
      }
      return;
    }
    case 'ipsec': {
      if (kind === 'vpn') {
        const v = getOr(model.vpns, name, (): Vpn => ({ line }));
        if (head === 'ike' && rest[0] === 'gateway' && rest[1] !== undefined) v.gateway ??= { value: rest[1], line };
        else if (head === 'ike' && rest[0] === 'ipsec-policy' && rest[1] !== undefined) v.policy ??= { value: rest[1], line };
        else if (head === 'manual') v.manual ??= line;
        else if (head === 'ike' && rest[0] !== undefined && VPN_IKE_IGNORED.has(rest[0])) return;
        else if (head !== undefined && head !== 'ike' && VPN_IGNORED.has(head)) return;
        else if (head !== undefined) notUnderstood();
      } else if (kind === 'policy') {
        const p = getOr(model.policies, name, (): Policy => ({ line, proposals: [] }));
        const source = entry.group ?? '';
        if (head === 'proposals' && rest[0] !== undefined) {
          // Like any statement, a list set at a higher precedence hides the lists of later groups.
          p.proposalsFrom ??= source;
          if (p.proposalsFrom === source) p.proposals.push({ value: rest[0], line });
        } else if (head === 'proposal-set' && rest[0] !== undefined) {
          p.proposalSet ??= { value: rest[0], line };
        } else if (head !== undefined && !POLICY_IGNORED.has(head)) {
          notUnderstood();
        }
      } else if (kind === 'proposal') {
        const p = getOr(model.proposals, name, (): Proposal => ({ line }));
        if (head === 'lifetime-seconds') {
          const seconds = Number(rest[0]);
          if (Number.isInteger(seconds) && seconds > 0) p.lifetimeSeconds ??= { value: seconds, line };
          else notUnderstood(`lifetime-seconds ${JSON.stringify(rest[0] ?? '')} is not a number of seconds: ignored`);
        } else if (head === 'lifetime-kilobytes') {
          p.lifetimeKilobytes ??= { value: Number(rest[0]), line };
        } else if (head !== undefined && !PROPOSAL_IGNORED.has(head)) {
          notUnderstood();
        }
      }
      return;
    }
    case 'remote-access': {
      if (kind !== 'profile') return;
      const p = getOr(model.profiles, name, (): Profile => ({ line }));
      if (head === 'ipsec-vpn' && rest[0] !== undefined) p.vpn ??= { value: rest[0], line };
      else if (head === 'options' && rest[0] === 'user-domain' && rest[1] !== undefined) p.userDomain ??= { value: rest[1], line };
      else if (head === 'options' && rest[0] !== undefined && PROFILE_OPTIONS_IGNORED.has(rest[0])) return;
      else if (head !== undefined && !PROFILE_IGNORED.has(head)) notUnderstood();
      return;
    }
    case 'dynamic-vpn': {
      if (kind === 'clients' && head === 'ipsec-vpn' && rest[0] !== undefined && !model.dynamicVpn.has(rest[0])) model.dynamicVpn.set(rest[0], line);
      return;
    }
    default:
      return;
  }
}

/**
 * The VPN objects users dial in to: used by a remote-access profile or a dynamic-vpn client, or
 * negotiated through a dial-up gateway (`dynamic` peer, or `aaa` extended authentication).
 */
function remoteAccessVpns(model: Model): Map<string, string> {
  const why = new Map<string, string>();
  for (const [profile, p] of model.profiles) if (p.vpn && !why.has(p.vpn.value)) why.set(p.vpn.value, `remote-access profile ${profile}`);
  for (const [vpn] of model.dynamicVpn) if (!why.has(vpn)) why.set(vpn, 'dynamic-vpn clients');
  for (const [name, v] of model.vpns) {
    const gateway = v.gateway ? model.gateways.get(v.gateway.value) : undefined;
    if (!why.has(name) && gateway?.dialUp !== undefined) why.set(name, `dial-up gateway ${v.gateway!.value}`);
  }
  return why;
}

function deriveVpn(model: Model, name: string, remoteAccess: string, unmapped: Finding[], notes: Finding[], conflicts: DomainConflict[]): DerivedVpn | undefined {
  const vpn = model.vpns.get(name);
  let domainComment: string;
  const profiles = [...model.profiles].filter(([, p]) => p.vpn?.value === name);
  if (!vpn) {
    const user = profiles[0];
    const line = user ? user[1].vpn!.line : model.dynamicVpn.get(name);
    unmapped.push({ line, message: `${user ? `remote-access profile ${user[0]}` : 'dynamic-vpn clients'} use${user ? 's' : ''} ipsec vpn ${name}, which is not in this configuration: only its domain (if any) is imported` });
  }

  // Domain alias: one per VPN object (PTIM's rule, and the bridge's key).
  const withDomain = profiles.filter(([, p]) => p.userDomain !== undefined);
  const domains = new Set(withDomain.map(([, p]) => p.userDomain!.value));
  let domain: string | undefined;
  if (domains.size > 1) {
    conflicts.push({ vpn: name, profiles: withDomain.map(([profile, p]) => ({ name: profile, domain: p.userDomain!.value, line: p.userDomain!.line })).sort((a, b) => a.line - b.line) });
    domainComment = 'conflicting user-domains (refused)';
  } else if (domains.size === 1) {
    domain = [...domains][0]!;
    domainComment = (`user-domain of remote-access profile${withDomain.length > 1 ? 's' : ''} ${withDomain.map(([profile, p]) => `${profile} (line ${p.userDomain!.line})`).join(', ')}`);
    for (const [profile, p] of profiles.filter(([, q]) => q.userDomain === undefined)) {
      notes.push({ line: p.vpn!.line, message: `remote-access profile ${profile} shares ipsec vpn ${name} but sets no user-domain: PTIM would send missing-domain-secureconnect for its users, the bridge sends ${domain} (domains are per VPN)` });
    }
  } else if (profiles.length > 0) {
    domainComment = (`no user-domain in remote-access profile${profiles.length > 1 ? 's' : ''} ${profiles.map(([p]) => p).join(', ')}: users without a domain in their name get missing-domain-secureconnect`);
  } else {
    domainComment = ('no remote-access profile uses this VPN: users without a domain in their name get missing-domain-secureconnect');
  }

  const rekey = vpn ? deriveRekey(model, name, vpn, unmapped, notes) : undefined;
  const gateway = vpn?.gateway?.value;
  return {
    name, line: vpn?.line, remoteAccess, domainComment,
    ...(gateway ? { gateway } : {}),
    ...(domain ? { domain } : {}),
    ...(rekey ? { rekeyIntervalSeconds: rekey.seconds, rekeyComment: rekey.comment } : {}),
  };
}

/** The IPsec SA lifetime the VPN's policy gives: the interval at which its tunnels rekey (log an UP again). */
function deriveRekey(model: Model, name: string, vpn: Vpn, unmapped: Finding[], notes: Finding[]): { seconds: number; comment: string } | undefined {
  if (vpn.manual !== undefined) {
    unmapped.push({ line: vpn.manual, message: `ipsec vpn ${name} uses a manual SA (no IKE, no rekeys): no rekey interval derived` });
    return undefined;
  }
  if (!vpn.policy) {
    unmapped.push({ line: vpn.line, message: `ipsec vpn ${name} has no ike ipsec-policy: no rekey interval derived (sessions.rekeyIntervalSeconds applies)` });
    return undefined;
  }
  const policyName = vpn.policy.value;
  const policy = model.policies.get(policyName);
  if (!policy) {
    unmapped.push({ line: vpn.policy.line, message: `ipsec vpn ${name} uses ipsec policy ${policyName}, which is not in this configuration: no rekey interval derived` });
    return undefined;
  }
  const via = `ipsec-policy ${policyName} (line ${vpn.policy.line})`;
  if (policy.proposals.length === 0) {
    if (policy.proposalSet) {
      const comment = `proposal-set ${policy.proposalSet.value} (line ${policy.proposalSet.line}) of ${via}: predefined proposals, Junos default lifetime ${JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS} s`;
      notes.push({ line: policy.proposalSet.line, message: `ipsec vpn ${name}: ${comment}` });
      return { seconds: JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS, comment };
    }
    unmapped.push({ line: policy.line, message: `ipsec policy ${policyName} names no proposals or proposal-set: no rekey interval derived for ipsec vpn ${name}` });
    return undefined;
  }
  const lifetimes = policy.proposals.map(({ value: proposalName, line }) => {
    const proposal = model.proposals.get(proposalName);
    if (proposal?.lifetimeKilobytes) {
      notes.push({ line: proposal.lifetimeKilobytes.line, message: `ipsec proposal ${proposalName} also has lifetime-kilobytes: busy tunnels of ipsec vpn ${name} rekey sooner than every ${proposal.lifetimeSeconds?.value ?? JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS} s (early rekeys are fine; the watch only flags late ones)` });
    }
    if (proposal?.lifetimeSeconds) return { proposalName, seconds: proposal.lifetimeSeconds.value, why: `lifetime-seconds of ipsec proposal ${proposalName} (line ${proposal.lifetimeSeconds.line})` };
    const why = proposal
      ? `ipsec proposal ${proposalName} (line ${proposal.line}) sets no lifetime-seconds: Junos default ${JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS} s`
      : `ipsec proposal ${proposalName} (line ${line}) is not in this configuration (predefined?): Junos default ${JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS} s`;
    notes.push({ line: proposal?.line ?? line, message: `ipsec vpn ${name}: ${why}` });
    return { proposalName, seconds: JUNOS_DEFAULT_IPSEC_LIFETIME_SECONDS, why };
  });
  const distinct = [...new Set(lifetimes.map((l) => l.seconds))];
  // The peer picks the proposal; the longest lifetime keeps the rekey watch from ending live
  // sessions whose tunnels simply rekey later than the shortest would.
  const seconds = Math.max(...distinct);
  if (distinct.length > 1) {
    notes.push({ line: vpn.policy.line, message: `ipsec vpn ${name}: its proposals live ${lifetimes.map((l) => `${l.proposalName} ${l.seconds} s`).join(', ')}; the longest, ${seconds} s, is the rekey interval (the peer picks the proposal)` });
    return { seconds, comment: `longest lifetime of the proposals of ${via}: ${lifetimes.map((l) => l.why).join('; ')}` };
  }
  return { seconds, comment: `${lifetimes.map((l) => l.why).join('; ')}, via ${via}` };
}

function deriveDevices(model: Model, order: readonly string[], nodes: readonly string[], unmapped: Finding[], notes: Finding[]): DerivedDevice[] {
  const contexts = nodes.length > 0 ? nodes.map((node) => order.filter((g) => !NODE_GROUP.test(g) || g === node)) : [order];
  const devices: DerivedDevice[] = [];
  const seen = new Set<string>();
  // Cluster nodes share the statement: one finding for it, naming every device.
  const zoneByHand = new Map<number, { zone: string; devices: string[] }>();
  for (const sources of contexts) {
    const facts = sources.map((g) => model.system.get(g)).filter((f): f is SystemFacts => f !== undefined);
    const hostName = facts.find((f) => f.hostName)?.hostName;
    const timeZone = facts.find((f) => f.timeZone)?.timeZone;
    if (!hostName) continue;
    if (seen.has(hostName.value.toLowerCase())) continue;
    seen.add(hostName.value.toLowerCase());
    const comments: string[] = [`system host-name (line ${hostName.line})`];
    const addresses = new Map<string, number>();
    for (const f of facts) for (const a of f.sourceAddresses) if (!addresses.has(a.value)) addresses.set(a.value, a.line);
    if (addresses.size > 0) {
      comments.push(`senders: syslog source-address (line${addresses.size > 1 ? 's' : ''} ${[...addresses.values()].join(', ')})`);
    } else {
      comments.push('senders: FILL IN the address this firewall sends syslog from (no syslog source-address in its configuration); until then its lines are refused (device-not-bound)');
      unmapped.push({ line: hostName.line, message: `no system syslog source-address: fill in devices.${hostName.value}.senders with the address the firewall sends from` });
    }
    let timezone = 'UTC';
    if (!timeZone) {
      comments.push('timezone: no system time-zone, so the firewall logs in Junos\' default, UTC');
    } else if (/^(Etc\/)?GMT[+-]/i.test(timeZone.value) || canonicalTimeZone(timeZone.value) === undefined) {
      comments.push(`timezone: FILL IN: system time-zone ${timeZone.value} (line ${timeZone.line}) is no IANA zone the bridge can take as it is`);
      const pending = zoneByHand.get(timeZone.line) ?? { zone: timeZone.value, devices: [] };
      pending.devices.push(hostName.value);
      zoneByHand.set(timeZone.line, pending);
    } else {
      timezone = timeZone.value;
      comments.push(`timezone: system time-zone (line ${timeZone.line})`);
    }
    devices.push({ name: hostName.value, line: hostName.line, senders: [...addresses.keys()], timezone, comments });
  }
  for (const [line, { zone, devices: names }] of zoneByHand) {
    unmapped.push({ line, message: `system time-zone ${zone} is not an IANA zone name the bridge knows unambiguously (Junos GMT+N zones count the other way round from POSIX Etc/GMT+N): set ${names.map((n) => `devices.${n}.timezone`).join(' and ')} by hand; UTC is written meanwhile` });
  }
  if (devices.length === 0) notes.push({ line: undefined, message: 'no system host-name in this configuration: add devices.<host-name> by hand (the name the firewall writes in its syslog header)' });
  return devices;
}

function conflictError(conflicts: readonly DomainConflict[], file: string): JunosConfigError {
  const first = conflicts[0]!;
  const second = first.profiles[1]!;
  const describe = (c: DomainConflict) => {
    const listed = c.profiles.map((p) => `"${p.name}" (user-domain ${p.domain}, line ${p.line})`);
    return `remote-access profiles ${listed.slice(0, -1).join(', ')} and ${listed[listed.length - 1]} share IPsec VPN object "${c.vpn}"`;
  };
  const message = `${file}:${second.line}: ${conflicts.map(describe).join('; ')}. PTIM requires one user-domain per IPsec VPN object (and the bridge keys domain aliases by VPN name): give these profiles the same user-domain, or each its own ipsec vpn, then import again.`;
  return new JunosConfigError(message, { file, line: second.line, key: `vpns.${first.vpn}.domain`, conflicts });
}

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

function finding(line: number, message: string, words: readonly string[]): Finding {
  return { line, message, statement: hideSecrets(words) };
}

/** The statement as words, with any value after a secret-looking keyword replaced: findings reach terminals and logs. */
export function hideSecrets(words: readonly string[]): string {
  const shown: string[] = [];
  let hide = false;
  for (const w of words) {
    if ((hide && !/^(ascii-text|hexadecimal)$/.test(w)) || /^\$\d\$/.test(w)) {
      shown.push('<hidden>');
      hide = false;
      continue;
    }
    shown.push(/\s/.test(w) || w === '' ? JSON.stringify(w) : w);
    if (SECRET_WORDS.test(w)) hide = true;
  }
  return shown.join(' ');
}

function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}
