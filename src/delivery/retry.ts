/**
 * Retry timing for JIMS pushes: exponential backoff with full jitter, and the server's
 * Retry-After when it gives one. Pure: the clock and the random source come in as arguments.
 */

/** Longest Retry-After honoured; a buggy or hostile header must not park delivery for days. */
export const RETRY_AFTER_CAP_MS = 3_600_000;

export interface RetryDelayOptions {
  /** Delay ceiling of the first retry (attempt 0); the ceiling doubles with each attempt. */
  minMs: number;
  /** Largest ceiling; the jittered delay never exceeds it (unless Retry-After asks for more). */
  maxMs: number;
  /** What the server asked for (already parsed, see parseRetryAfter). */
  retryAfterMs?: number;
  /** Uniform [0, 1) source; Math.random by default. Tests pass a constant. */
  random?: () => number;
}

/**
 * Milliseconds to wait before retry number `attempt` (0 = first retry).
 *
 * Full jitter ("pick uniformly below an exponentially growing ceiling") spreads the retries of
 * many batches and bridges so that a JIMS coming back is not hit by all of them at once. The
 * delay is drawn from [minMs, ceiling] rather than [0, ceiling]: a zero delay would hammer a JIMS
 * that is down. When the server sent Retry-After, the delay is at least that (capped at
 * RETRY_AFTER_CAP_MS), because retrying earlier only earns another 429/503.
 * Never throws; negative, NaN or fractional inputs are clamped to a sane non-negative integer.
 */
export function retryDelay(attempt: number, options: RetryDelayOptions): number {
  const minMs = Math.max(0, finiteOr(options.minMs, 0));
  const maxMs = Math.max(minMs, finiteOr(options.maxMs, minMs));
  const n = Math.max(0, Math.floor(finiteOr(attempt, 0)));
  // 2 ** n overflows to Infinity for huge n, and Math.min handles that.
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(n, 1024));
  const r = clampUnit((options.random ?? Math.random)());
  const jittered = Math.round(minMs + r * (ceiling - minMs));
  const asked = options.retryAfterMs;
  if (asked === undefined || !Number.isFinite(asked) || asked <= 0) return jittered;
  return Math.max(jittered, Math.min(Math.ceil(asked), RETRY_AFTER_CAP_MS));
}

/**
 * Parses an HTTP Retry-After header value (RFC 9110 §10.2.3): either delay-seconds ("120") or an
 * HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT"), relative to `now` (ms since the epoch).
 * Returns milliseconds to wait (0 for a date in the past), or undefined when the value is missing
 * or not one of those forms. Never throws.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, now: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds) ? Math.min(seconds * 1000, Number.MAX_SAFE_INTEGER) : undefined;
  }
  // Only the date forms RFC 9110 names (IMF-fixdate, RFC 850, asctime), which all carry a
  // weekday and letters; Date.parse alone would also accept "1.5" or "2026".
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
  // asctime carries no zone but means GMT; Date.parse would read it as local time.
  const at = Date.parse(/^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/.test(text) ? `${text} GMT` : text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 1 : value;
}
