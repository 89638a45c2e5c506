import type { Counter, Registry } from 'prom-client';
import type { Config } from '../config.js';
import { normalize, type SkipReason } from '../events/normalize.js';
import type { PtimCandidate } from '../events/ptim-event.js';
import type { DeviceBinding } from '../ingest/device-binding.js';
import { parseEnvelope } from '../ingest/envelope.js';
import { overlayRecorded } from '../ingest/recorded.js';
import type { ZoneResolver } from '../ingest/time-zone.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { LiteralFinder } from './literal-anchors.js';
import { counter } from '../ops/metrics.js';
import type { RejectReason } from '../patterns/field-integrity.js';
import type { Recognition } from '../patterns/pattern-set.js';
import type { Envelope, ReceivedMessage } from './pipeline-records.js';

/**
 * What the pipeline needs of a pattern set (src/patterns/pattern-set.ts `PatternSet` has all of
 * it). Kept structural so the pipeline and its tests do not depend on how patterns are loaded.
 */
export interface LineMatcher {
  readonly literals: readonly string[];
  recognise(envelope: Envelope): Recognition;
}

export type LineOutcome =
  | { kind: 'candidate'; candidate: PtimCandidate }
  | { kind: 'skipped'; ruleId: string; reason: SkipReason }
  /** A rule matched, but the line is refused: it could forge or move someone's mapping. */
  | { kind: 'rejected'; ruleId: string; reason: RejectReason; text: string }
  | { kind: 'near-miss'; text: string }
  | { kind: 'noise' };

/**
 * One syslog message -> outcome: literal prefilter on the raw bytes, envelope, pattern match,
 * normalize. Shared by the listeners (every received message) and replay (only lines the chunk
 * scanner found a literal in; the prefilter here then costs a few indexOf calls more).
 */
export class LinePipeline {
  readonly #patterns: LineMatcher;
  readonly #vpns: Config['vpns'];
  readonly #devices: DeviceBinding | undefined;
  readonly #zones: ZoneResolver | undefined;
  readonly #finder: LiteralFinder;
  readonly #errors: Counter<'reason'> | undefined;
  readonly #log: RateLimitedLog | undefined;

  /**
   * `devices` binds hosts to senders (live listeners); without it every line speaks for its host
   * (replay: the operator vouches for the capture). `zones` reads zone-less times in the zone of
   * the line's host (config `timezone`, `devices.<name>.timezone`; without it, UTC). `registry` and `log` are optional: with them, a line that makes a pattern or the normalizer
   * throw (a bug, never expected) is counted in `ptim_bridge_pipeline_errors_total{reason}` and
   * logged at a limited rate; without them it is only treated as noise.
   */
  constructor(options: { patterns: LineMatcher; vpns?: Config['vpns']; devices?: DeviceBinding; zones?: ZoneResolver | undefined; registry?: Registry; log?: Logger }) {
    this.#patterns = options.patterns;
    this.#vpns = options.vpns ?? {};
    this.#devices = options.devices;
    this.#zones = options.zones;
    this.#finder = new LiteralFinder(options.patterns.literals);
    this.#errors = options.registry ? counter(options.registry, 'ptim_bridge_pipeline_errors_total', 'Lines the pipeline failed on (treated as noise), by reason', ['reason']) : undefined;
    this.#log = options.log ? new RateLimitedLog(options.log.child({ module: 'pipeline' })) : undefined;
  }

  /** Where zone-less times are read (replay reads export records' times in it too). */
  get zones(): ZoneResolver | undefined {
    return this.#zones;
  }

  /** The pattern set's literals: a message containing none of them is noise. */
  get literals(): readonly string[] {
    return this.#patterns.literals;
  }

  /** One syslog message -> outcome. Pure and synchronous; never throws on any bytes. */
  process(msg: ReceivedMessage): LineOutcome {
    if (!this.#finder.holds(msg.data)) return { kind: 'noise' };
    return this.processPrefiltered(msg);
  }

  /**
   * Like `process`, for a caller that already found one of `literals` in the bytes (the replay
   * chunk scanner): skips the literal search. Never throws.
   */
  processPrefiltered(msg: ReceivedMessage): LineOutcome {
    try {
      // Invalid UTF-8 (kmd writes garbage into Local IKE-ID) decodes to U+FFFD; it never throws.
      const envelope = parseEnvelope(msg.data.toString('utf8'), msg.receivedAt, this.#zones);
      if (msg.recorded !== undefined) overlayRecorded(envelope, msg.recorded);
      const recognised = this.#patterns.recognise(envelope);
      switch (recognised.kind) {
        case 'none':
          return { kind: 'noise' };
        case 'near-miss':
          return { kind: 'near-miss', text: envelope.msg };
        case 'rejected':
          return { kind: 'rejected', ruleId: recognised.ruleId, reason: recognised.reason, text: envelope.msg };
        case 'match':
          break;
        default:
          return recognised satisfies never;
      }
      const match = recognised.match;
      if (this.#devices !== undefined) {
        const device = this.#devices.deviceFor(envelope.host, msg);
        if (device === undefined) return { kind: 'rejected', ruleId: match.ruleId, reason: 'device-not-bound', text: envelope.msg };
        // A hostless line takes the name of the one device its sender is bound to, and its zone-less
        // time, read in the global zone, is read again in that device's zone (rare: parse once more).
        const zones = this.#zones;
        if (envelope.host === undefined && zones !== undefined && msg.recorded?.time === undefined && zones.zoneFor(device) !== zones.zoneFor(undefined)) {
          const time = parseEnvelope(msg.data.toString('utf8'), msg.receivedAt, zones, device).time;
          if (time !== undefined) envelope.time = time;
        }
        envelope.host = device;
      }
      const result = normalize(match, envelope, msg, this.#vpns);
      if (result.kind === 'skipped') return { kind: 'skipped', ruleId: match.ruleId, reason: result.reason };
      return result;
    } catch (error) {
      // A pattern set is user-supplied code of a kind (regexes); a bug there must not stop ingestion.
      this.#errors?.inc({ reason: 'exception' });
      this.#log?.warn('pipeline-exception', { err: error instanceof Error ? error.message : String(error), input: msg.data.subarray(0, 512).toString('utf8') }, 'A line made the pipeline fail; treated as noise');
      return { kind: 'noise' };
    }
  }
}
