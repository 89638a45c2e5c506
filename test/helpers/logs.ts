import { waitUntil } from './wait.js';

/** One pino JSON log line, parsed. */
export type LogEntry = Record<string, unknown>;

/**
 * The JSON log lines of a child's output so far. Only whole lines: the last one may still be
 * arriving, and half a line is not JSON. Lines that are not JSON objects (CLI messages) are skipped.
 */
export function logEntries(text: string): LogEntry[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogEntry);
}

/**
 * The first entry logged as `event` (the stable field tests synchronise on; message text is for
 * people and may change) whose fields include `fields`, or undefined.
 */
export function findEvent(logs: readonly LogEntry[], event: string, fields: LogEntry = {}): LogEntry | undefined {
  return logs.find((l) => l.event === event && Object.entries(fields).every(([key, value]) => l[key] === value));
}

export interface WaitForEventOptions {
  fields?: LogEntry;
  timeoutMs?: number;
  /** Called on every poll; throws to stop waiting early (the process exited, say). */
  alive?: () => void;
}

/** Waits until `logs()` holds an entry logged as `event` (see findEvent) and returns it. */
export async function waitForEvent(logs: () => readonly LogEntry[], event: string, options: WaitForEventOptions = {}): Promise<LogEntry> {
  let found: LogEntry | undefined;
  const fields = options.fields ?? {};
  await waitUntil(() => {
    options.alive?.();
    found = findEvent(logs(), event, fields);
    return found !== undefined;
  }, options.timeoutMs ?? 30_000, `the log event "${event}"${Object.keys(fields).length > 0 ? ` with ${JSON.stringify(fields)}` : ''}`);
  return found!;
}

/**
 * The ports `run` listens on, by transport, from its `ready` entry (`listeners: ["tcp://127.0.0.1:40123", ...]`).
 * A transport with two listeners keeps the first.
 */
export function listenerPorts(ready: LogEntry): Map<string, number> {
  const ports = new Map<string, number>();
  for (const url of ready.listeners as string[]) {
    const { protocol, port } = new URL(url);
    const transport = protocol.slice(0, -1);
    if (!ports.has(transport)) ports.set(transport, Number(port));
  }
  return ports;
}
