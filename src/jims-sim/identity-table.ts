/**
 * The table JIMS keeps from PTIM events: which user holds which client address. Pure state, no
 * I/O; the simulator feeds it every accepted event, in arrival order.
 */

export interface IdentityRow {
  ip: string;
  user: string;
  domain: string;
  device: string;
  /** When this user got this address: the time of the connect (a rekey keeps it). */
  since: string;
}

/** The fields of a PTIM event the table reads. */
export interface IdentityEvent {
  state: 'connect' | 'disconnect' | 'rekey';
  user: string;
  domain: string;
  ip: string;
  ipv6?: string | undefined;
  device: string;
  time: string;
}

export class IdentityTable {
  readonly #rows = new Map<string, IdentityRow>();

  /**
   * connect / rekey: the address now belongs to this user (a rekey of the same user keeps
   * `since`). disconnect: the address is released, but only when it still belongs to that user,
   * so a late DOWN of a previous user cannot log out the one who took the address over.
   */
  apply(event: IdentityEvent): void {
    const addresses = event.ipv6 && event.ipv6 !== event.ip ? [event.ip, event.ipv6] : [event.ip];
    for (const ip of addresses) {
      const current = this.#rows.get(ip);
      const same = current !== undefined && sameUser(current, event);
      switch (event.state) {
        case 'connect':
        case 'rekey':
          this.#rows.set(ip, {
            ip,
            user: event.user,
            domain: event.domain,
            device: event.device,
            since: same && event.state === 'rekey' ? current.since : event.time,
          });
          break;
        case 'disconnect':
          if (same) this.#rows.delete(ip);
          break;
        default:
          event.state satisfies never;
      }
    }
  }

  /** Current rows, sorted by address for stable output. */
  list(): IdentityRow[] {
    return [...this.#rows.values()].sort((a, b) => a.ip.localeCompare(b.ip));
  }

  get size(): number {
    return this.#rows.size;
  }
}

function sameUser(row: IdentityRow, event: IdentityEvent): boolean {
  return row.user.toLowerCase() === event.user.toLowerCase() && row.domain.toLowerCase() === event.domain.toLowerCase();
}
