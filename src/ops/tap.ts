import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { PtimEvent } from '../events/ptim-event.js';
import { counter, gauge } from './metrics.js';

/**
 * A live view of delivery, like `vector tap`: each event as it is queued for JIMS (after the
 * commit), skipped by a push opt-out, retried, acknowledged or refused. Viewers attach over the
 * metrics/admin listener (`GET /tap`, NDJSON) or in process (`run --log-events`).
 *
 * It never slows delivery: with no viewer `publish` returns at once (callers check `active`
 * before building records); a record is serialised once for all viewers; a viewer whose socket
 * does not keep up gets at most TAP_BUFFER_LINES lines held for it, and further records are dropped
 * for that viewer only, counted (`ptim_bridge_tap_dropped_total`) and announced to it with a
 * `{"notice":"dropped","count":N}` line once it caught up.
 */
export type TapWhat = 'queued' | 'skipped' | 'retry' | 'acked' | 'dead-lettered';

export interface TapRecord {
  /** When it happened (ISO, wall clock). */
  at: string;
  what: TapWhat;
  /** Outbox seq (absent for a skipped event, which is never queued). */
  seq?: number;
  /** The push's batch (retry, acked, dead-lettered). */
  batch?: string;
  /** JIMS' HTTP status (retry when there was one, dead-lettered). */
  status?: number;
  /** skipped: why (`push-disabled`); retry: what failed. */
  reason?: string;
  /** retry: failed pushes of the batch so far. */
  attempt?: number;
  event: TapEvent;
}

/** The part of an event a viewer needs to tell it apart (no sender, pattern or peer). */
export type TapEvent = Pick<PtimEvent, 'id' | 'state' | 'user' | 'domain' | 'ip' | 'time' | 'device' | 'flags'> & Partial<Pick<PtimEvent, 'vpn' | 'gateway' | 'tunnelId'>>;

export function tapEvent(e: PtimEvent): TapEvent {
  const v: TapEvent = { id: e.id, state: e.state, user: e.user, domain: e.domain, ip: e.ip, time: e.time, device: e.device, flags: e.flags };
  if (e.vpn !== undefined) v.vpn = e.vpn;
  if (e.gateway !== undefined) v.gateway = e.gateway;
  if (e.tunnelId !== undefined) v.tunnelId = e.tunnelId;
  return v;
}

/** Lines held for one slow HTTP viewer before records are dropped for it (~300 bytes each). */
export const TAP_BUFFER_LINES = 1000;
/** Viewers at once; more are refused with 503. */
export const TAP_MAX_CLIENTS = 16;

interface HttpViewer {
  res: ServerResponse;
  held: string[];
  dropped: number;
  waiting: boolean;
}

export class EventTap {
  readonly #viewers = new Set<HttpViewer>();
  readonly #listeners = new Set<(record: TapRecord) => void>();
  readonly #dropped;
  readonly #bufferLines: number;

  constructor(options: { registry?: Registry; bufferLines?: number } = {}) {
    this.#bufferLines = options.bufferLines ?? TAP_BUFFER_LINES;
    const r = options.registry;
    this.#dropped = r ? counter(r, 'ptim_bridge_tap_dropped_total', 'Tap records not shown to a viewer that read too slowly (delivery is never slowed)') : undefined;
    if (r) {
      const clients = gauge(r, 'ptim_bridge_tap_viewers', 'Viewers attached to GET /tap');
      const viewers = this.#viewers;
      (clients as unknown as { collect?: () => void }).collect = function (this: typeof clients) {
        this.set(viewers.size);
      };
    }
  }

  /** True when someone watches: build records only then. */
  get active(): boolean {
    return this.#viewers.size > 0 || this.#listeners.size > 0;
  }

  /** Hands records to every viewer. Never throws, never waits. */
  publish(records: readonly TapRecord[]): void {
    if (records.length === 0 || !this.active) return;
    for (const listener of this.#listeners) {
      for (const record of records) {
        try {
          listener(record);
        } catch {
          // A viewer's failure is its own.
        }
      }
    }
    if (this.#viewers.size === 0) return;
    const text = records.map((r) => `${JSON.stringify(r)}\n`);
    for (const viewer of this.#viewers) for (const line of text) this.#offer(viewer, line);
  }

  /** In-process viewer (`run --log-events`); returns the function that detaches it. */
  subscribe(listener: (record: TapRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Streams to an HTTP response (chunked NDJSON) until the viewer goes away or `closeAll()`.
   * Starts with a `{"notice":"connected"}` line, so a viewer knows it is attached.
   */
  attach(res: ServerResponse): void {
    if (this.#viewers.size >= TAP_MAX_CLIENTS) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`At most ${TAP_MAX_CLIENTS} tap viewers at once.\n`);
      return;
    }
    const viewer: HttpViewer = { res, held: [], dropped: 0, waiting: false };
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.socket?.setNoDelay(true);
    this.#viewers.add(viewer);
    const detach = () => this.#viewers.delete(viewer);
    res.once('close', detach);
    res.once('error', detach);
    res.on('drain', () => this.#drain(viewer));
    this.#offer(viewer, `${JSON.stringify({ notice: 'connected', at: new Date().toISOString(), bufferLines: this.#bufferLines })}\n`);
  }

  /** Ends every HTTP stream (the server is closing). */
  closeAll(): void {
    for (const viewer of this.#viewers) viewer.res.end();
    this.#viewers.clear();
  }

  #offer(viewer: HttpViewer, line: string): void {
    if (viewer.waiting) {
      if (viewer.held.length < this.#bufferLines) viewer.held.push(line);
      else {
        viewer.dropped++;
        this.#dropped?.inc();
      }
      return;
    }
    if (!viewer.res.write(line)) viewer.waiting = true;
  }

  #drain(viewer: HttpViewer): void {
    viewer.waiting = false;
    let sent = 0;
    while (sent < viewer.held.length) {
      if (!viewer.res.write(viewer.held[sent++]!)) {
        viewer.waiting = true;
        break;
      }
    }
    viewer.held.splice(0, sent);
    if (viewer.waiting) return;
    if (viewer.dropped > 0) {
      const count = viewer.dropped;
      viewer.dropped = 0;
      if (!viewer.res.write(`${JSON.stringify({ notice: 'dropped', count, at: new Date().toISOString() })}\n`)) viewer.waiting = true;
    }
  }
}
