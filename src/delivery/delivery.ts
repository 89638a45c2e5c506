import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { isBridgeError } from '../errors.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { Logger } from '../log.js';
import type { StateDb } from '../state-db.js';
import { Forwarder } from './forwarder.js';
import { createJimsClient, type HttpJimsClient } from './jims-client.js';

export { checkJimsSettings } from './jims-client.js';
import { Outbox } from './outbox.js';

/** How long a stop waits for pushes in flight before it cuts them. */
export const STOP_GRACE_MS = 2000;

/**
 * The delivering end of the bridge: the outbox in the state file, the forwarder and the JIMS
 * client, started and stopped as one. Callers queue events inside their own transaction (so the
 * session change and the queued event commit together) and say when that transaction committed.
 */
export interface Delivery {
  /** Queues events durably; call inside the caller's transaction. */
  queue(events: readonly PtimEvent[], receivedAt: number): void;
  /** The caller's transaction committed: wake the forwarder. */
  committed(): void;
  /** The caller's transaction rolled back: the backlog count (and its gauge) goes back to the table's. */
  discard(): void;
  backlog(): number;
  /** Events JIMS refused since the start (they are in the dead-letter store). */
  deadLettered(): number;
  /** Resolves when everything queued reached JIMS or the dead-letter store. */
  drained(): Promise<void>;
  /** Stops pushing and closes the client: pushes in flight get STOP_GRACE_MS to finish, then are cut (their rows stay in the outbox). */
  close(): Promise<void>;
}

/**
 * Starts delivery from `db`'s outbox, including any backlog an earlier run left.
 * Checks JIMS once first: a refused certificate or refused credentials stop the start with a clear
 * error (a misconfigured bridge should not look healthy), a JIMS that does not answer only warns
 * (the outbox keeps the events until it does).
 * @throws BridgeError ERR_CONFIG_INVALID, ERR_SECRET_UNAVAILABLE, ERR_JIMS_TLS, ERR_JIMS_AUTH.
 */
export async function startDelivery(db: StateDb, jims: Config['jims'], deps: { log: Logger; registry: Registry }): Promise<Delivery> {
  const log = deps.log.child({ module: 'delivery' });
  const client: HttpJimsClient = await createJimsClient(jims, deps);
  try {
    const endpoint = await client.check();
    log.info({ endpoint }, 'JIMS answered (certificate and credentials accepted)');
  } catch (error) {
    if (isBridgeError(error) && error.code === 'ERR_JIMS_UNAVAILABLE') {
      log.warn({ code: error.code, detail: error.message }, 'JIMS does not answer yet: events stay in the outbox until it does');
    } else {
      client.close();
      throw error;
    }
  }
  const outbox = new Outbox(db, { registry: deps.registry });
  const forwarder = new Forwarder({ outbox, client, jims, log: deps.log, registry: deps.registry });
  const backlog = outbox.backlog();
  if (backlog > 0) log.info({ backlog }, 'delivering the backlog an earlier run left in the outbox');
  forwarder.start();
  return {
    queue: (events, receivedAt) => outbox.add(events, receivedAt),
    committed: () => forwarder.notify(),
    discard() {
      try {
        outbox.recount();
      } catch {
        // The file fails even to read: the forwarder recounts once it works again (#checkDrained).
      }
    },
    backlog: () => outbox.backlog(),
    deadLettered: () => forwarder.deadLettered,
    drained: () => forwarder.drained(),
    async close() {
      const stopped = forwarder.stop();
      // Pushes in flight get a short grace to finish (their outcome is recorded); then they are
      // cut, or a JIMS that does not answer would hold the stop for jims.timeoutMs (up to five
      // minutes). A cut push stays in the outbox and goes again at the next start.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise<void>((resolve) => (grace = setTimeout(resolve, Math.min(STOP_GRACE_MS, jims.timeoutMs))))]);
      clearTimeout(grace);
      client.close();
      await stopped;
    },
  };
}
