import { alarmMessage } from '../../src/patterns/alarm-message.js';
import { READ_CAPTURES } from '../../src/patterns/compile.js';
import { breaksLines, checkFields, labelSet } from '../../src/patterns/field-integrity.js';
import type { Recognition } from '../../src/patterns/pattern-set.js';
import type { LineMatcher } from '../../src/flow/pipeline.js';
import type { Envelope } from '../../src/flow/pipeline-records.js';

/**
 * A stand-in pattern set for pipeline tests: one regex per daemon and state, covering the message
 * layout of JUNOS-LOGS.md §2. Behaves like src/patterns' PatternSet (tag, prefilter, anchored regex,
 * field integrity checks).
 */
const BODY = String.raw`VPN (?<vpnA>\S+) from (?<peer>\S+) is (?:up|down)\. Local-ip: (?<localIp>[^,]*), gateway name: (?<gateway>[^,]*), vpn name: (?<vpn>[^,]*), tunnel-id: (?<tunnelId>\d+), (?:tunnel type: [^,]*, )?local tunnel-if: (?<tunnelIf>[^,]*), remote tunnel-ip: [^,]*, Local IKE-ID: (?<localIkeId>[^,]*), Remote IKE-ID: (?<remoteIkeId>[^,]*), AAA username: (?<aaaUser>[^,]*), VR id: (?<vr>[^,]*), Traffic-selector: (?<tsName>[^,]*), Traffic-selector local ID: (?<tsLocal>.*?) ?, Traffic-selector remote ID: (?<tsRemote>.*?) ?, SA Type: (?<saType>[^,]*)(?:, Service Offload: [^,]*)?`;

const rules = (['IKE', 'KMD'] as const).flatMap((daemon) =>
  (['UP', 'DOWN'] as const).map((state) => {
    const prefilter = `${daemon}_VPN_${state}_ALARM_USER`;
    const tail = state === 'DOWN' ? ', Reason: (?<reason>.*)$' : '$';
    const tag = prefilter;
    return {
      id: `tiny-${daemon.toLowerCase()}/vpn-${state.toLowerCase()}`,
      state: state === 'UP' ? ('up' as const) : ('down' as const),
      tag,
      prefilter,
      regex: new RegExp(`^${BODY}${tail}`),
    };
  }),
);

const LABELS = labelSet(['Local-ip:', 'gateway name:', 'vpn name:', 'tunnel-id:', 'tunnel type:', 'local tunnel-if:', 'remote tunnel-ip:', 'Local IKE-ID:', 'Remote IKE-ID:', 'AAA username:', 'VR id:', 'Traffic-selector:', 'Traffic-selector local ID:', 'Traffic-selector remote ID:', 'SA Type:', 'Service Offload:', 'Reason:']);

export const tinyPatterns: LineMatcher = {
  literals: [...rules.map((r) => r.prefilter), 'VPN_UP_ALARM', 'VPN_DOWN_ALARM'],
  recognise(envelope: Envelope): Recognition {
    const message = alarmMessage(envelope);
    for (const rule of rules) {
      if (message?.tag !== rule.tag) continue;
      if (breaksLines(message.body)) return { kind: 'rejected', ruleId: rule.id, reason: 'control-characters' };
      const m = rule.regex.exec(message.body);
      if (m?.groups) {
        const fields: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.groups)) if (v !== undefined && v !== '') fields[k] = v;
        const reason = checkFields(message.body, fields, LABELS, READ_CAPTURES);
        if (reason) return { kind: 'rejected', ruleId: rule.id, reason };
        return { kind: 'match', match: { ruleId: rule.id, state: rule.state, fields } };
      }
    }
    return /VPN_(?:UP|DOWN)_ALARM/.test(envelope.msg) ? { kind: 'near-miss' } : { kind: 'none' };
  },
};
