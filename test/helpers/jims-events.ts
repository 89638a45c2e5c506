import { toEvent, type PtimCandidate, type PtimEvent, type PtimState } from '../../src/events/ptim-event.js';

/** A valid PTIM event for client `ip` (defaults fill the rest). */
export function jimsEvent(ip: string, state: PtimState = 'connect', over: Partial<PtimCandidate> = {}): PtimEvent {
  const candidate: PtimCandidate = {
    line: state === 'disconnect' ? 'down' : 'up',
    user: 'alice',
    domain: 'corp.example',
    ip,
    time: '2026-03-14T09:02:11.000Z',
    device: 'srx-hq',
    sender: '192.0.2.10',
    vpn: 'ra-vpn',
    gateway: 'ra-gw',
    tunnelId: '500011',
    peer: '198.51.100.23',
    flags: [],
    pattern: 'junos-iked/vpn-up',
    ...over,
  };
  return toEvent(candidate, state);
}
