/**
 * How the simulator misbehaves, as data plus one pure decision per request, so that the server
 * only carries out what `decide` says. Misbehaviour applies to the POST routes (token and events);
 * the inspection routes (GET sessions / events) always answer.
 */

export type SimRoute = 'token' | 'events';

export interface Behaviour {
  /** Probability (0-1) that a request is answered with `failStatus`. */
  failRate: number;
  failStatus: number;
  /** Delay before every answer. */
  latencyMs: number;
  /** Answer every request with this status (e.g. 503), until changed. */
  status: number | undefined;
  /** Retry-After header sent with injected 429/503 answers (seconds or HTTP date). */
  retryAfter: string | undefined;
  /** Tokens stop working after this many seconds, whatever `expires_in` promised. */
  expireTokensAfterSeconds: number | undefined;
  /**
   * Injected error answers echo the request's Authorization header and bearer token in their body,
   * as careless servers do: tests that the bridge keeps credentials out of dead letters and logs.
   */
  echoAuthorization: boolean;
}

/** A change to apply with `setBehaviour`; one-shot parts count down as requests arrive. */
export interface BehaviourChange extends Partial<Behaviour> {
  /** Answer the next `count` (default 1) requests on `route` (default events) with `status`. */
  next?: { status: number; count?: number; route?: SimRoute | 'any'; retryAfter?: string };
  /** Drop (reset without an answer) the connection of the next N POST requests. */
  dropNext?: number;
  /** true: stop listening and cut all connections (clients see "connection refused"); false: listen again. */
  down?: boolean;
}

export type Decision =
  | { kind: 'answer'; latencyMs: number }
  | { kind: 'status'; status: number; retryAfter: string | undefined; latencyMs: number }
  | { kind: 'drop' };

export const DEFAULT_BEHAVIOUR: Behaviour = Object.freeze({
  failRate: 0,
  failStatus: 503,
  latencyMs: 0,
  status: undefined,
  retryAfter: undefined,
  expireTokensAfterSeconds: undefined,
  echoAuthorization: false,
});

export class BehaviourPlan {
  #behaviour: Behaviour = { ...DEFAULT_BEHAVIOUR };
  #next: Array<{ status: number; remaining: number; route: SimRoute | 'any'; retryAfter: string | undefined }> = [];
  #dropNext = 0;

  /** Merges a change into the standing behaviour; one-shot parts queue up in call order. */
  change(change: BehaviourChange): void {
    const { next, dropNext, down: _down, ...standing } = change;
    for (const [key, value] of Object.entries(standing)) {
      // An explicit `undefined` clears a setting (e.g. { status: undefined }).
      (this.#behaviour as unknown as Record<string, unknown>)[key] = value;
    }
    if (next) this.#next.push({ status: next.status, remaining: next.count ?? 1, route: next.route ?? 'events', retryAfter: next.retryAfter });
    if (dropNext !== undefined) this.#dropNext = dropNext;
  }

  current(): Readonly<Behaviour> {
    return { ...this.#behaviour };
  }

  /** What to do with one POST request. `random` is uniform [0, 1). */
  decide(route: SimRoute, random: () => number = Math.random): Decision {
    const b = this.#behaviour;
    if (this.#dropNext > 0) {
      this.#dropNext--;
      return { kind: 'drop' };
    }
    const queued = this.#next.find((n) => n.route === 'any' || n.route === route);
    if (queued) {
      queued.remaining--;
      if (queued.remaining <= 0) this.#next.splice(this.#next.indexOf(queued), 1);
      return { kind: 'status', status: queued.status, retryAfter: queued.retryAfter ?? b.retryAfter, latencyMs: b.latencyMs };
    }
    if (b.status !== undefined) return { kind: 'status', status: b.status, retryAfter: b.retryAfter, latencyMs: b.latencyMs };
    if (b.failRate > 0 && random() < b.failRate) return { kind: 'status', status: b.failStatus, retryAfter: b.retryAfter, latencyMs: b.latencyMs };
    return { kind: 'answer', latencyMs: b.latencyMs };
  }
}
