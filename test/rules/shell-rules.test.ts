import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATEST_ORDER_BEHAVIOUR, orderBehaviours } from '../../rules/card-order/behaviour.js';
import { onCancelRequested } from '../../rules/card-order/cancel.js';
import { decide } from '../../rules/card-order/decide.js';
import { newOrderMachine, type OrderMachineState } from '../../rules/card-order/order-machine.js';
import {
  TIMER_REARM_AFTER_MS,
  issuerEventsToSend,
  mayContinueAsNew,
  onIssuerEventsSent,
  onStepDone,
  onStepFailed,
  runOutcome,
  runState,
  takeSearchAttributeChanges,
  timerToArm,
} from '../../rules/card-order/shell-rules.js';
import type { CardOrderInput } from '../../rules/contracts/card-order.js';
import { HOUR, MINUTE, T0, produceOp, productionTimings } from '../helpers/machine-driver.js';

function newOrder(behaviour = LATEST_ORDER_BEHAVIOUR): OrderMachineState {
  const s = newOrderMachine(
    { workflowId: 'wf', issuerId: 'ISSUER0001', cardId: 'card-1', issuerRequestId: 'req-1' },
    productionTimings(),
    true,
    T0,
  );
  s.behaviour = behaviour;
  return s;
}

const quietShell = { handlersFinished: true, eventsInFlight: 0, reportingToCampaign: false };

describe("the card order's shell rules", () => {
  /** A run's versioning answers, recording what the shell asked. */
  function settling(behaviour: number) {
    const asked: string[] = [];
    const settle = {
      behaviour: () => (asked.push('behaviour'), behaviour),
      listensAfterShipment: () => (asked.push('listens'), true),
    };
    return { asked, settle };
  }
  const input = {
    order: { issuerId: 'ISSUER0001', cardId: 'card-1', issuerRequestId: 'req-1' },
    timings: productionTimings(),
    publishEvents: true,
  } as unknown as CardOrderInput<OrderMachineState>;

  it('settles the behaviour before asking whether the order listens after shipment, and asks neither again', () => {
    const { asked, settle } = settling(orderBehaviours.askAgain);
    const s = runState(input, 'wf', T0, settle);
    assert.deepEqual(asked, ['behaviour', 'listens']);
    assert.equal(s.listensAfterShipment, true);
    runState({ ...input, carried: s }, 'wf', T0 + HOUR, settle);
    assert.deepEqual(asked, ['behaviour', 'listens', 'behaviour']);
  });

  it('listens after shipment without asking its marker from behaviour oneMarker on', () => {
    const { asked, settle } = settling(orderBehaviours.oneMarker);
    const s = runState(input, 'wf', T0, settle);
    assert.deepEqual(asked, ['behaviour']);
    assert.equal(s.listensAfterShipment, true);
    const noWindow = runState({ ...input, timings: { ...productionTimings(), deliveryWindowMs: 0 } }, 'wf', T0, settle);
    assert.equal(noWindow.listensAfterShipment, false);
  });

  it('keeps a timer armed in a burst when the wake-up moves later, and arms an earlier one at once', () => {
    const s = newOrder();
    const timer = { at: T0 + HOUR, armedAt: T0 };
    assert.equal(timerToArm(s, T0 + HOUR, timer, T0), undefined);
    assert.equal(timerToArm(s, T0 + 2 * HOUR, timer, T0 + MINUTE / 2), undefined);
    assert.equal(timerToArm(s, T0 + 2 * HOUR, timer, T0 + TIMER_REARM_AFTER_MS), T0 + 2 * HOUR);
    assert.equal(timerToArm(s, T0 + MINUTE, timer, T0 + 1), T0 + MINUTE);
    assert.equal(timerToArm(s, undefined, undefined, T0), undefined);
  });

  it('wakes for the outbox sooner than the step asks, and backs off while the issuer fails', () => {
    const s = newOrder();
    s.events.pending.push({ eventId: 'wf:1', type: 'submitted', status: 'SUBMITTED', occurredAt: '' });
    const batch = issuerEventsToSend(s, new Set(), T0);
    assert.deepEqual(
      batch.map((event) => event.eventId),
      ['wf:1'],
    );
    assert.deepEqual(issuerEventsToSend(s, new Set(['wf:1']), T0), [], 'one delivery at a time');
    onIssuerEventsSent(s, ['wf:1'], { code: 'ERR_ISSUER_EVENT_DELIVERY' }, T0);
    const retryAt = s.events.outbox?.retryAt ?? Number.NaN;
    assert.deepEqual(issuerEventsToSend(s, new Set(), T0), []);
    assert.equal(timerToArm(s, T0 + 10 * HOUR, undefined, T0), retryAt);
    onIssuerEventsSent(s, ['wf:1'], undefined, retryAt);
    assert.deepEqual(s.events.pending, []);
  });

  it('drops events after any delivery before the outbox, and sends only those not under way', () => {
    const s = newOrder(1);
    s.events.pending.push(
      { eventId: 'wf:1', type: 'submitted', status: 'SUBMITTED', occurredAt: '' },
      { eventId: 'wf:2', type: 'shipped', status: 'SHIPPED', occurredAt: '' },
    );
    assert.deepEqual(
      issuerEventsToSend(s, new Set(['wf:1']), T0).map((event) => event.eventId),
      ['wf:2'],
    );
    onIssuerEventsSent(s, ['wf:1'], { code: undefined }, T0);
    assert.deepEqual(
      s.events.pending.map((event) => event.eventId),
      ['wf:2'],
    );
    assert.equal(mayContinueAsNew(s, { ...quietShell, eventsInFlight: 1 }), false);
  });

  it('continues as new only while nothing of the run is under way', () => {
    const s = newOrder();
    assert.equal(mayContinueAsNew(s, quietShell), true);
    assert.equal(mayContinueAsNew(s, { ...quietShell, eventsInFlight: 1 }), true, 'the outbox travels in the state');
    assert.equal(mayContinueAsNew(s, { ...quietShell, handlersFinished: false }), false);
    assert.equal(mayContinueAsNew(s, { ...quietShell, reportingToCampaign: true }), false);
    assert.equal(decide(s, T0).kind, 'submit');
    onStepDone(s, { kind: 'submit', operationId: 'op-1' }, T0);
    onCancelRequested(s, false, T0 + HOUR);
    assert.equal(mayContinueAsNew(s, quietShell), false, 'a cancel is under way');
  });

  it('hands a step and its answer to the machine, and writes only what changed', () => {
    const s = newOrder();
    const step = decide(s, T0);
    assert.equal(step.kind, 'submit');
    assert.deepEqual(takeSearchAttributeChanges(s), []);
    onStepDone(s, { kind: 'submit', operationId: 'op-1' }, T0);
    onStepDone(
      s,
      { kind: 'poll', operations: [produceOp('op-1', { at: 0, status: 'PENDING', stage: 'CARD_PROD_READY' })] },
      T0,
    );
    assert.deepEqual(takeSearchAttributeChanges(s), [
      { attribute: 'status', value: 'IN_PRODUCTION' },
      { attribute: 'stage', value: 'CARD_PROD_READY' },
    ]);
    assert.deepEqual(takeSearchAttributeChanges(s), []);
    if (step.kind === 'submit') onStepFailed(s, step, { code: 'ERR_D1_BAD_REQUEST' }, T0);
  });

  it('ends a failed order with its failure, and one whose compensation failed as such', () => {
    const s = newOrder();
    onStepFailed(s, { kind: 'submit', issuerRequestId: 'req-1' }, { code: 'ERR_ORDER_INVALID' }, T0);
    assert.equal(decide(s, T0).kind, 'finish');
    assert.equal(runOutcome(s).failure?.type, 'ORDER_INVALID');
    const t = newOrder();
    onStepDone(t, { kind: 'submit', operationId: 'op-1' }, T0);
    onStepFailed(t, { kind: 'submit', issuerRequestId: 'req-1' }, { code: 'ERR_D1_BAD_REQUEST' }, T0);
    const compensate = decide(t, T0);
    assert.equal(compensate.kind, 'compensate');
    if (compensate.kind === 'compensate') onStepFailed(t, compensate, { code: 'ERR_D1_BAD_REQUEST' }, T0);
    assert.equal(runOutcome(t).failure?.type, 'COMPENSATION_FAILED');
  });
});
