import { toEvent, type PtimCandidate, type PtimEvent, type PtimState } from '../../src/events/ptim-event.js';
import { candidate } from './candidates.js';

/** A valid PTIM event for client `ip` (defaults fill the rest, see candidate()). */
export function jimsEvent(ip: string, state: PtimState = 'connect', over: Partial<PtimCandidate> = {}): PtimEvent {
  return toEvent(candidate(state === 'disconnect' ? 'down' : 'up', Date.parse('2026-03-14T09:02:11.000Z'), { ip, ...over }), state);
}
