/**
 * Zone-less syslog times (RFC 3164 `Mar 14 09:02:11`, the log-file forms, journalctl's
 * `short-full`) are wall-clock readings of the firewall's (or the relay's) clock. They are read in
 * a configured IANA zone: config `timezone` for all devices, `devices.<name>.timezone` for one.
 *
 * Speed: Intl's formatToParts costs ~12 us, far more than parsing the line. A zone clock caches the
 * offset of each wall-clock hour (two Intl calls per hour of capture when no transition falls in
 * it; per minute within an hour that holds one), and remembers the last hour asked for, so a
 * capture read in order costs one comparison per line.
 */

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Past this many cached hours or minutes the cache starts again (a capture of ~11 years). */
const MAX_CACHED = 100_000;

/** Converts between UTC instants and wall-clock readings of one zone. */
export interface ZoneClock {
  /** The zone's canonical IANA name. */
  readonly name: string;
  /**
   * The instant (ms since the epoch) of a wall-clock reading, given as if it were UTC
   * (`Date.UTC(y, m, d, h, mi, s)`). A reading in a spring-forward gap moves forward by the gap;
   * one that occurs twice (fall back) is the earlier instant (Temporal's "compatible").
   */
  toUtc(wallMs: number): number;
  /** The wall-clock reading (as if UTC) at an instant. */
  toWall(utcMs: number): number;
}

/** Which zone a line's zone-less time is read in, by the line's host (undefined: UTC). */
export interface ZoneResolver {
  zoneFor(host: string | undefined): ZoneClock | undefined;
}

/** The canonical name of an IANA zone (or alias Intl knows, such as `US/Eastern`), or undefined. */
export function canonicalTimeZone(name: string): string | undefined {
  if (name.trim() === '' || name !== name.trim()) return undefined;
  // The default needs no Intl: the first DateTimeFormat loads the zone data (~35 ms of a start).
  if (name === 'UTC') return 'UTC';
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Etc/Zulu', 'Universal', 'Zulu', 'Etc/UCT', 'UCT', 'Etc/GMT0', 'Etc/GMT+0', 'Etc/GMT-0', 'GMT0', 'Etc/Greenwich', 'Greenwich']);

const clocks = new Map<string, ZoneClock | undefined>();

/**
 * The clock of a zone, shared by every caller (its cache too); undefined for UTC and its aliases
 * (no conversion at all: the fast path).
 * @throws RangeError for a name Intl does not know (config validation refuses those first).
 */
export function zoneClock(name: string): ZoneClock | undefined {
  if (clocks.has(name)) return clocks.get(name);
  const canonical = canonicalTimeZone(name);
  if (canonical === undefined) throw new RangeError(`Unknown time zone ${JSON.stringify(name)}`);
  const clock = UTC_NAMES.has(canonical) ? undefined : new CachedZoneClock(canonical);
  clocks.set(name, clock);
  return clock;
}

/**
 * The resolver for config `timezone` and `devices.<name>.timezone` (device names compared without
 * case, as the device binding does). Undefined when every device reads in UTC, so the envelope
 * parser does no lookup at all.
 */
export function createZoneResolver(global: string | undefined, devices: Readonly<Record<string, { timezone?: string | undefined }>> = {}): ZoneResolver | undefined {
  const fallback = global === undefined ? undefined : zoneClock(global);
  const byHost = new Map<string, ZoneClock | undefined>();
  for (const [name, d] of Object.entries(devices)) {
    if (d.timezone !== undefined) byHost.set(name.toLowerCase(), zoneClock(d.timezone));
  }
  if (fallback === undefined && [...byHost.values()].every((c) => c === undefined)) return undefined;
  if (byHost.size === 0) return { zoneFor: () => fallback };
  // Lines of one device come in runs: remember the last host looked up.
  let lastHost: string | undefined;
  let lastClock: ZoneClock | undefined = fallback;
  return {
    zoneFor(host) {
      if (host === undefined) return fallback;
      if (host === lastHost) return lastClock;
      const key = host.toLowerCase();
      lastHost = host;
      lastClock = byHost.has(key) ? byHost.get(key) : fallback;
      return lastClock;
    },
  };
}

class CachedZoneClock implements ZoneClock {
  readonly name: string;
  readonly #format: Intl.DateTimeFormat;
  /** Wall hour -> offset (ms, wall - utc) when one offset holds for the whole hour, else NaN. */
  readonly #hours = new Map<number, number>();
  /** Wall minute -> offset, for hours a transition falls in. */
  readonly #minutes = new Map<number, number>();
  /** UTC hour -> offset when one offset holds for the whole hour, else NaN. */
  readonly #utcHours = new Map<number, number>();
  #lastHour = Number.NaN;
  #lastOffset = 0;
  #lastUtcHour = Number.NaN;
  #lastUtcOffset = 0;

  constructor(name: string) {
    this.name = name;
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  }

  toUtc(wallMs: number): number {
    if (!Number.isFinite(wallMs)) return wallMs;
    const hour = Math.floor(wallMs / HOUR_MS);
    if (hour === this.#lastHour) return wallMs - this.#lastOffset;
    let offset = this.#hours.get(hour);
    if (offset === undefined) {
      const start = hour * HOUR_MS;
      const a = this.#resolve(start);
      const b = this.#resolve(start + HOUR_MS - MINUTE_MS);
      offset = a === b ? a : Number.NaN;
      if (this.#hours.size >= MAX_CACHED) this.#hours.clear();
      this.#hours.set(hour, offset);
    }
    if (!Number.isNaN(offset)) {
      this.#lastHour = hour;
      this.#lastOffset = offset;
      return wallMs - offset;
    }
    const minute = Math.floor(wallMs / MINUTE_MS);
    let byMinute = this.#minutes.get(minute);
    if (byMinute === undefined) {
      byMinute = this.#resolve(minute * MINUTE_MS);
      if (this.#minutes.size >= MAX_CACHED) this.#minutes.clear();
      this.#minutes.set(minute, byMinute);
    }
    return wallMs - byMinute;
  }

  toWall(utcMs: number): number {
    if (!Number.isFinite(utcMs)) return utcMs;
    const hour = Math.floor(utcMs / HOUR_MS);
    if (hour === this.#lastUtcHour) return utcMs + this.#lastUtcOffset;
    let offset = this.#utcHours.get(hour);
    if (offset === undefined) {
      const a = this.#offsetAt(hour * HOUR_MS);
      const b = this.#offsetAt(hour * HOUR_MS + HOUR_MS - 1000);
      offset = a === b ? a : Number.NaN;
      if (this.#utcHours.size >= MAX_CACHED) this.#utcHours.clear();
      this.#utcHours.set(hour, offset);
    }
    if (Number.isNaN(offset)) return utcMs + this.#offsetAt(utcMs);
    this.#lastUtcHour = hour;
    this.#lastUtcOffset = offset;
    return utcMs + offset;
  }

  /** The offset that maps wall reading `w` to its instant (see toUtc for gaps and overlaps). */
  #resolve(w: number): number {
    const before = this.#offsetAt(w - DAY_MS);
    const after = this.#offsetAt(w + DAY_MS);
    const earlier = this.#offsetAt(w - before) === before;
    const later = this.#offsetAt(w - after) === after;
    if (earlier && later) return Math.max(before, after); // both readings exist: the earlier instant
    if (later) return after;
    // Valid with the earlier offset only, or in a gap: the earlier offset moves it past the gap.
    return before;
  }

  /** wall - utc at an instant, whole seconds (Intl shows no milliseconds). */
  #offsetAt(utcMs: number): number {
    const t = Math.floor(utcMs / 1000) * 1000;
    const p: Record<string, number> = {};
    for (const part of this.#format.formatToParts(new Date(t))) {
      if (part.type !== 'literal') p[part.type] = Number(part.value);
    }
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    return wall - t;
  }
}
