import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cardOrderSchema } from '../../orders/schema.js';
import { originalRequestId, reorderRequestId } from '../../orders/reorder-id.js';
import { onReshipRequested, reshipRefusal, reshipResult } from '../../rules/card-order/after-shipment.js';
import { cancelRefusal, onCancelRequested, onCancelSent } from '../../rules/card-order/cancel.js';
import { changeRefusal, onChangeFailed, onChangeRequested, onChangeSent } from '../../rules/card-order/change.js';
import { decide } from '../../rules/card-order/decide.js';
import { newOrderMachine, type OrderMachineState } from '../../rules/card-order/order-machine.js';
import { onNotification, onPolled, onSubmitted } from '../../rules/card-order/reports.js';
import {
  campaignReportDue,
  currentDeliveryAddress,
  onCampaignReported,
  onCampaignSubmission,
  onSubmitFailed,
} from '../../rules/card-order/submit.js';
import { orderView } from '../../rules/card-order/views.js';
import { nextPollAt } from '../../rules/card-order/poll-schedule.js';
import { LATEST_ORDER_BEHAVIOUR, orderBehaviours } from '../../rules/card-order/behaviour.js';
import {
  DAY,
  HOUR,
  MINUTE,
  T0,
  drive,
  fiveDayProduction,
  produceOp,
  productionTimings,
  type Stage,
} from '../helpers/machine-driver.js';

const shipped = fiveDayProduction();
const shippedAt = T0 + 5 * DAY;

function newOrder(): OrderMachineState {
  return newOrderMachine(
    { workflowId: 'wf', issuerId: 'ISSUER0001', cardId: 'card-1', issuerRequestId: 'req-1' },
    productionTimings(),
    true,
    T0,
  );
}

function updateOrderOp(operationId: string, status: 'SUCCESSFUL' | 'FAILED', errorCode?: string) {
  return {
    operationId,
    operation: 'UPDATE_ORDER',
    status,
    startTime: new Date(T0).toISOString(),
    cardId: 'card-1',
    ...(errorCode && { errorCode }),
    details: { status: 'CARD_PROD_ONGOING' },
  } as const;
}

describe('order machine under real D1 timings (production defaults, simulated clock)', () => {
  it('ships a 5-day production with notifications arriving in at most 5 D1 status calls', () => {
    const run = drive({ productions: [shipped] });
    assert.equal(run.state.status, 'SHIPPED');
    assert.ok(run.statusCalls <= 5, `${run.statusCalls} status calls`);
    assert.ok(run.estimatedEvents < 100, `${run.estimatedEvents} events`);
  });

  it('ships a 5-day production with every notification lost in at most 40 polls, within the poll cap of shipment', () => {
    const run = drive({ productions: [shipped], notify: () => undefined });
    assert.equal(run.state.status, 'SHIPPED');
    assert.ok(run.statusCalls <= 40, `${run.statusCalls} status calls`);
    assert.ok(
      run.endedAt - shippedAt <= productionTimings().pollMaxIntervalMs,
      `ended ${run.endedAt - shippedAt} ms late`,
    );
    assert.ok(run.estimatedEvents < 100, `${run.estimatedEvents} events`);
  });

  it('polls once per cap (not on back-off) while D1 estimated shipment date lies ahead', () => {
    const run = drive({ productions: [shipped], notify: () => undefined });
    const dueKnownAt = T0 + 4 * HOUR; // the first poll after DATA_PREPARED, which carries dueDate
    const gaps = run.pollTimes
      .filter((at) => at >= dueKnownAt)
      .map((at, i, all) => (i === 0 ? undefined : at - (all[i - 1] ?? at)))
      .filter((gap) => gap !== undefined);
    assert.ok(gaps.length >= 3, `${gaps.length} gaps`);
    for (const gap of gaps) assert.equal(gap, productionTimings().pollMaxIntervalMs);
  });

  it('aims a poll at the end of D1 estimated shipment date when the order is still quiet then', () => {
    const late = shipped.map((stage) => (stage.stage === 'CARD_SHIPPED' ? { ...stage, at: 7 * DAY } : stage));
    const dueDate = shipped[1]?.dueDate ?? '';
    const run = drive({ productions: [late], notify: (stage) => (stage.stage === 'CARD_SHIPPED' ? [0] : undefined) });
    assert.ok(run.pollTimes.includes(Date.parse(dueDate) + DAY), run.pollTimes.map((t) => (t - T0) / HOUR).join(','));
  });

  it('backs off exponentially from the notification timeout to the cap', () => {
    const timings = { notificationTimeoutMs: 4 * HOUR, pollIntervalMs: 4 * HOUR, pollMaxIntervalMs: 24 * HOUR };
    const gaps = [0, 1, 2, 3, 4, 5, 6].map((quietPolls) => {
      const lastPollAt = quietPolls === 0 ? undefined : T0;
      return nextPollAt({ lastNewsAt: T0, quietPolls, lastPollAt }, timings) - T0;
    });
    assert.deepEqual(
      gaps.map((gap) => gap / HOUR),
      [4, 4, 8, 16, 24, 24, 24],
    );
  });

  it('survives a D1 status outage of two days with every notification lost: polls fail, the order lives', () => {
    const outage = (now: number) => now < T0 + 2 * DAY;
    const run = drive({ productions: [shipped], notify: () => undefined, pollFails: outage });
    assert.equal(run.state.status, 'SHIPPED');
    assert.ok(run.state.poll.failures > 0, 'some polls failed');
    assert.ok(!run.statuses.includes('FAILED') && !run.statuses.includes('COMPENSATING'));
  });
});

describe('order machine: cancel requests', () => {
  it('cancels during the OUT_OF_STOCK re-order delay without ordering the card again', () => {
    const outOfStock: Stage[] = [
      { at: MINUTE, status: 'PENDING', stage: 'CARD_PROD_REQUESTED' },
      { at: 2 * HOUR, status: 'FAILED', stage: 'CARD_PROD_EXCEPTION', errorCode: 'OUT_OF_STOCK' },
    ];
    const run = drive({ productions: [outOfStock, shipped], cancelAt: [T0 + 2 * HOUR + 10 * MINUTE] });
    assert.ok(run.statuses.includes('AWAITING_STOCK'));
    assert.equal(run.state.status, 'CANCELLED');
    assert.deepEqual(run.submissions, ['req-1']);
    assert.deepEqual(run.cancelResults, ['CANCELLED']);
  });

  it('cancels before anything was sent: nothing goes to D1', () => {
    const s = newOrder();
    const attempt = onCancelRequested(s, false, T0);
    assert.deepEqual(decide(s, T0), { kind: 'finish' });
    assert.equal(s.status, 'CANCELLED');
    assert.deepEqual(s.cancel.results[attempt - 1], { outcome: 'CANCELLED' });
  });

  it('holds a cancel that arrives during the submit, sends it after, and waits for D1 verdict', () => {
    const s = newOrder();
    assert.equal(decide(s, T0).kind, 'submit');
    const attempt = onCancelRequested(s, false, T0 + 1);
    assert.equal(s.status, 'SUBMITTING');
    onSubmitted(s, 'op-1', T0 + 2);
    assert.equal(s.status, 'CANCELLING');
    assert.deepEqual(decide(s, T0 + 2), { kind: 'requestCancel' });
    onCancelSent(s, 'chg-1', T0 + 3);
    assert.equal(s.status, 'CANCELLING', 'not cancelled before D1 says so');
    assert.equal(s.cancel.results[attempt - 1], undefined);
    onNotification(s, [updateOrderOp('chg-1', 'SUCCESSFUL')], T0 + 4);
    assert.equal(s.status, 'CANCELLED');
    assert.deepEqual(s.cancel.results[attempt - 1], { outcome: 'CANCELLED' });
  });

  it('keeps D1 verdict that arrives before the cancel request returned', () => {
    const s = newOrder();
    decide(s, T0);
    onSubmitted(s, 'op-1', T0 + 1);
    const attempt = onCancelRequested(s, false, T0 + 2);
    decide(s, T0 + 2);
    onNotification(s, [updateOrderOp('chg-1', 'SUCCESSFUL')], T0 + 3);
    onCancelSent(s, 'chg-1', T0 + 4);
    assert.equal(s.status, 'CANCELLED');
    assert.deepEqual(s.cancel.results[attempt - 1], { outcome: 'CANCELLED' });
  });

  it('answers a cancel sent before the submit of an order that then fails validation', () => {
    const s = newOrder();
    decide(s, T0);
    const attempt = onCancelRequested(s, false, T0 + 1);
    onSubmitFailed(s, { code: 'ERR_ORDER_INVALID' }, T0 + 2);
    assert.deepEqual(s.cancel.results[attempt - 1], { outcome: 'REJECTED', reason: 'ORDER_ALREADY_FAILED' });
    assert.deepEqual(decide(s, T0 + 2), { kind: 'finish' }, 'an invalid order needs no compensation');
    assert.equal(s.status, 'FAILED');
  });

  it('serves two concurrent cancels with one request to D1, then lets a later cancel try again', () => {
    const s = newOrder();
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    onNotification(s, [produceOp('op-1', { at: 0, status: 'PENDING', stage: 'CARD_PROD_ONGOING' })], T0 + 1);
    const first = onCancelRequested(s, false, T0 + 2);
    const second = onCancelRequested(s, false, T0 + 3);
    assert.equal(first, second);
    assert.deepEqual(decide(s, T0 + 3), { kind: 'requestCancel' });
    onCancelSent(s, 'chg-1', T0 + 4);
    assert.notEqual(decide(s, T0 + 5).kind, 'requestCancel', 'one request to D1');
    onNotification(s, [updateOrderOp('chg-1', 'FAILED', 'ORDER_NOT_CANCELABLE')], T0 + 6);
    assert.deepEqual(s.cancel.results[first - 1], { outcome: 'REJECTED', reason: 'ORDER_NOT_CANCELABLE' });
    assert.equal(s.status, 'IN_PRODUCTION', 'back to where production stands');
    const third = onCancelRequested(s, false, T0 + 7);
    assert.equal(third, first + 1);
    assert.deepEqual(decide(s, T0 + 7), { kind: 'requestCancel' });
  });

  it('refuses a cancel of an ended order at once, naming why', () => {
    const run = drive({ productions: [shipped] });
    assert.equal(cancelRefusal(run.state), 'ORDER_ALREADY_SHIPPED');
    const failed = drive({
      productions: [[{ at: HOUR, status: 'FAILED', stage: 'DATA_EXCEPTION', errorCode: 'INVALID_CARD_DATA' }]],
    });
    assert.equal(cancelRefusal(failed.state), 'ORDER_ALREADY_FAILED');
    assert.equal(cancelRefusal(newOrder()), undefined);
  });

  it('answers a cancel that loses the race with shipment: ORDER_ALREADY_SHIPPED', () => {
    const run = drive({
      productions: [shipped],
      cancelAt: [shippedAt - MINUTE],
      cancelVerdict: () => ({ accepted: false, notify: false }),
    });
    assert.equal(run.state.status, 'SHIPPED');
    assert.deepEqual(run.cancelResults, ['REJECTED']);
    assert.deepEqual(run.state.cancel.results[0], { outcome: 'REJECTED', reason: 'ORDER_ALREADY_SHIPPED' });
  });

  it('learns D1 verdict on a cancel by polling when its notification is lost', () => {
    const run = drive({
      productions: [shipped],
      cancelAt: [T0 + 40 * HOUR],
      cancelVerdict: () => ({ accepted: true, notify: false }),
    });
    assert.equal(run.state.status, 'CANCELLED');
    assert.deepEqual(run.cancelResults, ['CANCELLED']);
    // Not at D1's expected date days later: at the usual back-off after the request.
    assert.ok(run.endedAt < T0 + 40 * HOUR + productionTimings().notificationTimeoutMs + HOUR);
  });
});

describe('order machine: accelerate and redirect (Pull & change)', () => {
  const address = { line1: '9 Other St', city: 'Boston', zipCode: '02101', countryCode: 'US' };
  function inProduction(): OrderMachineState {
    const s = newOrder();
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    onNotification(s, [produceOp('op-1', { at: 0, status: 'PENDING', stage: 'CARD_PROD_ONGOING' })], T0 + 1);
    return s;
  }

  it('refuses at once what cannot succeed, naming why', () => {
    const s = newOrder();
    assert.equal(changeRefusal(s, { type: 'ACCELERATE' }), 'ORDER_NOT_AT_D1');
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    assert.equal(changeRefusal(s, { type: 'ACCELERATE' }), undefined);
    assert.equal(changeRefusal(s, { type: 'REDIRECT' }), 'CHANGE_INVALID', 'a redirect needs an address');
    assert.equal(changeRefusal(s, { type: 'ACCELERATE', newDeliveryAddress: address }), 'CHANGE_INVALID');
    assert.equal(changeRefusal(s, { type: 'CANCEL' }), 'CHANGE_INVALID', 'cancel has its own update');
    onCancelRequested(s, false, T0 + 1);
    assert.equal(changeRefusal(s, { type: 'ACCELERATE' }), 'ORDER_CANCELLING');
    assert.equal(
      changeRefusal(drive({ productions: [shipped] }).state, { type: 'ACCELERATE' }),
      'ORDER_ALREADY_SHIPPED',
    );
  });

  it('answers with the center verdict, and changes the delivery address only on acceptance', () => {
    const s = inProduction();
    const refused = onChangeRequested(s, { type: 'REDIRECT', newDeliveryAddress: address }, T0 + 2);
    assert.deepEqual(decide(s, T0 + 2), {
      kind: 'requestChange',
      request: { type: 'REDIRECT', newDeliveryAddress: address },
    });
    onChangeSent(s, 'chg-1', T0 + 3);
    onNotification(s, [updateOrderOp('chg-1', 'FAILED', 'ADDRESS_LOCKED')], T0 + 4);
    assert.deepEqual(s.change?.results[refused], { outcome: 'REJECTED', reason: 'ADDRESS_LOCKED' });
    assert.equal(s.change?.deliveryAddress, undefined);

    const accepted = onChangeRequested(s, { type: 'ACCELERATE_AND_REDIRECT', newDeliveryAddress: address }, T0 + 5);
    decide(s, T0 + 5);
    onChangeSent(s, 'chg-2', T0 + 6);
    onNotification(s, [updateOrderOp('chg-2', 'SUCCESSFUL')], T0 + 7);
    assert.deepEqual(s.change?.results[accepted], { outcome: 'ACCEPTED' });
    assert.deepEqual(s.change?.deliveryAddress, address);
    assert.equal(s.status, 'IN_PRODUCTION', 'a change does not move the order');
    assert.deepEqual(
      s.change?.log.map((c) => [c.type, c.outcome, c.reason]),
      [
        ['REDIRECT', 'REJECTED', 'ADDRESS_LOCKED'],
        ['ACCELERATE_AND_REDIRECT', 'ACCEPTED', undefined],
      ],
    );
  });

  it('serializes concurrent changes: one request to D1 at a time, in the order they came', () => {
    const s = inProduction();
    const first = onChangeRequested(s, { type: 'ACCELERATE' }, T0 + 2);
    const second = onChangeRequested(s, { type: 'REDIRECT', newDeliveryAddress: address }, T0 + 2);
    assert.deepEqual(decide(s, T0 + 2), { kind: 'requestChange', request: { type: 'ACCELERATE' } });
    onChangeSent(s, 'chg-1', T0 + 3);
    assert.notEqual(decide(s, T0 + 3).kind, 'requestChange', 'the second waits for the first verdict');
    onNotification(s, [updateOrderOp('chg-1', 'SUCCESSFUL')], T0 + 4);
    assert.deepEqual(s.change?.results[first], { outcome: 'ACCEPTED' });
    assert.equal(decide(s, T0 + 4).kind, 'requestChange');
    onChangeFailed(s, { code: 'ERR_D1_BAD_REQUEST', d1ErrorCode: 'INVALID_ADDRESS' }, T0 + 5);
    assert.deepEqual(s.change?.results[second], { outcome: 'REJECTED', reason: 'INVALID_ADDRESS' });
    assert.equal(s.change?.phase, 'IDLE');
  });

  it('answers a change racing shipment: its verdict if it came with the shipment, else ORDER_ALREADY_SHIPPED', () => {
    const s = inProduction();
    const lost = onChangeRequested(s, { type: 'ACCELERATE' }, T0 + 2);
    decide(s, T0 + 2);
    onChangeSent(s, 'chg-1', T0 + 3);
    const queued = onChangeRequested(s, { type: 'REDIRECT', newDeliveryAddress: address }, T0 + 4);
    onNotification(
      s,
      [produceOp('op-1', { at: 0, status: 'SUCCESSFUL', stage: 'CARD_SHIPPED' }), updateOrderOp('chg-1', 'SUCCESSFUL')],
      T0 + 5,
    );
    assert.equal(s.status, 'SHIPPED');
    assert.deepEqual(s.change?.results[lost], { outcome: 'ACCEPTED' });
    assert.deepEqual(s.change?.results[queued], { outcome: 'REJECTED', reason: 'ORDER_ALREADY_SHIPPED' });
  });

  it('learns the verdict by polling, sooner than the production back-off, when its notification is lost', () => {
    const s = inProduction();
    const id = onChangeRequested(s, { type: 'ACCELERATE' }, T0 + HOUR);
    decide(s, T0 + HOUR);
    onChangeSent(s, 'chg-1', T0 + HOUR);
    const { changeVerdictTimeoutMs } = productionTimings();
    const step = decide(s, T0 + HOUR + changeVerdictTimeoutMs);
    assert.deepEqual(step, { kind: 'poll', operationId: 'op-1', changeIds: ['chg-1'] });
    onPolled(s, [updateOrderOp('chg-1', 'SUCCESSFUL')], T0 + HOUR + changeVerdictTimeoutMs);
    assert.deepEqual(s.change?.results[id], { outcome: 'ACCEPTED' });
  });
});

describe('order machine: after shipment (delivery window, returns, re-ships)', () => {
  const address = { line1: '9 Other St', city: 'Boston', zipCode: '02101', countryCode: 'US' };
  const { deliveryWindowMs = 0, reshipWaitMs = 0 } = productionTimings();
  const shippedOp = produceOp('op-1', { at: 0, status: 'SUCCESSFUL', stage: 'CARD_SHIPPED' });
  function carrierUpdate(operationId: string, shipmentStatus: string) {
    return { ...shippedOp, operationId, details: { ...shippedOp.details, shipment: { status: shipmentStatus } } };
  }
  function returnedOp(operationId: string) {
    return {
      ...shippedOp,
      operationId,
      details: { status: 'CARD_RETURNED', shipment: { status: 'RETURNED_TO_SENDER' } },
    };
  }
  /** An order that listens after shipment, shipped at `shippedAt`. */
  function shippedOrder(action: 'END' | 'RESHIP' = 'END'): OrderMachineState {
    const s = newOrder();
    s.listensAfterShipment = true;
    s.returnPolicy = { action, maxReships: 1 };
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    onNotification(s, [shippedOp], shippedAt);
    return s;
  }
  const eventTypes = (s: OrderMachineState) => s.events.pending.map((e) => e.type);

  it('has production defaults of 30 days for the delivery window and the re-ship wait', () => {
    assert.equal(deliveryWindowMs, 30 * DAY);
    assert.equal(reshipWaitMs, 30 * DAY);
  });

  it('listens out its delivery window on one timer, with no polls, through carrier updates, then completes', () => {
    const s = shippedOrder();
    const windowEnd = shippedAt + deliveryWindowMs;
    assert.equal(s.status, 'SHIPPED');
    assert.equal(decide(s, shippedAt).kind, 'wait', 'the order stays open');
    assert.deepEqual(decide(s, shippedAt), { kind: 'wait', until: windowEnd });
    onNotification(s, [carrierUpdate('op-1', 'IN_TRANSIT')], shippedAt + DAY);
    onNotification(s, [carrierUpdate('op-1', 'IN_TRANSIT')], shippedAt + DAY + 1);
    onNotification(s, [carrierUpdate('op-1', 'DELIVERED')], shippedAt + 2 * DAY);
    assert.equal(s.production.shipment?.status, 'DELIVERED');
    assert.equal(s.production.shipment?.trackingNumber, '1Z999', 'updates merge into the shipment');
    // No poll and no new wake-up time at any point of the window: the one timer stays.
    for (let at = shippedAt; at < windowEnd; at += 6 * HOUR) {
      assert.deepEqual(decide(s, at), { kind: 'wait', until: windowEnd });
    }
    assert.equal(orderView(s).nextPollAt, undefined);
    assert.deepEqual(eventTypes(s), ['submitted', 'shipped', 'shipment-updated', 'shipment-updated']);
    assert.deepEqual(decide(s, windowEnd), { kind: 'finish' });
    assert.equal(s.end?.status, 'SHIPPED');
    assert.equal(eventTypes(s).at(-1), 'completed', 'the issuer hears the order closed');
  });

  it('ends at shipment an order whose workflow cancel lost the race with shipment', () => {
    const s = newOrder();
    s.listensAfterShipment = true;
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    onCancelRequested(s, true, T0 + HOUR);
    onNotification(s, [shippedOp], shippedAt);
    assert.deepEqual(decide(s, shippedAt), { kind: 'finish' });
    assert.equal(s.end?.status, 'SHIPPED');
    assert.deepEqual(s.cancel.results, [{ outcome: 'REJECTED', reason: 'ORDER_ALREADY_SHIPPED' }]);
  });

  it('refuses cancels and changes after shipment; a workflow cancel stops the listening', () => {
    const s = shippedOrder();
    assert.equal(cancelRefusal(s), 'ORDER_ALREADY_SHIPPED');
    assert.equal(changeRefusal(s, { type: 'ACCELERATE' }), 'ORDER_ALREADY_SHIPPED');
    assert.equal(reshipRefusal(s, { newDeliveryAddress: address }), 'ORDER_NOT_RETURNED');
    const attempt = onCancelRequested(s, true, shippedAt + DAY);
    assert.deepEqual(s.cancel.results[attempt - 1], { outcome: 'REJECTED', reason: 'ORDER_ALREADY_SHIPPED' });
    assert.deepEqual(decide(s, shippedAt + DAY), { kind: 'finish' });
    assert.equal(s.end?.status, 'SHIPPED');
  });

  it('ends RETURNED when the card comes back and its program does not re-ship', () => {
    const s = shippedOrder('END');
    onNotification(s, [returnedOp('op-1')], shippedAt + 4 * DAY);
    assert.equal(s.status, 'RETURNED');
    assert.deepEqual(decide(s, shippedAt + 4 * DAY), { kind: 'finish' });
    assert.equal(s.end?.status, 'RETURNED');
    assert.deepEqual(eventTypes(s), ['submitted', 'shipped', 'returned']);
    assert.equal(reshipRefusal(s, { newDeliveryAddress: address }), 'ORDER_ALREADY_RETURNED');
  });

  it('re-ships a returned card to the corrected address under a new id, then listens again', () => {
    const s = shippedOrder('RESHIP');
    assert.equal(reshipRefusal(s, { newDeliveryAddress: address }), 'ORDER_NOT_RETURNED');
    const returnedAt = shippedAt + 4 * DAY;
    onNotification(s, [returnedOp('op-1')], returnedAt);
    assert.equal(s.status, 'RETURNED');
    assert.deepEqual(decide(s, returnedAt), { kind: 'wait', until: returnedAt + reshipWaitMs });
    assert.equal(reshipRefusal(s, {}), 'RESHIP_INVALID');
    assert.equal(reshipRefusal(s, { newDeliveryAddress: address }), undefined);

    const id = onReshipRequested(s, address, returnedAt + DAY);
    assert.equal(reshipRefusal(s, { newDeliveryAddress: address }), 'RESHIP_IN_PROGRESS');
    assert.deepEqual(decide(s, returnedAt + DAY), { kind: 'submit', issuerRequestId: 'req-1--r1' });
    assert.deepEqual(currentDeliveryAddress(s), address, 'the re-order goes to the corrected address');
    assert.equal(reshipResult(s, id), undefined, 'answered once D1 took the new order');
    onSubmitted(s, 'op-2', returnedAt + DAY);
    assert.deepEqual(reshipResult(s, id), { outcome: 'RESHIPPED', issuerRequestId: 'req-1--r1' });
    assert.equal(s.status, 'SUBMITTED');
    // Reports of the returned card's operation no longer count.
    onNotification(s, [carrierUpdate('op-1', 'DESTROYED')], returnedAt + DAY + 1);
    assert.equal(s.status, 'SUBMITTED');

    const reshippedAt = returnedAt + 3 * DAY;
    onNotification(s, [{ ...shippedOp, operationId: 'op-2' }], reshippedAt);
    assert.equal(s.status, 'SHIPPED');
    assert.deepEqual(decide(s, reshippedAt), { kind: 'wait', until: reshippedAt + deliveryWindowMs });
    // Back again, and the program's one re-ship is used: the order ends RETURNED.
    onNotification(s, [returnedOp('op-2')], reshippedAt + DAY);
    assert.equal(decide(s, reshippedAt + DAY).kind, 'finish');
    assert.equal(s.end?.status, 'RETURNED');
    assert.deepEqual(
      orderView(s).delivery?.reships.map((r) => [r.outcome, r.issuerRequestId]),
      [['RESHIPPED', 'req-1--r1']],
    );
    assert.equal(orderView(s).delivery?.returns, 2);
  });

  it('ends RETURNED when no corrected address comes within the re-ship wait', () => {
    const s = shippedOrder('RESHIP');
    const returnedAt = shippedAt + 4 * DAY;
    onNotification(s, [returnedOp('op-1')], returnedAt);
    assert.equal(decide(s, returnedAt + reshipWaitMs - 1).kind, 'wait');
    assert.deepEqual(decide(s, returnedAt + reshipWaitMs), { kind: 'finish' });
    assert.equal(s.end?.status, 'RETURNED');
  });

  it('answers a re-ship D1 refuses with its reason and keeps the card returned for another address', () => {
    const s = shippedOrder('RESHIP');
    const returnedAt = shippedAt + 20 * DAY;
    onNotification(s, [returnedOp('op-1')], returnedAt);
    const id = onReshipRequested(s, address, returnedAt);
    const reshipStep = decide(s, returnedAt);
    assert.equal(reshipStep.kind, 'submit', 'past the first production deadline, the re-ship still goes out');
    onSubmitFailed(s, { code: 'ERR_D1_BAD_REQUEST', d1ErrorCode: 'INVALID_ADDRESS' }, returnedAt + 1);
    assert.deepEqual(reshipResult(s, id), { outcome: 'REJECTED', reason: 'INVALID_ADDRESS' });
    assert.equal(s.status, 'RETURNED');
    assert.deepEqual(decide(s, returnedAt + 1), { kind: 'wait', until: returnedAt + reshipWaitMs });
    assert.equal(reshipRefusal(s, { newDeliveryAddress: address }), undefined, 'another address may be tried');
    onReshipRequested(s, address, returnedAt + 2);
    assert.deepEqual(decide(s, returnedAt + 2), { kind: 'submit', issuerRequestId: 'req-1--r2' });
  });

  it('fails (and compensates) an order whose re-ship submit may have reached D1', () => {
    const s = shippedOrder('RESHIP');
    onNotification(s, [returnedOp('op-1')], shippedAt + DAY);
    const id = onReshipRequested(s, address, shippedAt + DAY);
    decide(s, shippedAt + DAY);
    onSubmitFailed(s, { code: 'ERR_D1_TIMEOUT' }, shippedAt + 2 * DAY);
    assert.deepEqual(reshipResult(s, id), { outcome: 'REJECTED', reason: 'ERR_D1_TIMEOUT' });
    assert.deepEqual(decide(s, shippedAt + 2 * DAY), { kind: 'compensate', issuerRequestIds: ['req-1', 'req-1--r1'] });
  });

  it('sends a re-order of a re-shipped card to the newest address, a later redirect included', () => {
    const s = shippedOrder('RESHIP');
    onNotification(s, [returnedOp('op-1')], shippedAt + DAY);
    onReshipRequested(s, address, shippedAt + DAY);
    decide(s, shippedAt + DAY);
    onSubmitted(s, 'op-2', shippedAt + DAY);
    const elsewhere = { ...address, line1: '1 Harbor Way' };
    onChangeRequested(s, { type: 'REDIRECT', newDeliveryAddress: elsewhere }, shippedAt + DAY + 1);
    decide(s, shippedAt + DAY + 1);
    onChangeSent(s, 'chg-1', shippedAt + DAY + 2);
    onNotification(s, [updateOrderOp('chg-1', 'SUCCESSFUL')], shippedAt + DAY + 3);
    assert.deepEqual(currentDeliveryAddress(s), elsewhere);
  });

  it('keeps orders from before the delivery window ending at shipment, a return report included', () => {
    const s = newOrder();
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    onNotification(s, [returnedOp('op-1')], shippedAt);
    assert.equal(s.end?.status, 'SHIPPED');
    assert.deepEqual(decide(s, shippedAt), { kind: 'finish' });
  });
});

describe('order machine: cards of a campaign', () => {
  function campaignCard(): OrderMachineState {
    const s = newOrder();
    s.campaign = { campaignId: 'renewals-2026-12', submitBy: T0 + HOUR };
    return s;
  }

  it('waits for its campaign to submit it in a batch, and takes the operation D1 gave, once', () => {
    const s = campaignCard();
    assert.deepEqual(decide(s, T0), { kind: 'wait', until: T0 + HOUR });
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'ACCEPTED', operationId: 'op-1' }, T0 + 1);
    assert.equal(s.status, 'SUBMITTED');
    assert.equal(s.production.operationId, 'op-1');
    // A retried page says it again: nothing changes.
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'ACCEPTED', operationId: 'op-1' }, T0 + 2);
    assert.deepEqual(s.submission.requestIds, ['req-1']);
    assert.equal(decide(s, T0 + 2).kind, 'wait');
  });

  it('fails a card D1 refused in the batch with D1 reason, with nothing to compensate', () => {
    const s = campaignCard();
    decide(s, T0);
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'INVALID_FIELD' }, T0 + 1);
    assert.deepEqual(decide(s, T0 + 1), { kind: 'finish' });
    assert.equal(s.end?.status, 'FAILED');
    assert.equal(s.end?.failure?.d1ErrorCode, 'INVALID_FIELD');
    assert.equal(s.end?.compensate, false);
  });

  it('cancels a card whose batch may or may not have reached D1 by submitting it first, then cancelling', () => {
    const s = campaignCard();
    onCancelRequested(s, false, T0 + 1);
    assert.notEqual(s.end?.status, 'CANCELLED', 'not without asking D1: the batch may have made the card');
    assert.deepEqual(decide(s, T0 + 1), { kind: 'submit', issuerRequestId: 'req-1' });
    onSubmitted(s, 'op-1', T0 + 2);
    assert.deepEqual(decide(s, T0 + 2), { kind: 'requestCancel' });
  });

  it('submits on its own when its campaign never says (D1 dedupes by request id), ignoring a late word', () => {
    const s = campaignCard();
    assert.deepEqual(decide(s, T0 + HOUR), { kind: 'submit', issuerRequestId: 'req-1' });
    onSubmitted(s, 'op-1', T0 + HOUR);
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'LATE' }, T0 + HOUR + 1);
    assert.equal(s.status, 'SUBMITTED');
  });
});

describe('order machine: campaign cards that keep records (behaviour campaignRecords)', () => {
  function recordedCard(behaviour = LATEST_ORDER_BEHAVIOUR): OrderMachineState {
    const s = newOrder();
    s.behaviour = behaviour;
    s.campaign = { campaignId: 'renewals-2026-12', submitBy: T0 + HOUR, page: 3, slot: 41 };
    return s;
  }

  it('does not fail a card that is ordering itself when its batch refusal comes late', () => {
    const s = recordedCard();
    assert.deepEqual(decide(s, T0 + HOUR), { kind: 'submit', issuerRequestId: 'req-1' });
    // Its own call is in flight when the page's late word arrives: that call decides.
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'LATE' }, T0 + HOUR + 1);
    assert.equal(s.end, undefined);
    onSubmitted(s, 'op-1', T0 + HOUR + 2);
    assert.equal(s.status, 'SUBMITTED');
    assert.equal(s.production.operationId, 'op-1');
  });

  it('failed such a card at behaviour 2, before the fix (its own call may have made the card)', () => {
    const s = recordedCard(orderBehaviours.weeks);
    decide(s, T0 + HOUR);
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'LATE' }, T0 + HOUR + 1);
    assert.equal(s.end?.status, 'FAILED');
  });

  it('still takes its campaign word before its wait ran out', () => {
    const s = recordedCard();
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'INVALID_FIELD' }, T0 + 1);
    assert.equal(s.end?.status, 'FAILED');
  });

  it('reports to its campaign once, when it ships, with its place and status', () => {
    const s = recordedCard();
    decide(s, T0);
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'ACCEPTED', operationId: 'op-1' }, T0 + 1);
    assert.equal(campaignReportDue(s), undefined, 'in production: still in flight');
    for (const stage of shipped) onNotification(s, [produceOp('op-1', stage)], T0 + stage.at);
    assert.deepEqual(campaignReportDue(s), { page: 3, slot: 41, status: 'SHIPPED' });
    onCampaignReported(s);
    assert.equal(campaignReportDue(s), undefined);
  });

  it('reports a card that ended without shipping (refused in the batch), and none for cards without a place', () => {
    const s = recordedCard();
    onCampaignSubmission(s, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'INVALID_FIELD' }, T0 + 1);
    assert.deepEqual(campaignReportDue(s), { page: 3, slot: 41, status: 'FAILED' });
    const old = recordedCard(orderBehaviours.weeks);
    onCampaignSubmission(old, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'INVALID_FIELD' }, T0 + 1);
    assert.equal(campaignReportDue(old), undefined, 'behaviour 2 sends no report');
    const unplaced = recordedCard();
    unplaced.campaign = { campaignId: 'old-campaign', submitBy: T0 + HOUR };
    onCampaignSubmission(unplaced, { issuerRequestId: 'req-1', outcome: 'REFUSED', errorCode: 'X' }, T0 + 1);
    assert.equal(campaignReportDue(unplaced), undefined, 'a card of a campaign from before records');
  });
});

describe('order machine: reports that race the submit', () => {
  it('keeps D1 reports that arrive before the submit returns, and applies them once it does', () => {
    const s = newOrder();
    decide(s, T0);
    const requested = produceOp('op-1', { at: 0, status: 'PENDING', stage: 'CARD_PROD_REQUESTED' });
    const failed = produceOp('op-1', {
      at: 0,
      status: 'FAILED',
      stage: 'DATA_EXCEPTION',
      errorCode: 'INVALID_CARD_DATA',
    });
    onNotification(
      s,
      [requested, failed, produceOp('op-other', { at: 0, status: 'PENDING', stage: 'CARD_PROD_DONE' })],
      T0 + 1,
    );
    assert.equal(s.status, 'SUBMITTING');
    onSubmitted(s, 'op-1', T0 + 2);
    assert.equal(s.status, 'COMPENSATING', 'the failure counted at once, without waiting for a poll');
    assert.deepEqual(
      s.production.timeline.map((e) => e.stage),
      ['CARD_PROD_REQUESTED', 'DATA_EXCEPTION'],
    );
  });
});

describe('order machine: failures and compensation', () => {
  const templateError: Stage[] = [
    { at: MINUTE, status: 'PENDING', stage: 'CARD_PROD_REQUESTED' },
    { at: HOUR, status: 'FAILED', stage: 'CARD_PROD_EXCEPTION', errorCode: 'TEMPLATE_NOT_FOUND' },
  ];

  it('compensates a production failure and ends with D1 error code', () => {
    const run = drive({ productions: [templateError] });
    assert.deepEqual(run.statuses.slice(-2), ['COMPENSATING', 'COMPENSATED']);
    assert.equal(run.state.end?.failure?.type, 'PRODUCTION_FAILED');
    assert.equal(run.state.end?.failure?.d1ErrorCode, 'TEMPLATE_NOT_FOUND');
  });

  it('ends COMPENSATION_FAILED, not stuck in COMPENSATING, when compensation fails', () => {
    const run = drive({ productions: [templateError], compensationFails: true });
    assert.equal(run.state.status, 'COMPENSATION_FAILED');
    assert.deepEqual(decide(run.state, run.endedAt), { kind: 'finish' });
  });

  it('compensates an order with no outcome by the production deadline', () => {
    const stuck: Stage[] = [{ at: MINUTE, status: 'PENDING', stage: 'CARD_PROD_ONGOING' }];
    const run = drive({ productions: [stuck] });
    assert.equal(run.state.status, 'COMPENSATED');
    assert.equal(run.state.end?.failure?.type, 'PRODUCTION_DEADLINE_EXCEEDED');
    assert.equal(run.endedAt, T0 + productionTimings().productionDeadlineMs);
  });

  it('compensates a submit D1 refused (it may have been accepted before timing out), not an invalid order', () => {
    const refused = drive({ productions: [], submitFails: () => ({ code: 'ERR_D1_UNAVAILABLE' }) });
    assert.deepEqual(refused.statuses.slice(-2), ['COMPENSATING', 'FAILED']);
    assert.equal(refused.state.end?.failure?.type, 'ORDER_REJECTED');
    const invalid = drive({ productions: [], submitFails: () => ({ code: 'ERR_ORDER_INVALID' }) });
    assert.ok(!invalid.statuses.includes('COMPENSATING'));
    assert.equal(invalid.state.end?.failure?.type, 'ORDER_INVALID');
  });
});

describe('order machine: idempotency and issuer events', () => {
  const outOfStock: Stage[] = [{ at: HOUR, status: 'FAILED', stage: 'CARD_PROD_EXCEPTION', errorCode: 'OUT_OF_STOCK' }];

  it('re-orders under ids no original order can take, and each one leads back to its order', () => {
    const timings = { ...productionTimings(), outOfStockMaxReorders: 2 };
    const run = drive({ productions: [outOfStock, outOfStock, shipped] }, timings);
    assert.equal(run.state.status, 'SHIPPED');
    assert.deepEqual(run.submissions, ['req-1', 'req-1--r1', 'req-1--r2']);
    for (const id of run.submissions) assert.equal(originalRequestId(id), 'req-1');
    const order = { issuerRequestId: reorderRequestId('x'.repeat(59), 10) };
    assert.equal(order.issuerRequestId.length, 64);
    const refuse = (issuerRequestId: string) =>
      cardOrderSchema.shape.issuerRequestId.safeParse(issuerRequestId).success;
    assert.equal(refuse('req-1--r1'), false, 'a derived id is not an original id');
    assert.equal(refuse('x'.repeat(60)), false, 'room for the re-order suffix');
    assert.equal(refuse('req-1-r1'), true);
  });

  it('is not thrown by a late report of the out-of-stock D1 order while the re-order is being sent', () => {
    const s = newOrder();
    decide(s, T0);
    onSubmitted(s, 'op-1', T0);
    const failed = produceOp('op-1', { at: 0, status: 'FAILED', stage: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK' });
    onNotification(s, [failed], T0 + HOUR);
    assert.equal(s.status, 'AWAITING_STOCK');
    const reorderAt = T0 + HOUR + productionTimings().outOfStockReorderDelayMs;
    assert.deepEqual(decide(s, reorderAt), { kind: 'submit', issuerRequestId: reorderRequestId('req-1', 1) });
    onNotification(s, [failed, { ...failed, startTime: new Date(T0 + 1).toISOString() }], reorderAt + 1);
    assert.equal(s.status, 'SUBMITTING');
    assert.equal(s.end, undefined);
    onSubmitted(s, 'op-2', reorderAt + 2);
    assert.equal(s.status, 'SUBMITTED');
  });

  it('gives every issuer event its own id, re-orders included', () => {
    const timings = { ...productionTimings(), outOfStockMaxReorders: 1 };
    const run = drive({ productions: [outOfStock, shipped] }, timings);
    const types = run.statuses.slice(1);
    assert.deepEqual(types, ['SUBMITTED', 'AWAITING_STOCK', 'SUBMITTING', 'SUBMITTED', 'IN_PRODUCTION', 'SHIPPED']);
    assert.equal(run.publishedEventIds.length, types.length, 'one event per status change');
    assert.equal(new Set(run.publishedEventIds).size, run.publishedEventIds.length);
  });
});

describe('order machine: properties over random interleavings', () => {
  const stageArb = fc.array(
    fc.oneof(fc.constant(undefined), fc.array(fc.integer({ min: 0, max: 3 * DAY }), { minLength: 1, maxLength: 3 })),
    {
      minLength: shipped.length,
      maxLength: shipped.length,
    },
  );

  it('ships whatever happens to notifications (duplicated, reordered, lost), never regressing', () => {
    fc.assert(
      fc.property(stageArb, (deliveries) => {
        const run = drive({ productions: [shipped], notify: (stage) => deliveries[shipped.indexOf(stage)] });
        assert.equal(run.state.status, 'SHIPPED');
        const order = ['SUBMITTING', 'SUBMITTED', 'IN_PRODUCTION', 'SHIPPED'];
        const ranks = run.statuses.map((status) => order.indexOf(status));
        assert.ok(
          ranks.every((rank, i) => rank >= 0 && (i === 0 || rank > (ranks[i - 1] ?? -1))),
          run.statuses.join('>'),
        );
        const applied = run.state.production.timeline.filter((entry) => !entry.late).map((entry) => entry.stage);
        assert.equal(new Set(applied).size, applied.length, `a stage applied twice: ${applied.join(',')}`);
        assert.ok(run.statusCalls <= 40, `${run.statusCalls} status calls`);
        assert.ok(run.endedAt - shippedAt <= productionTimings().pollMaxIntervalMs + 3 * DAY);
      }),
      { numRuns: 300 },
    );
  });

  it('makes the same decisions when its state is carried through JSON (continue-as-new) at any point', () => {
    fc.assert(
      fc.property(stageArb, fc.integer({ min: 0, max: 40 }), (deliveries, at) => {
        const script = { productions: [shipped], notify: (stage: Stage) => deliveries[shipped.indexOf(stage)] };
        const straight = drive(script);
        const carried = drive(script, productionTimings(), 60 * DAY, { carryAtStep: at });
        const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
        assert.deepEqual(json(carried.state), json(straight.state));
        assert.equal(carried.statusCalls, straight.statusCalls);
      }),
      { numRuns: 100 },
    );
  });
});
