import type { Envelope, EnvelopeFormat } from '../flow/pipeline-records.js';
import type { ZoneClock, ZoneResolver } from './time-zone.js';

/**
 * Takes a syslog line apart in every text form of JUNOS-LOGS.md §4:
 *
 *   <30>Mar 14 09:02:11 srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ...        RFC 3164
 *   <30>1 2026-03-14T09:02:11.000Z srx-hq iked 4242 IKE_VPN_UP_ALARM_USER [junos@2636...] VPN ...
 *   Mar 14 09:02:11  srx-hq iked[4242]: IKE_...                                  log file (with or without PRI)
 *   09:02:11  IKE_VPN_UP_ALARM_USER: VPN ...                                     time only
 *   srx-hq iked[4242]: IKE_VPN_UP_ALARM_USER: VPN ...                            starting at the host
 *   IKE_VPN_UP_ALARM_USER: VPN ...                                               bare message
 *   ... srx-hq (FPC Slot 1, PIC Slot 0) SPC3_PIC0 kmd[1234]: KMD_...             chassis prefix
 *
 * Hand-written scanning rather than one big regex: every hit line of a VPN-only capture goes
 * through here, and a failed alternative of a big regex costs more than a few indexOf calls.
 */

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

const DAY_MS = 86_400_000;

// `Mmm dd hh:mm:ss` (day space-padded or not), optional fraction.
const BSD_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?= |$)/;
// ISO timestamps some relays write in place of the BSD one (rsyslog high-precision, Junos `time-format year`).
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)(?= |$)/;
// `Mmm dd yyyy hh:mm:ss` (Junos `time-format year`).
const BSD_YEAR_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?= |$)/;
const CLOCK_ONLY = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?= |$)/;
// `journalctl -o short-full`: `Sat 2026-03-14 09:02:11 CET` (a zone abbreviation, or a numeric offset where the zone has none).
const JOURNAL_FULL = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ([A-Za-z]{1,6}|[+-]\d{2}(?::?\d{2})?)(?= |$)/;
// `journalctl -o short-unix`: seconds since the epoch with a fraction.
const UNIX_TIME = /^(\d{9,11})\.(\d{1,9})(?= |$)/;
const ZONED_ISO = /(?:Z|[+-]\d{2}:?\d{2})$/;
// `app[pid]: ` or `app: ` (app without spaces, brackets or colons).
const APP = /^([^\s[\]:]{1,64})(?:\[([^\]\s]{1,32})\])?:(?: |$)/;
// The chassis prefix: `(FPC Slot 1, PIC Slot 0) SPC3_PIC0 `; the word after the parentheses is the
// PIC's name, not the daemon.
const CHASSIS = /^\([^()]{1,80}\) (?:(?![^\s[\]:]+(?:\[[^\]\s]+\])?:(?: |$))\S{1,64} )?/;
const TAG = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):(?: |$)/;
// RFC 5424 header after `<PRI>1 `: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
const RFC5424_HEADER = /^1 (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)/;

/**
 * Parses one syslog message. Never throws, whatever the text: a line that fits no form becomes a
 * `bare` envelope whose `msg` is the whole text. `receivedAt` (ms) decides the year of RFC 3164
 * times (the year that puts the time nearest to it, never more than a day after it) and the date of
 * time-only lines. Times without a zone are read in the zone `zones` gives for the line's host
 * (config `timezone`, `devices.<name>.timezone`), or for `zoneHost` when the line names no host (the
 * device its sender is bound to); without `zones`, as UTC.
 *
 * No try/catch around the scanning: it only slices strings and runs anchored regexes over them, so
 * it cannot throw (test/ingest/envelope.test.ts checks that on generated lines), and a fallback
 * would save no line: an envelope without a tag is never matched by a rule, so a scanner bug would
 * turn VPN lines into noise unseen. Without one, the bug reaches the pipeline's catch-all, which
 * counts it (`ptim_bridge_pipeline_errors_total{reason="exception"}`) and logs the line.
 */
export function parseEnvelope(input: string, receivedAt: number, zones?: ZoneResolver, zoneHost?: string): Envelope {
  let s = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let pri: number | undefined;
  if (s.charCodeAt(0) === 60 /* < */) {
    const close = s.indexOf('>');
    if (close >= 2 && close <= 4) {
      const digits = s.slice(1, close);
      if (/^\d+$/.test(digits) && Number(digits) <= 191) {
        pri = Number(digits);
        s = s.slice(close + 1);
      }
    }
  }
  if (pri !== undefined && s.startsWith('1 ')) {
    const env = parse5424(s, pri, zones, zoneHost);
    if (env) return env;
  }

  let time: Date | undefined;
  let fullTime = false;
  // A zone-less time is read once the host is known (the zone may be the device's): `wall` is
  // the reading as if UTC, or the match when the year or date comes from receipt.
  let wall: Wall | undefined;
  let wallMs = NaN;
  let m: RegExpExecArray | null;
  if ((m = BSD_TIME.exec(s))) {
    wall = 'bsd';
    fullTime = true;
    s = s.slice(m[0].length);
  } else if ((m = BSD_YEAR_TIME.exec(s))) {
    wall = 'reading';
    wallMs = Date.UTC(Number(m[3]), MONTHS[m[1]!] ?? NaN, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]), fraction(m[7]));
    fullTime = true;
    s = s.slice(m[0].length);
  } else if ((m = ISO_TIME.exec(s))) {
    if (ZONED_ISO.test(m[1]!)) time = isoTime(m[1]!, undefined);
    else {
      wall = 'reading';
      wallMs = Date.parse(`${m[1]!}Z`);
    }
    fullTime = true;
    s = s.slice(m[0].length);
  } else if ((m = CLOCK_ONLY.exec(s))) {
    wall = 'clock';
    s = s.slice(m[0].length);
  } else if ((m = JOURNAL_FULL.exec(s))) {
    const reading = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), fraction(m[7]));
    const offset = zoneOffsetMs(m[8]!);
    // An abbreviation (CET, EST) names no zone for sure. It is the zone journalctl ran in, not the
    // device's: the global `timezone` reads it.
    if (offset !== undefined) time = dateOrUndefined(reading - offset);
    else {
      wall = 'collector';
      wallMs = reading;
    }
    fullTime = true;
    s = s.slice(m[0].length);
  } else if ((m = UNIX_TIME.exec(s))) {
    time = dateOrUndefined(Number(m[1]) * 1000 + fraction(m[2]));
    fullTime = true;
    s = s.slice(m[0].length);
  }
  const hadTime = m !== null;
  s = s.replace(/^ +/, '');

  const format: EnvelopeFormat = pri !== undefined ? 'rfc3164' : hadTime ? 'file' : 'bare';
  const env: Envelope = { format, msg: s };
  if (pri !== undefined) env.pri = pri;
  if (time !== undefined) env.time = time;

  const header = parseHeader(s, fullTime || pri !== undefined);
  if (header) {
    if (header.host !== undefined) env.host = header.host;
    if (header.app !== undefined) env.app = header.app;
    if (header.pid !== undefined) env.pid = header.pid;
    env.msg = header.msg;
  }
  const tag = TAG.exec(env.msg);
  if (tag) env.tag = tag[1]!;
  else if (env.app !== undefined && env.app.includes('_') && TAG.test(`${env.app}: `)) {
    // `09:02:11  IKE_VPN_UP_ALARM_USER: VPN ...`: the only `word:` is the tag, not a daemon.
    env.tag = env.app;
    env.msg = `${env.app}: ${env.msg}`;
    delete env.app;
  }
  // A line that starts at the host (no time, no PRI) is a log-file line, not a bare message; also
  // when its daemon word turned out to be the tag (`srx-hq IKE_VPN_UP_ALARM_USER: ...`).
  if (env.format === 'bare' && (env.app !== undefined || env.host !== undefined)) env.format = 'file';
  if (wall !== undefined) {
    const t = readWall(wall, m!, wallMs, receivedAt, zones?.zoneFor(wall === 'collector' ? undefined : (env.host ?? zoneHost)));
    if (t !== undefined) env.time = t;
  }
  return env;
}

/**
 * How a zone-less time is completed: BSD (year from receipt), clock only (date from receipt), a full
 * reading, or a full reading in the collector's zone (journalctl's), not the device's.
 */
type Wall = 'bsd' | 'clock' | 'reading' | 'collector';

function readWall(wall: Wall, m: RegExpExecArray, wallMs: number, receivedAt: number, zone: ZoneClock | undefined): Date | undefined {
  switch (wall) {
    case 'bsd':
      return bsdTime(m[1]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), m[6], receivedAt, zone);
    case 'clock':
      return clockTime(Number(m[1]), Number(m[2]), Number(m[3]), m[4], receivedAt, zone);
    case 'reading':
    case 'collector':
      return dateOrUndefined(zone === undefined ? wallMs : zone.toUtc(wallMs));
    default:
      return wall satisfies never;
  }
}

/** `UTC`/`GMT`/`Z` -> 0, `+01`/`-0530`/`+05:30` -> ms east of UTC; any other abbreviation -> undefined. */
function zoneOffsetMs(zone: string): number | undefined {
  if (zone === 'UTC' || zone === 'GMT' || zone === 'UT' || zone === 'Z') return 0;
  const n = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!n) return undefined;
  const ms = (Number(n[2]) * 60 + Number(n[3] ?? 0)) * 60_000;
  return n[1] === '-' ? -ms : ms;
}

interface Header {
  host?: string;
  app?: string;
  pid?: string;
  msg: string;
}

/**
 * After the time: `[host] [chassis prefix] app[pid]: msg`. A first word is taken as the host when a
 * daemon follows it, or when the line had a full timestamp (RFC 3164 always names the host).
 */
function parseHeader(s: string, hostExpected: boolean): Header | undefined {
  const direct = appAt(s);
  if (direct) return direct;
  const space = s.indexOf(' ');
  if (space <= 0) return undefined;
  const host = s.slice(0, space);
  const rest = s.slice(space + 1);
  const after = appAt(rest);
  if (after) return { host, ...after };
  if (hostExpected && !host.endsWith(':')) return { host, msg: rest };
  return undefined;
}

function appAt(s: string): Omit<Header, 'host'> | undefined {
  let rest = s;
  const chassis = CHASSIS.exec(rest);
  if (chassis) rest = rest.slice(chassis[0].length);
  const app = APP.exec(rest);
  if (!app) return undefined;
  const h: Omit<Header, 'host'> = { app: app[1]!, msg: rest.slice(app[0].length) };
  if (app[2] !== undefined) h.pid = app[2];
  return h;
}

function parse5424(s: string, pri: number, zones: ZoneResolver | undefined, zoneHost: string | undefined): Envelope | undefined {
  const m = RFC5424_HEADER.exec(s);
  if (!m) return undefined;
  const env: Envelope = { format: 'rfc5424', pri, msg: '' };
  const [, ts, host, app, procId, msgId] = m as unknown as [string, string, string, string, string, string];
  if (ts !== '-') {
    // RFC 5424 requires an offset; a relay that drops it gets the zone of a zone-less time.
    const t = isoTime(ts, zones === undefined || ZONED_ISO.test(ts) ? undefined : zones.zoneFor(host === '-' ? zoneHost : host));
    if (t) env.time = t;
  }
  if (host !== '-') env.host = host;
  if (app !== '-') env.app = app;
  if (procId !== '-') env.pid = procId;
  if (msgId !== '-') env.msgId = msgId;
  let pos = m[0].length;
  if (s.startsWith('-', pos)) {
    pos += 1;
  } else if (s.charCodeAt(pos) === 91 /* [ */) {
    const start = pos;
    while (s.charCodeAt(pos) === 91) {
      const end = sdElementEnd(s, pos);
      if (end < 0) return undefined;
      pos = end + 1;
    }
    env.structuredData = s.slice(start, pos);
  }
  // One space ends the structured data; rsyslog's RFC 5424 forwarding writes another before MSG.
  let msg = s.slice(pos);
  while (msg.charCodeAt(0) === 32) msg = msg.slice(1);
  if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
  env.msg = msg;
  const tag = TAG.exec(msg);
  if (tag) env.tag = tag[1]!;
  else if (env.msgId !== undefined && TAG.test(`${env.msgId}: `)) env.tag = env.msgId;
  return env;
}

/** Index of the `]` closing the SD element at `start`, honouring quoted values and `\]` escapes. */
function sdElementEnd(s: string, start: number): number {
  let inQuotes = false;
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuotes) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuotes = false;
    } else if (c === 34) {
      inQuotes = true;
    } else if (c === 93 /* ] */) {
      return i;
    }
  }
  return -1;
}

function fraction(digits: string | undefined): number {
  return digits === undefined ? 0 : Math.floor(Number(`0.${digits}`) * 1000);
}

function dateOrUndefined(ms: number): Date | undefined {
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

function isoTime(text: string, zone: ZoneClock | undefined): Date | undefined {
  // A zone-less ISO time would be read as local time by Date: read it as UTC, then in `zone`.
  if (ZONED_ISO.test(text)) return dateOrUndefined(Date.parse(text));
  const reading = Date.parse(`${text}Z`);
  return dateOrUndefined(zone === undefined ? reading : zone.toUtc(reading));
}

/**
 * RFC 3164 carries no year: of the years around receipt, take the one that puts the time nearest
 * to receipt, but never more than a day after it (a firewall's clock may run a little ahead; a
 * line from "next December" read in January is last December's). The reading is in `zone` (UTC without).
 */
function bsdTime(mon: string, day: number, h: number, mi: number, sec: number, frac: string | undefined, receivedAt: number, zone: ZoneClock | undefined): Date | undefined {
  const month = MONTHS[mon];
  if (month === undefined || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60) return undefined;
  const year = new Date(receivedAt).getUTCFullYear();
  const ms = fraction(frac);
  // Fast path (nearly every line): this year's date is within ~5 months before or a day after
  // receipt, so the neighbouring years, at least 7 months away, cannot be nearer.
  const reading = Date.UTC(year, month, day, h, mi, sec, ms);
  const same = zone === undefined ? reading : zone.toUtc(reading);
  if (day <= 28 && same - receivedAt <= DAY_MS && receivedAt - same < 150 * DAY_MS) return new Date(same);
  let best: number | undefined;
  for (const y of [year - 1, year, year + 1]) {
    const w: number = Date.UTC(y, month, day, h, mi, sec, ms);
    // Feb 29 in a non-leap year rolls over into March: not a real date in that year.
    if (new Date(w).getUTCMonth() !== month) continue;
    const t = zone === undefined ? w : zone.toUtc(w);
    if (t - receivedAt > DAY_MS) continue;
    if (best === undefined || Math.abs(t - receivedAt) < Math.abs(best - receivedAt)) best = t;
  }
  return best === undefined ? undefined : new Date(best);
}

/** A time-only line belongs to the receipt day (in `zone`), or the day before when that would be in the future. */
function clockTime(h: number, mi: number, sec: number, frac: string | undefined, receivedAt: number, zone: ZoneClock | undefined): Date | undefined {
  if (h > 23 || mi > 59 || sec > 60) return undefined;
  const day = Math.floor((zone === undefined ? receivedAt : zone.toWall(receivedAt)) / DAY_MS) * DAY_MS;
  const reading = day + ((h * 60 + mi) * 60 + sec) * 1000 + fraction(frac);
  let t = zone === undefined ? reading : zone.toUtc(reading);
  if (t - receivedAt > 60_000) t = zone === undefined ? reading - DAY_MS : zone.toUtc(reading - DAY_MS);
  return new Date(t);
}
