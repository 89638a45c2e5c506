import { DeadlineHeap } from './deadline-heap.js';
import type { Session } from './session-rules.js';

/**
 * The rekey watch's index: a deadline heap per device, so that a device's capture clock can run its
 * own sessions' watch. Entries are never removed in place (see deadline-heap.ts): whoever pops one
 * checks it against the session it names.
 */
export class RekeyDeadlines {
  readonly #heaps = new Map<string, DeadlineHeap>();

  /** Adds the session's (new) deadline under its device. */
  schedule(device: string, deadline: number, key: string): void {
    let heap = this.#heaps.get(device);
    if (heap === undefined) {
      heap = new DeadlineHeap();
      this.#heaps.set(device, heap);
    }
    heap.push(deadline, key);
  }

  /** The device's heap, undefined when it never had a deadline. */
  of(device: string): DeadlineHeap | undefined {
    return this.#heaps.get(device);
  }

  /** The devices with a heap, sorted (the watch's order over devices). */
  devices(): string[] {
    return [...this.#heaps.keys()].sort();
  }

  /** Entries held over all devices, stale ones included. */
  get entries(): number {
    let n = 0;
    for (const heap of this.#heaps.values()) n += heap.size;
    return n;
  }

  /** Starts over from the sessions' current deadlines (after a reload, or when mostly stale). */
  rebuild(sessions: ReadonlyMap<string, Session>): void {
    this.#heaps.clear();
    for (const [key, s] of sessions) if (s.deadline !== undefined) this.schedule(s.device, s.deadline, key);
  }
}
