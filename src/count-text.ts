/**
 * Counts and names as the summaries print them, without Intl: the first toLocaleString of a
 * process costs ~18 ms (ICU starting up) and the first localeCompare ~6 ms, a tenth of a replay's
 * start-up, for output that is always en-US digits and ASCII names.
 */

/** 1234567 -> "1,234,567" (as toLocaleString('en-US') writes an integer). */
export function thousands(value: number): string {
  if (!Number.isInteger(value)) return value.toLocaleString('en-US');
  return String(value).replace(/\B(?=(?:\d{3})+$)/g, ',');
}

/** Sorts entries by their key in code-unit order (rule ids, reasons, input kinds: ASCII). */
export function byKey([a]: readonly [string, unknown], [b]: readonly [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
