import type { LineMatcher } from '../../src/pipeline.js';
import type { PatternMatch } from '../../src/pipeline-records.js';

/**
 * A stand-in pattern set for pipeline tests: one regex per daemon and state, covering the message
 * layout of JUNOS-LOGS.md §2. Behaves like src/patterns' PatternSet (prefilter, then regex).
 */
const BODY = String.raw`VPN (?<vpnA>\S+) from (?<peer>\S+) is (?:up|down)\. Local-ip: (?<localIp>[^,]*), gateway name: (?<gateway>[^,]*), vpn name: (?<vpn>[^,]*), tunnel-id: (?<tunnelId>\d+), (?:tunnel type: [^,]*, )?local tunnel-if: (?<tunnelIf>[^,]*), remote tunnel-ip: [^,]*, Local IKE-ID: (?<localIkeId>[^,]*), Remote IKE-ID: (?<remoteIkeId>[^,]*), AAA username: (?<aaaUser>[^,]*), VR id: (?<vr>[^,]*), Traffic-selector: (?<tsName>[^,]*), Traffic-selector local ID: (?<tsLocal>.*?) ?, Traffic-selector remote ID: (?<tsRemote>.*?) ?, SA Type: (?<saType>[^,]*)(?:, Service Offload: [^,]*)?`;

const rules = (['IKE', 'KMD'] as const).flatMap((daemon) =>
  (['UP', 'DOWN'] as const).map((state) => {
    const prefilter = `${daemon}_VPN_${state}_ALARM_USER`;
    const tail = state === 'DOWN' ? ', Reason: (?<reason>.*)$' : '$';
    return {
      id: `tiny-${daemon.toLowerCase()}/vpn-${state.toLowerCase()}`,
      state: state === 'UP' ? ('up' as const) : ('down' as const),
      prefilter,
      regex: new RegExp(`${prefilter}: ${BODY}${tail}`),
    };
  }),
);

export const tinyPatterns: LineMatcher = {
  literals: [...rules.map((r) => r.prefilter), 'VPN_UP_ALARM', 'VPN_DOWN_ALARM'],
  match(text: string): PatternMatch | undefined {
    for (const rule of rules) {
      if (!text.includes(rule.prefilter)) continue;
      const m = rule.regex.exec(text);
      if (m?.groups) {
        const fields: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.groups)) if (v !== undefined) fields[k] = v;
        return { ruleId: rule.id, state: rule.state, fields };
      }
    }
    return undefined;
  },
  isNearMiss(text: string): boolean {
    return /VPN_(?:UP|DOWN)_ALARM/.test(text);
  },
};
