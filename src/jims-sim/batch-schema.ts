import * as z from 'zod';

/**
 * What the events endpoint accepts: `{"events": [PtimEvent, ...]}` (DESIGN.md §3 and §4).
 * Strict on what JIMS needs to act on (state, user, domain, ip, id, time); lenient on extra
 * fields, so a newer bridge does not break an older simulator.
 */
const ptimEvent = z.looseObject({
  id: z.string().min(1).max(200),
  state: z.enum(['connect', 'disconnect', 'rekey']),
  user: z.string().min(1).max(1024),
  domain: z.string().min(1).max(1024),
  ip: z.union([z.ipv4(), z.ipv6()]),
  ipv6: z.ipv6().optional(),
  time: z.iso.datetime({ offset: true }),
  device: z.string().min(1).max(1024),
  sender: z.string().max(1024).optional(),
  flags: z.array(z.string()).optional(),
});

export const eventBatchSchema = z.strictObject({
  events: z.array(ptimEvent).min(1).max(100_000),
});

export type SimEvent = z.output<typeof ptimEvent>;

/**
 * Validates a parsed body. Returns the events, or a one-line description of the first problem
 * ("events.3.ip: Invalid IPv4 address") suitable for a 400 answer. Never throws.
 */
export function checkEventBatch(body: unknown): { ok: true; events: SimEvent[] } | { ok: false; error: string } {
  const result = eventBatchSchema.safeParse(body);
  if (result.success) return { ok: true, events: result.data.events };
  const issue = result.error.issues[0];
  const where = issue ? issue.path.map(String).join('.') : '';
  return { ok: false, error: `${where || 'body'}: ${issue?.message ?? 'invalid'}` };
}
