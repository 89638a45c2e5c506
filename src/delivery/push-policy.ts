import type { Config } from '../config.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { Registry } from 'prom-client';
import type { EventSink } from '../flow/event-sink.js';
import { counter } from '../ops/metrics.js';

/** Why an event the session table made was not sent to JIMS. */
export type SkipReason = 'push-disabled';

/**
 * Which events go to JIMS. Like Junos' `no-push-to-identity-management` on an IKE gateway, the
 * config can opt out per gateway (`gateways.<name>.push: false`), per VPN (`vpns.<name>.push:
 * false`) and per firewall (`devices.<name>.push: false`): the session table still keeps those
 * sessions (connect / rekey / disconnect, the rekey watch), only nothing is sent for them.
 * Opt-out only: an event is held back when any of its device, VPN or gateway says `push: false`
 * (a `push: true` elsewhere does not override it). Device names compare without case, as the
 * device binding does; VPN and gateway names are exact, as in the log line.
 */
export interface PushPolicy {
  /** The reason an event must not be sent, or undefined to send it. */
  skip(event: Pick<PtimEvent, 'device' | 'vpn' | 'gateway'>): SkipReason | undefined;
  /** What opts out, for the start-up log: `gateways.ra-gw`, `vpns.x`, `devices.srx-lab`. */
  readonly describe: readonly string[];
}

/** The policy of a config, or undefined when nothing opts out (then nothing is looked up per event). */
export function pushPolicy(config: Pick<Config, 'gateways' | 'vpns' | 'devices'>): PushPolicy | undefined {
  const off = (settings: Record<string, { push?: boolean | undefined }>) => new Set(Object.entries(settings).filter(([, s]) => s.push === false).map(([name]) => name));
  const gateways = off(config.gateways);
  const vpns = off(config.vpns);
  const devices = new Set([...off(config.devices)].map((d) => d.toLowerCase()));
  if (gateways.size + vpns.size + devices.size === 0) return undefined;
  const describe = [...[...gateways].map((g) => `gateways.${g}`), ...[...vpns].map((v) => `vpns.${v}`), ...Object.entries(config.devices).filter(([, s]) => s.push === false).map(([d]) => `devices.${d}`)];
  return {
    describe,
    skip(event) {
      if (event.gateway !== undefined && gateways.has(event.gateway)) return 'push-disabled';
      if (event.vpn !== undefined && vpns.has(event.vpn)) return 'push-disabled';
      if (devices.size > 0 && devices.has(event.device.toLowerCase())) return 'push-disabled';
      return undefined;
    },
  };
}

/**
 * Splits events into those to send and those held back (in order). Returns the input array itself
 * when nothing is held back, so the common case allocates nothing.
 */
export function splitByPolicy(policy: PushPolicy, events: readonly PtimEvent[]): { send: readonly PtimEvent[]; skipped: Array<{ event: PtimEvent; reason: SkipReason }> } {
  let send: PtimEvent[] | undefined;
  const skipped: Array<{ event: PtimEvent; reason: SkipReason }> = [];
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const reason = policy.skip(event);
    if (reason === undefined) {
      send?.push(event);
      continue;
    }
    send ??= events.slice(0, i);
    skipped.push({ event, reason });
  }
  return { send: send ?? events, skipped };
}

/**
 * For a sink that keeps no statistics (`run --dry-run` printing): events the policy holds back are
 * not passed on, only counted in `ptim_bridge_events_skipped_total{reason}` once their transaction
 * committed. The delivering sink applies the policy itself (delivery.ts), with statistics.
 */
export function holdBack(sink: EventSink, policy: () => PushPolicy | undefined, skipped: { inc(labels: { reason: string }, n: number): void }): EventSink {
  let pending = 0;
  return {
    queue(events, receivedAt) {
      const current = policy();
      if (current === undefined) {
        sink.queue(events, receivedAt);
        return;
      }
      const split = splitByPolicy(current, events);
      pending += split.skipped.length;
      if (split.send.length > 0) sink.queue(split.send, receivedAt);
    },
    beforeCommit: () => sink.beforeCommit?.(),
    committed() {
      if (pending > 0) skipped.inc({ reason: 'push-disabled' }, pending);
      pending = 0;
      sink.committed();
    },
    discard() {
      pending = 0;
      sink.discard?.();
    },
  };
}

/** `ptim_bridge_events_skipped_total{reason}`: events the session table made that were not sent. */
export function skippedCounter(registry: Registry) {
  return counter(registry, 'ptim_bridge_events_skipped_total', 'Events not sent to JIMS, by reason (push-disabled: a gateways/vpns/devices push: false opt-out)', ['reason']);
}
