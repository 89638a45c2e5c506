import type { JimsClient, PushOutcome } from '../../src/delivery/jims-client.js';
import type { PtimEvent } from '../../src/events/ptim-event.js';

/**
 * An in-test JimsClient for the forwarder's pure ordering logic (the promise tests use the real
 * simulator). `answer` decides each push's outcome; pushes resolve after a few event-loop turns so
 * that several are in flight at once.
 */
export class FakeJimsClient implements JimsClient {
  readonly pushes: PtimEvent[][] = [];
  readonly delivered: PtimEvent[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #answer: (events: readonly PtimEvent[], call: number) => PushOutcome;
  readonly #turns: (call: number) => number;

  constructor(answer: (events: readonly PtimEvent[], call: number) => PushOutcome = () => ({ kind: 'delivered', accepted: 0, endpoint: 'primary' }), turns: (call: number) => number = () => 1) {
    this.#answer = answer;
    this.#turns = turns;
  }

  /** Called before each push with the batch, to check invariants at send time. */
  onPush: (events: readonly PtimEvent[]) => void = () => {};

  async push(events: readonly PtimEvent[]): Promise<PushOutcome> {
    const call = this.pushes.length;
    this.pushes.push([...events]);
    this.onPush(events);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    for (let i = this.#turns(call); i > 0; i--) await new Promise<void>((resolve) => setImmediate(resolve));
    this.inFlight--;
    const outcome = this.#answer(events, call);
    if (outcome.kind === 'delivered') {
      this.delivered.push(...events);
      return { ...outcome, accepted: events.length };
    }
    return outcome;
  }

  close(): void {}
}
