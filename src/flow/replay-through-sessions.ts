import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { PtimEvent } from '../events/ptim-event.js';
import { SessionTable } from '../events/sessions.js';
import type { Logger } from '../log.js';
import { replayCaptures, type CaptureInput, type ReplayProgress, type ReplaySummary } from '../replay/replay-captures.js';
import type { StateDb } from '../state-db.js';
import type { EventSink } from './event-sink.js';
import type { LinePipeline } from './pipeline.js';
import { selectEvents } from './tick.js';

export interface ReplayThroughSessionsOptions {
  config: Config;
  log: Logger;
  /** Where the table's metrics go; none in a dry run (nothing reads them). */
  registry?: Registry | undefined;
  files: readonly string[];
  /** Format, export fields, --since/--until, --final-state. */
  input?: CaptureInput;
  now?: number;
  onProgress?: (p: ReplayProgress) => void;
  /**
   * What of the table's events reaches the sink, before replay counts them: a delivering replay
   * marks them `replayed`, a dry run leaves out push: false ones. Default: all, as they are.
   */
  select?: (events: readonly PtimEvent[]) => readonly PtimEvent[];
}

/**
 * A capture's lines -> session table in `db` (the capture's clock; one tick per read chunk, as
 * live intake has one per turn) -> `sink`; with `db` undefined the table is kept in memory only.
 * The summary adds what the table ignored, by reason.
 * @throws as `replayCaptures`; what the ticks before the throw committed stays in `db`.
 */
export async function replayThroughSessions(db: StateDb | undefined, pipeline: LinePipeline, sink: EventSink, options: ReplayThroughSessionsOptions): Promise<ReplaySummary> {
  const { config, registry } = options;
  // In a replay the events carry the rekey flags; a warning per session would bury the summary.
  const log = options.log.child({}, { level: 'error' });
  const sessions = new SessionTable({ db, config, clock: 'capture', log, ...(registry === undefined ? {} : { registry }) });
  const summary = await replayCaptures({
    ...options.input,
    files: options.files,
    pipeline,
    table: options.select ? selectEvents(sessions, options.select) : sessions,
    liveSessions: () => sessions.list(),
    sink,
    now: options.now,
    maxLineBytes: config.limits.maxMessageBytes,
    splitDatagramLines: config.limits.splitDatagramLines,
    onProgress: options.onProgress,
  });
  return { ...summary, ignored: sessions.ignoredCounts() };
}

/** The event with the `replayed` flag (once). */
export function markReplayed(event: PtimEvent): PtimEvent {
  return event.flags.includes('replayed') ? event : { ...event, flags: [...event.flags, 'replayed'] };
}
