import type { LineState, PtimCandidate } from '../../src/events/ptim-event.js';

/**
 * A valid UP or DOWN candidate, as the normalizer would make it: alice@corp.example on 10.20.0.5
 * at srx-hq (tunnel 500011, peer 198.51.100.23), at `at` (epoch ms); a DOWN says why. `over`
 * replaces any field.
 */
export function candidate(line: LineState, at: number, over: Partial<PtimCandidate> = {}): PtimCandidate {
  return {
    line,
    user: 'alice',
    domain: 'corp.example',
    ip: '10.20.0.5',
    time: new Date(at).toISOString(),
    device: 'srx-hq',
    sender: '192.0.2.10',
    vpn: 'ra-vpn',
    gateway: 'ra-gw',
    tunnelId: '500011',
    peer: '198.51.100.23',
    flags: [],
    pattern: `junos-iked/vpn-${line}`,
    ...(line === 'down' ? { reason: 'Peer sent delete' } : {}),
    // Distinct lines unless a test says otherwise (the table applies a repeated line once).
    ...over,
    lineKey: over.lineKey ?? JSON.stringify({ line, at, ...over }),
  };
}
