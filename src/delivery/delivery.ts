import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { isBridgeError } from '../errors.js';
import type { PtimEvent } from '../events/ptim-event.js';
import type { Logger } from '../log.js';
import type { EventTap } from '../ops/tap.js';
import type { StateDb } from '../state-db.js';
import { Forwarder } from './forwarder.js';
import { createJimsClient, type HttpJimsClient } from './jims-client.js';
import { DeliveryLedger, type DeliveryCounts } from './ledger.js';
import { splitByPolicy, type PushPolicy } from './push-policy.js';

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
  /**
   * Queues events durably; call inside the caller's transaction. Events the push policy holds back
   * (`push: false`) are not queued, only counted as skipped.
   */
  queue(events: readonly PtimEvent[], receivedAt: number): void;
  /** The last step inside the caller's transaction: writes its statistics and history rows. */
  beforeCommit(): void;
  /** The caller's transaction committed: wake the forwarder (and show the events to `tap` viewers). */
  committed(): void;
  /** The caller's transaction rolled back: the backlog count (and its gauge) goes back to the table's; what it counted is forgotten. */
  discard(): void;
  backlog(): number;
  /** What readiness reports of delivery: JIMS' answers lately, the backlog and its age, the dead letters. */
  readiness(): DeliveryReadiness;
  /** Events JIMS refused since the start (they are in the dead-letter store). */
  deadLettered(): number;
  /** What this delivery queued, delivered, dead-lettered, retried and skipped since it started. */
  counts(): DeliveryCounts;
  /** Resolves when everything queued reached JIMS or the dead-letter store. */
  drained(): Promise<void>;
  /** Stops pushing and closes the client: pushes in flight get STOP_GRACE_MS to finish, then are cut (their rows stay in the outbox). */
  close(): Promise<void>;
}

export interface DeliveryReadiness {
  jims: { failingSince?: number; lastError?: string; lastDeliveredAt?: number };
  backlog: number;
  oldestQueuedAt?: number;
  deadLetters: number;
}

/**
 * Starts delivery from `db`'s outbox, including any backlog an earlier run left.
 * Checks JIMS once first: a refused certificate or refused credentials stop the start with a clear
 * error (a misconfigured bridge should not look healthy), a JIMS that does not answer only warns
 * (the outbox keeps the events until it does).
 * @throws BridgeError ERR_CONFIG_INVALID, ERR_SECRET_UNAVAILABLE, ERR_JIMS_TLS, ERR_JIMS_AUTH.
 */
export async function startDelivery(
  db: StateDb,
  jims: Config['jims'],
  deps: {
    log: Logger;
    registry: Registry;
    /** Which events are held back (push opt-outs), asked per queued batch (a reload may change it); none when undefined. */
    push?: () => PushPolicy | undefined;
    /** Live view of queued and settled events. */
    tap?: EventTap | undefined;
    /** What the process is, for the statistics' "since start" (`run`, `replay`). */
    startedBy?: string;
  },
): Promise<Delivery> {
  const log = deps.log.child({ module: 'delivery' });
  const client: HttpJimsClient = await createJimsClient(jims, deps);
  try {
    const endpoint = await client.check();
    log.info({ endpoint }, 'JIMS answered (certificate and credentials accepted)');
  } catch (error) {
    if (isBridgeError(error) && error.code === 'ERR_JIMS_UNAVAILABLE') {
      log.warn({ event: 'jims-unavailable', code: error.code, detail: error.message }, 'JIMS does not answer yet: events stay in the outbox until it does');
    } else {
      client.close();
      throw error;
    }
  }
  const ledger = new DeliveryLedger(db, { startedBy: deps.startedBy ?? 'run', registry: deps.registry, ...(deps.tap ? { tap: deps.tap } : {}) });
  const outbox = new Outbox(db, { registry: deps.registry, ledger });
  const forwarder = new Forwarder({ outbox, client, jims, log: deps.log, registry: deps.registry, onRetry: (rows, detail) => ledger.retried(rows, detail) });
  const push = deps.push ?? (() => undefined);
  const backlog = outbox.backlog();
  if (backlog > 0) log.info({ event: 'backlog', backlog }, 'delivering the backlog an earlier run left in the outbox');
  forwarder.start();
  return {
    queue(events, receivedAt) {
      let send = events;
      const policy = push();
      if (policy) {
        const split = splitByPolicy(policy, events);
        send = split.send;
        if (split.skipped.length > 0) ledger.skipped(split.skipped, Date.now());
      }
      if (send.length > 0) ledger.queued(send, outbox.add(send, receivedAt), Date.now());
    },
    beforeCommit: () => ledger.flush(),
    committed() {
      ledger.afterCommit();
      forwarder.notify();
    },
    discard() {
      ledger.discard();
      try {
        outbox.recount();
      } catch {
        // The file fails even to read: the forwarder recounts once it works again (#checkDrained).
      }
    },
    backlog: () => outbox.backlog(),
    readiness() {
      const oldest = outbox.oldestReceivedAt();
      return { jims: forwarder.jimsHealth, backlog: outbox.backlog(), ...(oldest === undefined ? {} : { oldestQueuedAt: oldest }), deadLetters: outbox.deadLetterCount() };
    },
    deadLettered: () => forwarder.deadLettered,
    counts: () => ({ ...ledger.counts(), delivered: forwarder.delivered, deadLettered: forwarder.deadLettered }),
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
