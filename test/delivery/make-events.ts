import { eventId, type PtimEvent, type PtimState } from '../../src/events/ptim-event.js';

/** A valid PTIM event for client `n` (10.x.y.z) in state `state`, unique per (n, state, step). */
export function makeEvent(n: number, state: PtimState, step = 0): PtimEvent {
  const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const e: PtimEvent = {
    id: '',
    state,
    user: `user${n}`,
    domain: 'corp.example',
    ip,
    time: new Date(Date.UTC(2026, 2, 14, 9, 0, 0) + step * 1000).toISOString(),
    device: 'srx-hq',
    sender: '192.0.2.10',
    vpn: 'ra-vpn',
    tunnelId: String(500000 + n),
    flags: [],
    pattern: 'junos-iked/vpn-up',
  };
  e.id = eventId(e);
  return e;
}
