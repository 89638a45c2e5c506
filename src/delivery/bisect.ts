import type { OutboxRow } from './outbox.js';

/**
 * Which events of a batch JIMS refused (4xx) are the ones it refuses: one poison event (a 1,100-
 * character user name) must not send the 385 good events pushed with it to the dead letters. The
 * batch is halved, and the halves pushed in seq order, until every refused part is one event. Pure
 * apart from `push`, which the forwarder supplies (with its retries).
 *
 * Order per IP: once an event of an IP is refused, that IP's later events are not pushed (a rekey or
 * disconnect must not reach JIMS without the connect before it): in the batch and in later ones,
 * until the IP's next connect, they are dead-lettered with it (`follows`), so `dlq retry` can replay
 * them in order. The mark lives in memory: after a restart, later events of the IP flow again.
 */
export type PartOutcome = { kind: 'delivered' } | { kind: 'rejected'; status: number; body: string } | { kind: 'stopped' };

export interface RefusedPart {
  rows: OutboxRow[];
  status: number;
  body: string;
  /** `refused`: JIMS refused these events; `follows`: held back behind a refused event of their IP. */
  reason: 'refused' | 'follows';
}

export interface BisectResult {
  delivered: OutboxRow[];
  refused: RefusedPart[];
  /** Pushes made (the first, refused, push of the whole batch not counted). */
  pushes: number;
}

/**
 * Pushes at most this many parts per batch. A JIMS that refuses every event for one reason (a
 * revoked permission answered 403) would otherwise be asked twice per event; past the budget, the
 * parts not yet settled are refused as they stand.
 */
export const MAX_BISECT_PUSHES = 64;

/** A refused event whose IP's later events are held back with it. */
export interface Poison {
  status: number;
  body: string;
  seq: number;
}

/** IPs remembered as poisoned at most (the oldest forgotten first). */
export const MAX_POISONED_IPS = 10_000;

/**
 * Before a push: the rows of IPs whose earlier event JIMS refused are held back (refused as
 * `follows`), until the IP's next connect, which starts a session JIMS can take on its own and
 * clears the mark. Returns the rows to push and the parts held back. Mutates `poisoned`.
 */
export function holdBack(rows: readonly OutboxRow[], poisoned: Map<string, Poison>): { push: OutboxRow[]; held: RefusedPart[] } {
  if (poisoned.size === 0) return { push: [...rows], held: [] };
  const push: OutboxRow[] = [];
  const held: RefusedPart[] = [];
  for (const row of rows) {
    const poison = poisoned.get(row.ip);
    if (poison !== undefined && row.event.state === 'connect') poisoned.delete(row.ip);
    else if (poison !== undefined) {
      addFollower(held, row, poison);
      continue;
    }
    push.push(row);
  }
  return { push, held };
}

/** Marks an IP poisoned, keeping the map bounded. */
export function poison(poisoned: Map<string, Poison>, ip: string, value: Poison): void {
  poisoned.delete(ip);
  poisoned.set(ip, value);
  if (poisoned.size > MAX_POISONED_IPS) poisoned.delete(poisoned.keys().next().value!);
}

function addFollower(parts: RefusedPart[], row: OutboxRow, p: Poison): void {
  const body = `held back: an earlier event of ${row.ip} (outbox seq ${p.seq}) was refused by JIMS (${p.status}): ${p.body}`;
  const last = parts.at(-1);
  // Consecutive followers of one refusal share one part.
  if (last !== undefined && last.reason === 'follows' && last.status === p.status && last.body === body) last.rows.push(row);
  else parts.push({ rows: [row], status: p.status, body, reason: 'follows' });
}

/**
 * Settles `rows` (seq order), which JIMS refused as a whole with `first`. Undefined when `push`
 * reported a stop: nothing is settled, the rows stay in the outbox.
 */
export async function bisectRefused(
  rows: readonly OutboxRow[],
  first: { status: number; body: string },
  push: (rows: OutboxRow[]) => Promise<PartOutcome>,
  /** IPs with a refused event, and the refusal their later events follow: the forwarder's, kept across batches (see holdBack). */
  poisoned: Map<string, Poison> = new Map(),
  budget = MAX_BISECT_PUSHES,
): Promise<BisectResult | undefined> {
  const delivered: OutboxRow[] = [];
  const refused: RefusedPart[] = [];
  let pushes = 0;
  let stopped = false;

  const settle = async (part: OutboxRow[], known?: { status: number; body: string }): Promise<void> => {
    if (stopped) return;
    const live: OutboxRow[] = [];
    for (const row of part) {
      const poison = poisoned.get(row.ip);
      if (poison === undefined) live.push(row);
      else follow(row, poison);
    }
    if (live.length === 0) return;
    let outcome: PartOutcome;
    if (known !== undefined) {
      outcome = { kind: 'rejected', ...known };
    } else if (pushes >= budget) {
      // Out of budget: refused as it stands, with the last refusal seen.
      const last = refused.at(-1) ?? { status: first.status, body: first.body };
      refused.push({ rows: live, status: last.status, body: last.body, reason: 'refused' });
      for (const row of live) if (!poisoned.has(row.ip)) poison(poisoned, row.ip, { status: last.status, body: last.body, seq: row.seq });
      return;
    } else {
      pushes++;
      outcome = await push(live);
    }
    if (outcome.kind === 'stopped') {
      stopped = true;
      return;
    }
    if (outcome.kind === 'delivered') {
      delivered.push(...live);
      return;
    }
    if (live.length === 1) {
      const row = live[0]!;
      refused.push({ rows: [row], status: outcome.status, body: outcome.body, reason: 'refused' });
      poison(poisoned, row.ip, { status: outcome.status, body: outcome.body, seq: row.seq });
      return;
    }
    const mid = Math.ceil(live.length / 2);
    await settle(live.slice(0, mid));
    await settle(live.slice(mid));
  };

  const follow = (row: OutboxRow, poison: Poison): void => addFollower(refused, row, poison);

  await settle([...rows], first);
  return stopped ? undefined : { delivered, refused, pushes };
}
