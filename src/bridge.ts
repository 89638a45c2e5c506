import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Delivery } from './delivery/delivery.js';
import type { DeliveryCounts } from './delivery/ledger.js';
import { holdBack, pushPolicy, skippedCounter, splitByPolicy, type PushPolicy } from './delivery/push-policy.js';
import type { PtimEvent } from './events/ptim-event.js';
import { SessionTable } from './events/sessions.js';
import type { EventSink } from './flow/event-sink.js';
import { LinePipeline } from './flow/pipeline.js';
import { markReplayed, replayThroughSessions } from './flow/replay-through-sessions.js';
import { Tick } from './flow/tick.js';
import type { DeviceBinding } from './ingest/device-binding.js';
import { createZoneResolver } from './ingest/time-zone.js';
import type { Logger } from './log.js';
import type { MetricsServer } from './ops/metrics-server.js';
import type { EventTap, TapRecord } from './ops/tap.js';
import { loadPatterns } from './patterns/load.js';
import type { CaptureInput, ReplayProgress, ReplaySummary } from './replay/replay-captures.js';
import { openStateDb, type StateDb } from './state-db.js';
import { lockState, type StateLock } from './state-lock.js';

/**
 * The composition root (DESIGN.md §1): builds the pipeline from a frozen config, for the live
 * relay (`run`, also with --dry-run) and for replay (delivering or --dry-run). Everything here is
 * wiring; the behaviour lives in the modules it joins.
 */
export interface BridgeDeps {
  /** The effective config (src/effective-config.ts): the command's flags are laid over it already. */
  config: Config;
  log: Logger;
  registry: Registry;
}

export interface LiveBridgeOptions extends BridgeDeps {
  /** Print events here (stdout) instead of delivering them. */
  dryRun?: Writable;
  /** State file (sessions + outbox): the effective config's `stateFile`; undefined (a dry run without --state) for a temporary one. */
  state: string | undefined;
  /** Delivering: sees every tap record (queued, skipped, retry, acked, dead-lettered), as `run --log-events` logs them. */
  onTapRecord?: (record: TapRecord) => void;
}

export interface LiveBridge {
  readonly bound: ReadonlyArray<{ url: string; address: string; port: number }>;
  readonly metricsUrl: string | undefined;
  /** Stops accepting, commits what is in hand, stops pushing (the outbox keeps the rest) and closes the state. */
  close(): Promise<void>;
  /** Delivering: what was queued, delivered, dead-lettered, retried and skipped since the start, and the outbox backlog. Undefined in a dry run. */
  counts(): (DeliveryCounts & { backlog: number }) | undefined;
  /**
   * Takes a new config without closing a listener, dropping a message or losing state (SIGHUP):
   * patterns (read again from their files), the sender allow-list, devices, VPN domains and rekey
   * intervals, the session and line-check settings, the log level. Everything else (listeners, TLS
   * files, limits, metrics, JIMS, the state file) needs a restart: returned in `needsRestart`, and
   * kept as it was. Everything is built before anything is swapped.
   * @throws BridgeError (ERR_PATTERN_INVALID, ERR_CONFIG_INVALID...) when the new config cannot be
   *   applied; the running one is then untouched.
   */
  reload(next: Config): ReloadOutcome;
}

export interface ReloadOutcome {
  /** Top-level config keys whose change took effect. */
  applied: string[];
  /** Top-level config keys that changed but need a restart; their old values stay. */
  needsRestart: string[];
}

/** Config keys a reload applies; the others are read once, at start. */
const RELOADABLE_KEYS: ReadonlySet<string> = new Set(['patterns', 'senders', 'devices', 'vpns', 'gateways', 'sessions', 'lineChecks', 'log', 'timezone']);

/**
 * Starts the live relay: listeners -> pipeline -> session table (wall clock, rekey watch) ->
 * outbox -> forwarder -> JIMS, or -> stdout with `dryRun`.
 * @throws BridgeError for invalid patterns, listen URLs, TLS files, a state file in use or
 *   unreadable, JIMS settings, a refused JIMS certificate or credentials.
 */
export async function startBridge(options: LiveBridgeOptions): Promise<LiveBridge> {
  const { config, log, registry } = options;
  // The live relay's own parts (listeners with net, tls and dgram; the intake; the metrics server
  // with http) load when it starts: a replay is composed without them and starts faster.
  const [{ planListeners, startListeners }, { createDeviceBinding }, { Intake }, { RekeyWatchTimer }, { PrintingSink }, { EventTap }, { isLoopbackListen, startMetricsServer }, { judgeReadiness }, { readStats }] = await Promise.all([
    import('./ingest/listeners.js'), import('./ingest/device-binding.js'), import('./flow/intake.js'), import('./flow/rekey-watch-timer.js'), import('./flow/printing-sink.js'),
    import('./ops/tap.js'), import('./ops/metrics-server.js'), import('./ops/readiness.js'), import('./ops/event-stats.js'),
  ]);
  // Everything that can be refused without I/O is refused before a state file or JIMS is touched.
  planListeners(config);
  // Delivery (got, TLS agents) loads only when used: a dry run starts faster without it.
  const delivering = options.dryRun ? undefined : await import('./delivery/delivery.js');
  delivering?.checkJimsSettings(config.jims);
  const devices = createDeviceBinding(config.devices, config.senders.allowUnboundDevices);
  if (config.senders.allowUnboundDevices) {
    log.warn({ devices: Object.keys(config.devices).length }, 'senders.allowUnboundDevices is on: an allowed sender may speak for any firewall not listed under `devices` (bind each firewall to its addresses or certificate names instead)');
  }
  const pipeline = makePipeline(options, devices);
  const state = openState(options.state, options.dryRun ? 'run --dry-run' : 'run');
  const closers: Array<() => Promise<void> | void> = [() => state.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    const sessions = new SessionTable({ db: state.db, config, clock: 'wall', log, registry });
    let listeners: Awaited<ReturnType<typeof startListeners>> | undefined;
    // TCP/TLS reading pauses while any reason holds: a congested stdout, a state file that fails.
    const pausedFor = new Set<string>();
    const pauseFor = (reason: string, on: boolean) => {
      if (on) pausedFor.add(reason);
      else pausedFor.delete(reason);
      if (pausedFor.size > 0) listeners?.pause();
      else listeners?.resume();
    };
    let stateTrouble: { since: number; error: string; code?: string } | undefined;
    // Push opt-outs (gateways/vpns/devices push: false): the sessions are kept, their events not sent.
    let push = pushPolicy(config);
    logPushPolicy(log, push);
    let delivery: Delivery | undefined;
    let tap: EventTap | undefined;
    let sink: EventSink;
    if (options.dryRun) {
      const printer = new PrintingSink({
        out: options.dryRun,
        log,
        registry,
        // A slow reader of stdout slows TCP senders instead of growing this process.
        onCongestion: (congested) => pauseFor('stdout', congested),
      });
      closers.push(() => printer.flushed());
      sink = holdBack(printer, () => push, skippedCounter(registry));
    } else {
      tap = new EventTap({ registry });
      if (options.onTapRecord) tap.subscribe(options.onTapRecord);
      const started = await delivering!.startDelivery(state.db, config.jims, { log, registry, push: () => push, tap, startedBy: 'run' });
      delivery = started;
      closers.push(() => started.close());
      sink = started;
    }
    // One tick for the intake and the watch: the same table, the same sink, never at once.
    const tick = new Tick({ table: sessions, sink });
    const intake = new Intake({
      pipeline,
      tick,
      log,
      registry,
      trouble: {
        onChange(trouble) {
          stateTrouble = trouble;
          pauseFor('state-file', trouble !== undefined);
        },
        // A checkpoint moves the WAL into the file and truncates it: the space a retry needs.
        relieve: () => state.db.pragma('wal_checkpoint(TRUNCATE)'),
      },
    });
    const watch = new RekeyWatchTimer({
      tick,
      onError: (error) => {
        // During a state-file episode the intake has said it once; the watch retries every tick.
        if (stateTrouble === undefined) log.error({ err: { message: (error as Error).message } }, 'rekey watch could not update the state file');
      },
    });
    watch.start();
    closers.push(() => watch.stop());
    listeners = await startListeners({
      config,
      onMessage: intake.onMessage,
      log,
      registry,
    });
    const stopListeners = listeners.close.bind(listeners);
    // Listeners close first (the list runs backwards), then what they handed over is committed.
    closers.push(() => {
      intake.flush();
      intake.stop();
    });
    closers.push(stopListeners);
    let metrics: MetricsServer | undefined;
    if (config.metrics.listen) {
      metrics = await startMetricsServer(config.metrics.listen, registry, () =>
        stateTrouble === undefined
          ? { sessions: sessions.list().length, stateWritable: true }
          : { ok: false, stateWritable: false, stateError: stateTrouble.error, stateFailingSince: new Date(stateTrouble.since).toISOString() },
        // /stats and /tap only where something is delivered; /tap shows identities: loopback unless metrics.tap says otherwise.
        {
          readiness: () => judgeReadiness({ ...(stateTrouble === undefined ? {} : { stateFailing: stateTrouble }), ...(delivery ? { delivery: delivery.readiness() } : {}), lastLineAt: intake.lastLineAt, limits: { jimsFailingSeconds: config.metrics.readyJimsFailingSeconds, backlogAgeSeconds: config.metrics.readyBacklogAgeSeconds } }, Date.now()),
          ...(delivery ? { stats: (filter) => readStats(state.db, filter), tap, tapAllowed: config.metrics.tap ?? isLoopbackListen(config.metrics.listen) } : {}),
        },
      );
      closers.unshift(() => metrics!.close());
      log.info({ url: metrics.url }, 'metrics ready');
    }
    let current = config;
    const started = listeners;
    const reload = (next: Config): ReloadOutcome => {
      // Built first, swapped after: a bad pattern file or address leaves everything as it was.
      const nextPipeline = makePipeline({ ...options, config: next }, createDeviceBinding(next.devices, next.senders.allowUnboundDevices));
      started.reconfigure(next);
      intake.usePipeline(nextPipeline);
      sessions.reconfigure(next);
      const nextPush = pushPolicy(next);
      if (JSON.stringify(nextPush?.describe) !== JSON.stringify(push?.describe)) {
        if (nextPush) logPushPolicy(log, nextPush);
        else log.info('push to JIMS is on again for every gateway, VPN and device');
      }
      push = nextPush;
      if (next.log.level !== current.log.level) log.level = next.log.level;
      const changed = Object.keys({ ...current, ...next }).filter((key) => JSON.stringify(current[key as keyof Config]) !== JSON.stringify(next[key as keyof Config]));
      const outcome = { applied: changed.filter((k) => RELOADABLE_KEYS.has(k)), needsRestart: changed.filter((k) => !RELOADABLE_KEYS.has(k)) };
      // What was not applied stays as it was, so the next reload compares with what runs.
      current = { ...current, ...Object.fromEntries(outcome.applied.map((k) => [k, next[k as keyof Config]])) } as Config;
      return outcome;
    };
    const counts = () => (delivery ? { ...delivery.counts(), backlog: delivery.backlog() } : undefined);
    return { bound: listeners.bound, metricsUrl: metrics?.url, close: closeAll, reload, counts };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

export interface ReplayRunOptions extends BridgeDeps {
  files: readonly string[];
  /** Format, export fields, --since/--until, --final-state. */
  input?: CaptureInput;
  /** Receipt time for year-less RFC 3164 stamps and lines without a time (default: file mtime). */
  now?: number;
  onProgress?: (p: ReplayProgress) => void;
  /** Called while waiting for JIMS to take the last events, with how many are left. */
  onWaiting?: (backlog: number) => void;
}

export interface DeliveredReplaySummary extends ReplaySummary {
  /** Events JIMS refused (4xx): they are in the dead-letter store, not delivered. */
  refused: number;
  /** What the delivery did: delivered (also backlog an earlier run left), dead-lettered, skipped (push: false), and what is left in the outbox. */
  delivery: DeliveryCounts & { backlog: number };
}

/**
 * Replays captures and delivers their events (flag `replayed`) through the durable outbox, then
 * waits until JIMS took them all (or they went to the dead-letter store). The session table runs on
 * the capture's clock in memory (it is not kept: a replay never disturbs the live table);
 * the outbox is the state file's, so what a crash interrupts is delivered by the next start.
 * @throws BridgeError as `startBridge`, and ERR_INPUT_UNREADABLE for an unreadable capture.
 */
export async function runReplay(options: ReplayRunOptions): Promise<DeliveredReplaySummary> {
  const { config, log, registry } = options;
  const [{ checkJimsSettings, startDelivery }, { OutboxSink }] = await Promise.all([import('./delivery/delivery.js'), import('./flow/outbox-sink.js')]);
  checkJimsSettings(config.jims);
  const pipeline = makePipeline(options);
  // The outbox of `sessions.state` (--state laid over it) carries the events.
  const state = openState(config.sessions.state, 'replay');
  let delivery: Delivery | undefined;
  try {
    const push = pushPolicy(config);
    logPushPolicy(log, push);
    delivery = await startDelivery(state.db, config.jims, { log, registry, push: () => push, startedBy: 'replay' });
    const summary = await replayThroughSessions(undefined, pipeline, new OutboxSink(state.db, delivery), { ...options, select: (events) => events.map(markReplayed) });
    const waiting = setInterval(() => options.onWaiting?.(delivery!.backlog()), 1000);
    try {
      await delivery.drained();
    } finally {
      clearInterval(waiting);
    }
    return { ...summary, refused: delivery.deadLettered(), delivery: { ...delivery.counts(), backlog: delivery.backlog() } };
  } finally {
    await delivery?.close();
    state.close();
  }
}

/** A dry run keeps no metrics registry unless given one: nothing would read it. */
export interface DryRunReplayOptions extends Omit<BridgeDeps, 'registry'> {
  registry?: Registry;
  files: readonly string[];
  /** Format, export fields, --since/--until, --final-state. */
  input?: CaptureInput;
  /** Where the events go (NDJSON on stdout: `NdjsonSink`). */
  sink: EventSink;
  now?: number;
  /** Session state to keep (a later replay with the same file continues its sessions); default a temporary one. */
  state?: string;
  onProgress?: (p: ReplayProgress) => void;
}

export interface DryRunReplaySummary extends ReplaySummary {
  /** Events not printed because their gateway, VPN or device has `push: false` (they are not in `events`). */
  pushDisabled: number;
}

/**
 * Replays captures through the session table on the capture's clock and writes the events to
 * `out`, delivering nothing.
 * @throws BridgeError for invalid patterns, an unreadable capture, a state file in use or unreadable.
 */
export async function runDryRunReplay(options: DryRunReplayOptions): Promise<DryRunReplaySummary> {
  const pipeline = makePipeline(options);
  // Without --state the table would be thrown away at the end: it stays in memory, journalling
  // nothing (a third of a VPN-only replay's time went to writing a state file no one reads).
  const state = options.state === undefined ? undefined : openState(options.state, 'replay --dry-run');
  // As the bridge would: events of push: false gateways, VPNs and devices are not printed, only counted.
  const push = pushPolicy(options.config);
  let pushDisabled = 0;
  const hold = push === undefined ? undefined : (events: readonly PtimEvent[]): readonly PtimEvent[] => {
    const split = splitByPolicy(push, events);
    pushDisabled += split.skipped.length;
    return split.send;
  };
  try {
    const summary = await replayThroughSessions(state?.db, pipeline, options.sink, { ...options, ...(hold === undefined ? {} : { select: hold }) });
    return { ...summary, pushDisabled };
  } finally {
    state?.close();
  }
}

/** The pipeline; live listeners pass the device binding, replay trusts the capture's host names. */
function makePipeline(deps: Omit<BridgeDeps, 'registry'> & { registry?: Registry | undefined }, devices?: DeviceBinding): LinePipeline {
  const { config } = deps;
  const patterns = loadPatterns({ shipped: config.patterns.shipped, dirs: config.patterns.dirs });
  const zones = createZoneResolver(config.timezone, config.devices);
  return new LinePipeline({ patterns, vpns: config.vpns, zones, log: deps.log, ...(deps.registry === undefined ? {} : { registry: deps.registry }), ...(devices === undefined ? {} : { devices }) });
}

interface OpenState {
  db: StateDb;
  close(): void;
}

/** Opens and locks a state file, or a temporary one (removed on close) when `path` is undefined. */
function openState(path: string | undefined, purpose: string): OpenState {
  const temp = path === undefined ? mkdtempSync(join(tmpdir(), 'ptim-state-')) : undefined;
  const db = openStateDb(path ?? join(temp!, 'state.db'));
  let lock: StateLock;
  try {
    lock = lockState(db, purpose);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    db,
    close() {
      lock.release();
      db.close();
      if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
    },
  };
}

/** Says at start (and at a reload that changes them) which gateways, VPNs and devices send nothing. */
function logPushPolicy(log: Logger, push: PushPolicy | undefined): void {
  if (push === undefined) return;
  log.info({ pushDisabled: push.describe }, 'push to JIMS is off for some gateways, VPNs or devices (push: false): their sessions are kept, their events are counted as skipped (push-disabled)');
}
