const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * An RFC 3164 timestamp (`Mmm dd hh:mm:ss`, UTC, as the bridge reads zone-less times) for `ms`.
 * Lines sent to a live bridge need one near their receipt: a time further than
 * `lineChecks.timeWindowSeconds` (a day) from it is refused as `time-out-of-window`.
 */
export function rfc3164Stamp(ms = Date.now()): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}
