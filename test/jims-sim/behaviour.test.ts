import test from 'ava';
import { BehaviourPlan } from '../../src/jims-sim/behaviour.js';

test('default: every request is answered', (t) => {
  const plan = new BehaviourPlan();
  t.deepEqual(plan.decide('events'), { kind: 'answer', latencyMs: 0 });
  t.deepEqual(plan.decide('token'), { kind: 'answer', latencyMs: 0 });
});

test('next N on events leaves token requests alone, then stops', (t) => {
  const plan = new BehaviourPlan();
  plan.change({ next: { status: 429, count: 2, retryAfter: '3' } });
  t.is(plan.decide('token').kind, 'answer');
  t.deepEqual(plan.decide('events'), { kind: 'status', status: 429, retryAfter: '3', latencyMs: 0 });
  t.is(plan.decide('events').kind, 'status');
  t.is(plan.decide('events').kind, 'answer');
});

test('queued one-shots run in call order; route any hits both', (t) => {
  const plan = new BehaviourPlan();
  plan.change({ next: { status: 500, route: 'any' } });
  plan.change({ next: { status: 401 } });
  t.like(plan.decide('token'), { kind: 'status', status: 500 });
  t.like(plan.decide('events'), { kind: 'status', status: 401 });
  t.is(plan.decide('events').kind, 'answer');
});

test('drops come first, standing status until cleared, fail rate by the random draw', (t) => {
  const plan = new BehaviourPlan();
  plan.change({ dropNext: 1, status: 503, latencyMs: 20 });
  t.deepEqual(plan.decide('events'), { kind: 'drop' });
  t.deepEqual(plan.decide('events'), { kind: 'status', status: 503, retryAfter: undefined, latencyMs: 20 });
  plan.change({ status: undefined, failRate: 0.5, failStatus: 502 });
  t.like(plan.decide('events', () => 0.49), { kind: 'status', status: 502 });
  t.like(plan.decide('events', () => 0.5), { kind: 'answer', latencyMs: 20 });
});
