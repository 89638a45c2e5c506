import { parseRetryAfter } from './retry.js';

/**
 * What one JIMS answer (or failure to answer) means for delivery. Pure: status, headers and body
 * in, a classification out. The client decides what to do with it (refresh a token, fail over,
 * return an outcome).
 *
 * - ok:           2xx
 * - unauthorized: 401 (the client refreshes its token once)
 * - busy:         408 / 429: JIMS is up but wants us to slow down: retry, no failover
 * - down:         5xx, network errors, timeouts, unexpected 1xx/3xx: retry and fail over
 * - tls:          the certificate was not accepted: retry (the operator must act), fail over
 * - rejected:     any other 4xx: the batch itself is refused (dead letter)
 */
export type Verdict =
  | { kind: 'ok'; status: number; body: string }
  | { kind: 'unauthorized'; status: 401; body: string }
  | { kind: 'busy'; status: number; retryAfterMs: number | undefined }
  | { kind: 'down'; status: number | undefined; retryAfterMs: number | undefined; reason: string }
  | { kind: 'tls'; code: string; reason: string }
  | { kind: 'rejected'; status: number; body: string };

/** Longest response body kept for a dead letter or a log line. */
export const MAX_BODY_KEPT = 4096;

/** Classifies an HTTP answer. `now` (ms since epoch) resolves Retry-After dates. */
export function classifyResponse(status: number, headers: Record<string, string | string[] | undefined>, body: string, now: number): Verdict {
  const retryAfterMs = parseRetryAfter(headers['retry-after'], now);
  if (status >= 200 && status < 300) return { kind: 'ok', status, body };
  if (status === 401) return { kind: 'unauthorized', status, body: truncate(body) };
  if (status === 408 || status === 429) return { kind: 'busy', status, retryAfterMs };
  if (status >= 400 && status < 500) return { kind: 'rejected', status, body: truncate(body) };
  return { kind: 'down', status, retryAfterMs, reason: `HTTP ${status}` };
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
]);

/**
 * Classifies a request that got no HTTP answer, from the error's `code` and message (never its
 * other properties: a got error carries the request options, headers included).
 */
export function classifyError(code: string | undefined, message: string): Verdict {
  const c = code ?? '';
  if (TLS_CODES.has(c) || c.startsWith('ERR_TLS_CERT') || c.startsWith('ERR_SSL_') || /certificate|self[- ]signed/i.test(message)) {
    return { kind: 'tls', code: c || 'TLS', reason: firstLine(message) };
  }
  return { kind: 'down', status: undefined, retryAfterMs: undefined, reason: c ? `${c}: ${firstLine(message)}` : firstLine(message) };
}

function truncate(text: string): string {
  return text.length > MAX_BODY_KEPT ? `${text.slice(0, MAX_BODY_KEPT)}...` : text;
}

function firstLine(text: string): string {
  return truncate(text.split('\n')[0] ?? '');
}
