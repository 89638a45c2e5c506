/**
 * Finding the pattern literals in raw bytes fast (the capture scanner's chunks, every live
 * message): Buffer.indexOf searches a needle under 7 bytes by memchr of its first byte and a longer
 * one by Boyer-Moore, which for the literals (` is up. Local-ip:`...) stopped at every space and
 * colon of a noise line. So the bytes are searched for short anchors (pieces of the literals with
 * rare first bytes) and only a hit is checked for the literals themselves.
 */

/** Anchor length: Buffer.indexOf looks for a needle under 7 bytes by its first byte (memchr), for a longer one by Boyer-Moore. */
const ANCHOR_BYTES = 4;

/**
 * What to search the chunks for instead of the literals themselves: a few pieces of ANCHOR_BYTES
 * such that every literal holds one, chosen so that their first bytes are rare in `sample` (a
 * short needle's search costs about one memchr of its first byte) and shared where they can be
 * (`VPN_` serves `VPN_UP_ALARM` and `VPN_DOWN_ALARM`). Measured on the mixed bench capture: 61 ms
 * for 336 MB against 269 ms for the four literals, whose search stopped at every space or colon.
 * A line that holds an anchor and no literal is passed over; a line with a literal always holds an
 * anchor, so the lines found are the same whatever the sample.
 */
export function anchorsFor(literals: readonly Buffer[], sample: Buffer): Buffer[] {
  const count = new Float64Array(256);
  for (let i = 0; i < sample.length; i++) count[sample[i]!]!++;
  const pieces = new Map<string, { piece: Buffer; holders: Set<number> }>();
  literals.forEach((literal, li) => {
    if (literal.length <= ANCHOR_BYTES) {
      pieces.set(literal.toString('latin1'), { piece: literal, holders: new Set([li]) });
      return;
    }
    for (let i = 0; i + ANCHOR_BYTES <= literal.length; i++) {
      const piece = literal.subarray(i, i + ANCHOR_BYTES);
      const key = piece.toString('latin1');
      if (!pieces.has(key)) pieces.set(key, { piece, holders: new Set(literals.flatMap((l, j) => (l.indexOf(piece) >= 0 ? [j] : []))) });
    }
  });
  // A search costs a pass over the bytes plus a little per occurrence of its first byte: measured,
  // one pass as much as one occurrence in every 200 bytes. So sharing an anchor pays.
  const perSearch = sample.length / 200 + 1;
  // Greedy cover: the piece costing least per literal not covered yet, until each literal has one.
  const uncovered = new Set(literals.map((_, i) => i));
  const anchors: Buffer[] = [];
  while (uncovered.size > 0) {
    let best: { piece: Buffer; holders: Set<number> } | undefined;
    let bestCost = Infinity;
    for (const p of pieces.values()) {
      let gain = 0;
      for (const h of p.holders) if (uncovered.has(h)) gain++;
      if (gain === 0) continue;
      const cost = (count[p.piece[0]!]! + perSearch) / gain;
      if (cost < bestCost) {
        bestCost = cost;
        best = p;
      }
    }
    if (best === undefined) break; // cannot happen: each literal holds pieces of its own
    anchors.push(best.piece);
    for (const h of best.holders) uncovered.delete(h);
  }
  return anchors;
}

/**
 * Noise as a firewall's syslog carries it (flow sessions, logins, commands), for choosing anchors
 * before any real input is seen (live messages).
 */
export const NOISE_SAMPLE = Buffer.from([
  '<14>Mar 14 09:02:11 srx-hq RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.1.2.3/51234->198.51.100.7/443 0x0 junos-https 203.0.113.1/61234->198.51.100.7/443 0x0 source rule r1 N/A N/A 6 policy1 trust untrust 123456 N/A(N/A) ge-0/0/1.0 UNKNOWN UNKNOWN UNKNOWN N/A N/A -1 N/A',
  '<14>Mar 14 09:02:12 srx-hq RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed TCP FIN: 10.1.2.3/51234->198.51.100.7/443 0x0 junos-https 203.0.113.1/61234->198.51.100.7/443 0x0 N/A N/A N/A N/A 6 policy1 trust untrust 123456 12(1388) 10(4232) 2 UNKNOWN UNKNOWN N/A(N/A) ge-0/0/1.0 UNKNOWN N/A N/A -1 N/A NA 0 0.0.0.0/0->0.0.0.0/0 NA NA N/A N/A Off root',
  '<38>Mar 14 09:02:13 srx-hq sshd[2211]: Accepted publickey for admin from 192.0.2.44 port 50022 ssh2: RSA SHA256:abc',
  '<189>Mar 14 09:02:14 srx-hq mgd[3311]: UI_CMDLINE_READ_LINE: User \'admin\', command \'show security flow session summary \'',
].join('\n'));

/**
 * Finds whether bytes hold one of the literals: a search for the anchors, then for the literals
 * where one occurs. The literals are given as text (the pattern set's), once each, empty ones left
 * out; `sample` chooses the anchors (see `anchorsFor`).
 */
export class LiteralFinder {
  readonly #literals: readonly Buffer[];
  /** What to search the bytes for first: every literal holds one of them. */
  readonly anchors: readonly Buffer[];

  constructor(literals: readonly string[], sample: Buffer = NOISE_SAMPLE) {
    this.#literals = [...new Set(literals)].filter((l) => l !== '').map((l) => Buffer.from(l, 'utf8'));
    this.anchors = anchorsFor(this.#literals, sample);
  }

  holds(bytes: Buffer): boolean {
    for (const anchor of this.anchors) if (bytes.indexOf(anchor) >= 0) return this.holdsLiteral(bytes);
    return false;
  }

  /** Whether `bytes` (known to hold an anchor, or short) holds a whole literal. */
  holdsLiteral(bytes: Buffer): boolean {
    for (const literal of this.#literals) if (bytes.indexOf(literal) >= 0) return true;
    return false;
  }
}
