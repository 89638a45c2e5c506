import test from 'ava';
import { parseRetryAfter, retryDelay, RETRY_AFTER_CAP_MS } from '../../src/delivery/retry.js';

const base = { minMs: 250, maxMs: 30_000 };

const delays: Array<[string, number, Parameters<typeof retryDelay>[1], number]> = [
  ['first retry, lowest draw', 0, { ...base, random: () => 0 }, 250],
  ['first retry, highest draw: ceiling is minMs', 0, { ...base, random: () => 0.999999 }, 250],
  ['second retry, top of range', 1, { ...base, random: () => 1 }, 500],
  ['fifth retry, middle draw', 4, { ...base, random: () => 0.5 }, 250 + 0.5 * (4000 - 250)],
  ['ceiling capped at maxMs', 20, { ...base, random: () => 1 }, 30_000],
  ['huge attempt does not overflow', 1e9, { ...base, random: () => 1 }, 30_000],
  ['negative attempt counts as first', -3, { ...base, random: () => 1 }, 250],
  ['NaN attempt counts as first', Number.NaN, { ...base, random: () => 1 }, 250],
  ['bad random clamps to 0', 3, { ...base, random: () => Number.NaN }, 250],
  ['random above 1 clamps to 1', 3, { ...base, random: () => 7 }, 2000],
  ['Retry-After above the jitter wins', 0, { ...base, retryAfterMs: 5000, random: () => 1 }, 5000],
  ['Retry-After below the jitter does not shorten it', 5, { ...base, retryAfterMs: 100, random: () => 1 }, 8000],
  ['Retry-After beyond maxMs is still honoured', 0, { ...base, retryAfterMs: 120_000, random: () => 0 }, 120_000],
  ['Retry-After is capped', 0, { ...base, retryAfterMs: 1e12, random: () => 0 }, RETRY_AFTER_CAP_MS],
  ['Retry-After 0 is ignored', 2, { ...base, retryAfterMs: 0, random: () => 0 }, 250],
  ['maxMs below minMs is lifted to minMs', 3, { minMs: 1000, maxMs: 10, random: () => 1 }, 1000],
];
for (const [name, attempt, options, expected] of delays) {
  test(`retryDelay: ${name}`, (t) => {
    t.is(retryDelay(attempt, options), Math.round(expected));
  });
}

test('retryDelay: default random stays within [minMs, ceiling]', (t) => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(30_000, 250 * 2 ** attempt);
    for (let i = 0; i < 50; i++) {
      const d = retryDelay(attempt, base);
      t.true(d >= 250 && d <= ceiling, `attempt ${attempt}: ${d}`);
    }
  }
});

const now = Date.parse('2026-11-29T06:00:00.000Z');
const headers: Array<[string, string | string[] | undefined, number | undefined]> = [
  ['missing', undefined, undefined],
  ['empty', '', undefined],
  ['seconds', '120', 120_000],
  ['zero seconds', '0', 0],
  ['seconds with spaces', ' 7 ', 7000],
  ['first of repeated headers', ['3', '9'], 3000],
  ['IMF-fixdate in the future', 'Sun, 29 Nov 2026 06:00:30 GMT', 30_000],
  ['IMF-fixdate in the past', 'Sun, 29 Nov 2026 05:00:00 GMT', 0],
  ['RFC 850 date', 'Sunday, 29-Nov-26 06:01:00 GMT', 60_000],
  ['asctime date (GMT, whatever the local zone)', 'Sun Nov 29 06:00:10 2026', 10_000],
  ['negative seconds', '-5', undefined],
  ['fraction', '1.5', undefined],
  ['bare year', '2026', 2026_000],
  ['garbage', 'soon', undefined],
  ['date-like garbage', 'Sun, banana', undefined],
];
for (const [name, value, expected] of headers) {
  test(`parseRetryAfter: ${name}`, (t) => {
    t.is(parseRetryAfter(value, now), expected);
  });
}
