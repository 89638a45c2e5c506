/**
 * One endpoint's OAuth2 access token: fetched on first use, reused until shortly before it
 * expires, fetched again after a 401. Concurrent callers share one fetch. The token never leaves
 * this object except as the return value of `get` (for the Authorization header).
 */

export interface TokenGrant {
  accessToken: string;
  /** `expires_in` as sent by the server, when it sent a usable one. */
  expiresInSeconds: number | undefined;
}

/** Lifetime assumed when the server does not say: short, so a silent expiry costs little. */
export const ASSUMED_LIFETIME_SECONDS = 300;

/**
 * When a token obtained at `obtainedAt` should be replaced: 10% of its lifetime early, at most
 * 30 s early, so a push never leaves with a token about to expire in flight. Pure.
 */
export function refreshAt(obtainedAt: number, expiresInSeconds: number | undefined): number {
  const lifetimeMs = (expiresInSeconds !== undefined && Number.isFinite(expiresInSeconds) && expiresInSeconds > 0 ? expiresInSeconds : ASSUMED_LIFETIME_SECONDS) * 1000;
  return obtainedAt + lifetimeMs - Math.min(30_000, lifetimeMs / 10);
}

export class TokenSource {
  readonly #fetch: () => Promise<TokenGrant>;
  readonly #now: () => number;
  #token: string | undefined;
  #refreshAt = 0;
  #pending: Promise<string> | undefined;
  #fetches = 0;

  constructor(fetch: () => Promise<TokenGrant>, now: () => number = Date.now) {
    this.#fetch = fetch;
    this.#now = now;
  }

  /** A token valid now, fetching one when none is cached or it is due. Rejects with the fetch's error. */
  get(): Promise<string> {
    if (this.#token !== undefined && this.#now() < this.#refreshAt) return Promise.resolve(this.#token);
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /**
   * Fetches a new token even when the cached one is still good (the failover probe: "does the
   * primary answer?" needs a real request). Shares a fetch already under way.
   */
  forceRefresh(): Promise<string> {
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** The server refused `token` (401): forget it, unless a newer one already replaced it. */
  invalidate(token: string): void {
    if (this.#token === token) this.#token = undefined;
  }

  /** How many tokens were fetched (for metrics and tests). */
  get fetches(): number {
    return this.#fetches;
  }

  async #refresh(): Promise<string> {
    // Counted from the request, not the answer: the server's clock started no later than this.
    const askedAt = this.#now();
    this.#fetches++;
    const grant = await this.#fetch();
    this.#token = grant.accessToken;
    this.#refreshAt = refreshAt(askedAt, grant.expiresInSeconds);
    return grant.accessToken;
  }
}
