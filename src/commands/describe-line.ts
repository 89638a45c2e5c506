import type { Config } from '../config.js';
import { normalize } from '../events/normalize.js';
import { parseEnvelope } from '../ingest/envelope.js';
import { alarmMessage } from '../patterns/alarm-message.js';
import { REJECT_WHY } from '../patterns/field-integrity.js';
import type { PatternSet } from '../patterns/pattern-set.js';

/**
 * What `patterns match` prints for one line: the match and the identity it maps (as the pipeline
 * normalizes it, with the config's VPN domains), why it is refused, or why there is none.
 */
export function describeLine(set: PatternSet, line: string, vpns: Config['vpns']): Record<string, unknown> {
  const now = Date.now();
  const envelope = parseEnvelope(line, now);
  const message = alarmMessage(envelope);
  const text = message?.body ?? envelope.msg;
  const tag = message?.tag ?? null;
  const r = set.recognise(envelope);
  if (r.kind === 'match') {
    const normalized = normalize(r.match, envelope, { data: Buffer.from(line), sender: 'patterns match', receivedAt: now, transport: 'udp' }, vpns);
    let identity: Record<string, unknown>;
    if (normalized.kind === 'skipped') {
      identity = { skipped: normalized.reason };
    } else {
      const c = normalized.candidate;
      identity = {
        event: c.line === 'up' ? 'connect (rekey when the session is live)' : 'disconnect',
        user: c.user,
        domain: c.domain,
        ip: c.ip,
        ...(c.ipv6 === undefined ? {} : { ipv6: c.ipv6 }),
        device: c.device,
        ...(c.vpn === undefined ? {} : { vpn: c.vpn }),
        ...(c.flags.length === 0 ? {} : { flags: c.flags }),
      };
    }
    return { tag, text, ruleId: r.match.ruleId, state: r.match.state, fields: r.match.fields, identity };
  }
  if (r.kind === 'rejected') return { tag, text, ruleId: r.ruleId, rejected: r.reason, why: REJECT_WHY[r.reason] };
  const tried = set.rules.filter((rule) => message !== undefined && rule.tags.includes(message.tag) && text.includes(rule.prefilter));
  const misses = tried.map((rule) => {
    const why = set.explain(rule.id, text);
    return why ? { ruleId: rule.id, stopsAt: `${rule.file}:${why.fileLine}`, regex: why.regexText, column: why.offset + 1, textThere: text.slice(why.offset, why.offset + 60) } : { ruleId: rule.id };
  });
  const untagged = message === undefined ? { note: 'the message does not start with a tag a rule reads, so no rule looks at it' } : {};
  return { tag, text, ruleId: null, nearMiss: r.kind === 'near-miss', ...untagged, ...(misses.length > 0 ? { misses } : {}) };
}
