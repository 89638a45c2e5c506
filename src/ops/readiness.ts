import type { DeliveryReadiness } from '../delivery/delivery.js';

/**
 * Readiness (`GET /readyz`), apart from liveness (`/healthz`: the process answers): whether this
 * bridge is doing its job now, so that a load balancer sends syslog elsewhere and an operator is
 * paged. Pure: the bridge gathers the facts, this judges them against documented limits.
 */
export interface ReadinessLimits {
  /** JIMS failing to take pushes (network, 5xx, 401 after a token refresh) for longer than this (`metrics.readyJimsFailingSeconds`, 60). */
  jimsFailingSeconds: number;
  /** The oldest event waiting in the outbox is older than this (`metrics.readyBacklogAgeSeconds`, 300). */
  backlogAgeSeconds: number;
}

export interface ReadinessFacts {
  /** Undefined when the state file works; else since when and why it fails. */
  stateFailing?: { since: number; error: string };
  /** Undefined for a dry run (nothing is delivered). */
  delivery?: DeliveryReadiness;
  /** The last VPN line per device (receipt time, ms). */
  lastLineAt: ReadonlyMap<string, number>;
  limits: ReadinessLimits;
}

export interface ReadinessReport {
  ready: boolean;
  /** Why not, one sentence each (empty when ready). */
  reasons: string[];
  stateWritable: boolean;
  jims?: { reachable: boolean; failingSince?: string; lastError?: string; lastDeliveredAt?: string };
  backlog?: { events: number; oldestAgeSeconds?: number };
  deadLetters?: number;
  devices: Record<string, { lastLineAt: string; secondsAgo: number }>;
  limits: ReadinessLimits;
}

export function judgeReadiness(facts: ReadinessFacts, now: number): ReadinessReport {
  const reasons: string[] = [];
  const iso = (ms: number) => new Date(ms).toISOString();
  if (facts.stateFailing) reasons.push(`the state file cannot be written since ${iso(facts.stateFailing.since)} (${facts.stateFailing.error})`);
  const report: ReadinessReport = { ready: true, reasons, stateWritable: facts.stateFailing === undefined, devices: {}, limits: facts.limits };
  const d = facts.delivery;
  if (d) {
    const failingFor = d.jims.failingSince === undefined ? 0 : (now - d.jims.failingSince) / 1000;
    const reachable = failingFor <= facts.limits.jimsFailingSeconds;
    if (!reachable) reasons.push(`JIMS has not taken a push for ${Math.round(failingFor)} s (${d.jims.lastError ?? 'no answer'})`);
    report.jims = {
      reachable,
      ...(d.jims.failingSince === undefined ? {} : { failingSince: iso(d.jims.failingSince) }),
      ...(d.jims.lastError === undefined || d.jims.failingSince === undefined ? {} : { lastError: d.jims.lastError }),
      ...(d.jims.lastDeliveredAt === undefined ? {} : { lastDeliveredAt: iso(d.jims.lastDeliveredAt) }),
    };
    const age = d.oldestQueuedAt === undefined ? undefined : Math.max(0, Math.round((now - d.oldestQueuedAt) / 1000));
    if (age !== undefined && age > facts.limits.backlogAgeSeconds) reasons.push(`the oldest of ${d.backlog} queued events waits for ${age} s`);
    report.backlog = { events: d.backlog, ...(age === undefined ? {} : { oldestAgeSeconds: age }) };
    report.deadLetters = d.deadLetters;
  }
  for (const [device, at] of [...facts.lastLineAt].sort(([a], [b]) => (a < b ? -1 : 1))) {
    report.devices[device] = { lastLineAt: iso(at), secondsAgo: Math.max(0, Math.round((now - at) / 1000)) };
  }
  report.ready = reasons.length === 0;
  return report;
}
