import type { Counter, Gauge } from 'prom-client';
import { BridgeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Attempt, EndpointProblem, JimsEndpoint } from './jims-endpoint.js';

export type EndpointName = 'primary' | 'secondary';

export type EndpointSwitch = { from: EndpointName; to: EndpointName };

/**
 * Which JIMS the bridge talks to, primary or secondary, as SRX firewalls do it: use the primary;
 * when it fails, switch to the secondary; while on the secondary, probe the primary and go back
 * as soon as it answers. When the secondary fails too, try the primary again. Pure state: the
 * failover reports what happened and reads `active`.
 */
export class EndpointSelector {
  readonly #hasSecondary: boolean;
  #active: EndpointName = 'primary';

  constructor(hasSecondary: boolean) {
    this.#hasSecondary = hasSecondary;
  }

  get active(): EndpointName {
    return this.#active;
  }

  get hasSecondary(): boolean {
    return this.#hasSecondary;
  }

  /**
   * `which` failed as if down (network error, timeout, 5xx, TLS). Returns the switch made, or
   * undefined when there is nowhere to go or `which` is no longer the active one (a late answer
   * of a request sent before an earlier switch must not flip the choice back).
   */
  failed(which: EndpointName): EndpointSwitch | undefined {
    if (!this.#hasSecondary || which !== this.#active) return undefined;
    const to: EndpointName = which === 'primary' ? 'secondary' : 'primary';
    this.#active = to;
    return { from: which, to };
  }

  /** The primary answered (a push or a probe). Returns the switch back, when one was made. */
  primaryAnswered(): EndpointSwitch | undefined {
    if (this.#active === 'primary') return undefined;
    this.#active = 'primary';
    return { from: 'secondary', to: 'primary' };
  }

  /** True while the primary should be probed (we are on the secondary). */
  get probing(): boolean {
    return this.#active === 'secondary';
  }
}

/** The failover metrics; made once by the client (the registry shows them in that order). */
export interface FailoverMetrics {
  switches: Counter<'to'>;
  active: Gauge<'endpoint'>;
  probes: Counter<'result'>;
}

export interface JimsFailoverOptions {
  primary: JimsEndpoint;
  secondary: JimsEndpoint | undefined;
  log: Logger;
  metrics: FailoverMetrics;
  probeIntervalSeconds: number;
}

/**
 * Primary/secondary failover over two single-origin endpoints: a push that finds the active
 * endpoint down is tried once on the other one at once; while on the secondary, the primary is
 * probed every `probeIntervalSeconds` and used again as soon as it answers (a probe or a push).
 */
export class JimsFailover {
  readonly #endpoints: Record<EndpointName, JimsEndpoint | undefined>;
  readonly #selector: EndpointSelector;
  readonly #log: Logger;
  readonly #metrics: FailoverMetrics;
  readonly #probeIntervalMs: number;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeRunning = false;
  #closed = false;

  constructor(options: JimsFailoverOptions) {
    this.#endpoints = { primary: options.primary, secondary: options.secondary };
    this.#selector = new EndpointSelector(options.secondary !== undefined);
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#probeIntervalMs = options.probeIntervalSeconds * 1000;
    this.#metrics.active.set({ endpoint: 'primary' }, 1);
    this.#metrics.active.set({ endpoint: 'secondary' }, 0);
  }

  /** The endpoint pushes go to now. */
  get active(): EndpointName {
    return this.#selector.active;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Pushes one serialized batch to the active endpoint, and once more to the other one when the
   * first was down. Resolves with the last attempt and the endpoint it went to; undefined when the
   * failover was closed while the push was in flight (no failover then: the rows stay queued).
   */
  async push(body: string, count: number): Promise<{ attempt: Attempt; endpoint: EndpointName } | undefined> {
    const first = this.#selector.active;
    let attempt = await this.#pushTo(first, body, count);
    let endpoint = first;
    if (this.#closed) return undefined;
    if (attempt.kind === 'retry' && attempt.failover) {
      const moved = this.#selector.failed(first);
      if (moved) {
        this.#switched(moved, attempt.reason);
        endpoint = moved.to;
        attempt = await this.#pushTo(moved.to, body, count);
        if (attempt.kind === 'retry' && attempt.failover) {
          const back = this.#selector.failed(moved.to);
          if (back) this.#switched(back, attempt.reason);
        }
      }
    }
    return { attempt, endpoint };
  }

  /**
   * Asks the active endpoint (then the other) for a token. Resolves with the endpoint that answered.
   * @throws BridgeError ERR_JIMS_TLS, ERR_JIMS_AUTH or ERR_JIMS_UNAVAILABLE: the problem the
   *   operator can act on first when no endpoint answered.
   */
  async check(): Promise<EndpointName> {
    const order: EndpointName[] = this.#selector.active === 'primary' ? ['primary', 'secondary'] : ['secondary', 'primary'];
    let worst: EndpointProblem | undefined;
    for (const name of order) {
      const ep = this.#endpoints[name];
      if (!ep) continue;
      const problem = await ep.check();
      if (problem === undefined) {
        if (name === 'primary') this.#backToPrimary();
        return name;
      }
      if (!worst || rank(problem.code) > rank(worst.code)) worst = problem;
    }
    throw new BridgeError(worst?.code ?? 'ERR_JIMS_UNAVAILABLE', worst?.message ?? 'No JIMS endpoint configured.');
  }

  /** Stops probing and closes both endpoints. */
  close(): void {
    this.#closed = true;
    this.#stopProbe();
    this.#endpoints.primary?.close();
    this.#endpoints.secondary?.close();
  }

  async #pushTo(name: EndpointName, body: string, count: number): Promise<Attempt> {
    const ep = this.#endpoints[name];
    if (!ep) return { kind: 'retry', failover: false, reason: 'no such endpoint' };
    const attempt = await ep.push(body, count);
    if (attempt.kind === 'delivered' && name === 'primary') this.#backToPrimary();
    return attempt;
  }

  #switched(move: EndpointSwitch, reason: string): void {
    this.#metrics.switches.inc({ to: move.to });
    this.#metrics.active.set({ endpoint: move.from }, 0);
    this.#metrics.active.set({ endpoint: move.to }, 1);
    this.#log.warn({ event: 'jims-switched', from: move.from, to: move.to, why: reason, url: this.#endpoints[move.to]?.base }, `JIMS ${move.from} failed; switching to the ${move.to}`);
    if (this.#selector.probing) this.#startProbe();
    else this.#stopProbe();
  }

  #backToPrimary(): void {
    const move = this.#selector.primaryAnswered();
    if (!move) return;
    this.#stopProbe();
    this.#metrics.switches.inc({ to: 'primary' });
    this.#metrics.active.set({ endpoint: 'secondary' }, 0);
    this.#metrics.active.set({ endpoint: 'primary' }, 1);
    this.#log.info({ event: 'jims-switched', from: 'secondary', to: 'primary', url: this.#endpoints.primary?.base }, 'JIMS primary answers again; switching back to it');
  }

  #startProbe(): void {
    if (this.#probeTimer || this.#closed) return;
    this.#probeTimer = setInterval(() => void this.#probe(), this.#probeIntervalMs);
    this.#probeTimer.unref();
  }

  #stopProbe(): void {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  async #probe(): Promise<void> {
    if (this.#probeRunning || !this.#selector.probing) return;
    this.#probeRunning = true;
    try {
      // A real request, not the cached token: the question is whether the primary answers now.
      const problem = await this.#endpoints.primary?.check();
      if (problem === undefined) {
        this.#metrics.probes.inc({ result: 'answered' });
        if (!this.#closed) this.#backToPrimary();
      } else {
        // Still down: stay on the secondary; the next tick probes again.
        this.#metrics.probes.inc({ result: 'failed' });
      }
    } finally {
      this.#probeRunning = false;
    }
  }
}

/** Which error to show when both endpoints fail: the one the operator can act on first. */
function rank(code: ErrorCode): number {
  return code === 'ERR_JIMS_TLS' ? 3 : code === 'ERR_JIMS_AUTH' ? 2 : 1;
}
