import { randomBytes } from 'node:crypto';

/**
 * Bearer tokens the simulator issued, each with the moment it stops working. Opaque random
 * strings, as a real authorization server hands out; nothing can be read from them.
 */
export class TokenStore {
  readonly #tokens = new Map<string, number>();
  #issued = 0;

  /** Issues a token valid for `validMs` from `now`. */
  issue(now: number, validMs: number): string {
    // Forget expired tokens now and then, so a long run with short lifetimes stays small.
    if (this.#tokens.size > 10_000) for (const [t, until] of this.#tokens) if (until <= now) this.#tokens.delete(t);
    const token = randomBytes(24).toString('base64url');
    this.#tokens.set(token, now + validMs);
    this.#issued++;
    return token;
  }

  /** True when `token` was issued here, is not revoked and has not expired at `now`. */
  valid(token: string, now: number): boolean {
    const until = this.#tokens.get(token);
    return until !== undefined && now < until;
  }

  /** Makes every issued token invalid (a JIMS restart, or "token expired mid-stream"). */
  revokeAll(): void {
    this.#tokens.clear();
  }

  /** Every token still held (issued, not revoked), for tests that look for them where they must not be. */
  held(): string[] {
    return [...this.#tokens.keys()];
  }

  get issued(): number {
    return this.#issued;
  }
}
