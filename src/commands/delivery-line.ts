/**
 * The line `run` logs when it stops and a delivering `replay` prints at its end:
 * "N delivered, M left in the outbox, K dead letters" (and the events push: false held back).
 * N and K count what this process did; M is what waits for the next start.
 */
export function deliveryLine(c: { delivered: number; backlog: number; deadLettered: number; skipped?: number }): string {
  const skipped = c.skipped ? `, ${c.skipped} skipped (push-disabled)` : '';
  return `${c.delivered} delivered, ${c.backlog} left in the outbox, ${c.deadLettered} dead letter${c.deadLettered === 1 ? '' : 's'}${skipped}`;
}
