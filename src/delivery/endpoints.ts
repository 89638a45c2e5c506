/**
 * Which JIMS the bridge talks to, primary or secondary, as SRX firewalls do it: use the primary;
 * when it fails, switch to the secondary; while on the secondary, probe the primary and go back
 * as soon as it answers. When the secondary fails too, try the primary again. Pure state: the
 * client reports what happened and reads `active`.
 */

export type EndpointName = 'primary' | 'secondary';

export type EndpointSwitch = { from: EndpointName; to: EndpointName };

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
