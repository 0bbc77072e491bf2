import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LATEST_ORDER_BEHAVIOUR, orderBehaviours } from '../../rules/card-order/behaviour.js';
import { onCancelFailed, onCancelRequested } from '../../rules/card-order/cancel.js';
import { decide } from '../../rules/card-order/decide.js';
import { newOrderMachine, type OrderMachineState } from '../../rules/card-order/order-machine.js';
import { onNotification, onStatusReport, onSubmitted } from '../../rules/card-order/reports.js';
import { onSubmitFailed } from '../../rules/card-order/submit.js';
import { orderView, searchAttributeValues } from '../../rules/card-order/views.js';
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

const weeks = { behaviour: orderBehaviours.weeks };
const before = { behaviour: 1 };

function newOrder(behaviour: number = LATEST_ORDER_BEHAVIOUR): OrderMachineState {
  const s = newOrderMachine(
    { workflowId: 'wf', issuerId: 'ISSUER0001', cardId: 'card-1', issuerRequestId: 'req-1' },
    productionTimings(),
    true,
    T0,
  );
  s.behaviour = behaviour;
  return s;
}

/** An order D1 took as `op-1`. */
function submittedOrder(behaviour?: number): OrderMachineState {
  const s = newOrder(behaviour);
  assert.equal(decide(s, T0).kind, 'submit');
  onSubmitted(s, 'op-1', T0);
  return s;
}

describe('order machine, behaviour weeks: D1 unreachable for longer than the retry timeout', () => {
  const twoHourOutage = (now: number) => now < T0 + 2 * HOUR + 30 * MINUTE;

  it('waits out a D1 outage of two hours during its submit, then ships one card under its one request id', () => {
    const run = drive(
      { productions: [fiveDayProduction()], d1Down: twoHourOutage },
      productionTimings(),
      60 * DAY,
      weeks,
    );
    assert.equal(run.state.end?.status, 'SHIPPED');
    assert.deepEqual(run.submissions, ['req-1'], 'D1 took one order');
    assert.deepEqual(run.state.submission.requestIds, ['req-1'], 'every try carried the same id');
    assert.ok(run.statuses.includes('D1_UNREACHABLE'));
    assert.ok(!run.statuses.includes('FAILED') && !run.statuses.includes('COMPENSATING'));
    assert.equal(run.state.d1Outage, undefined, 'the outage is over once D1 answered');
  });

  it('tells the issuer once per outage, not once per try', () => {
    const longOutage = (now: number) => now < T0 + 20 * HOUR;
    const run = drive({ productions: [fiveDayProduction()], d1Down: longOutage }, productionTimings(), 60 * DAY, weeks);
    const unreachable = run.statuses.filter((status) => status === 'D1_UNREACHABLE');
    assert.equal(unreachable.length, 1);
    assert.equal(run.state.end?.status, 'SHIPPED');
  });

  it('backs off between tries, doubling from the retry timeout up to a cap of hours', () => {
    const s = newOrder();
    const failure = { code: undefined, transient: true };
    const waits: number[] = [];
    let now = T0;
    for (let i = 0; i < 6; i++) {
      onSubmitFailed(s, failure, now);
      const step = decide(s, now);
      assert.equal(step.kind, 'wait');
      waits.push(((step as { until: number }).until - now) / HOUR);
      now = (step as { until: number }).until;
      assert.equal(decide(s, now).kind, 'submit');
    }
    assert.deepEqual(waits, [1, 2, 4, 6, 6, 6]);
    assert.equal(orderView(s).d1Unreachable?.failures, 6);
    assert.equal(s.status, 'D1_UNREACHABLE');
  });

  it('ends FAILED for the same outage in runs from before (their recorded decisions stand)', () => {
    const run = drive(
      { productions: [fiveDayProduction()], d1Down: twoHourOutage },
      productionTimings(),
      60 * DAY,
      before,
    );
    assert.equal(run.state.end?.status, 'FAILED');
  });

  it('fails only on a permanent answer from D1', () => {
    const s = newOrder();
    onSubmitFailed(s, { code: 'ERR_D1_BAD_REQUEST', d1ErrorCode: 'INVALID_FIELD' }, T0);
    assert.equal(s.end?.status, 'FAILED');
  });

  it('compensates (not fails) an order whose D1 stayed unreachable past the production deadline, trying until D1 answers', () => {
    const timings = { ...productionTimings(), productionDeadlineMs: 3 * DAY };
    const down = (now: number) => now < T0 + 4 * DAY;
    const run = drive({ productions: [fiveDayProduction()], d1Down: down }, timings, 60 * DAY, weeks);
    assert.equal(run.state.end?.status, 'COMPENSATED');
    assert.equal(run.state.end?.failure?.type, 'PRODUCTION_DEADLINE_EXCEEDED');
    assert.ok(run.endedAt >= T0 + 4 * DAY, 'the compensation waited for D1 to answer');
    assert.ok(run.state.compensation.done && run.state.compensation.failedCode === undefined);
  });

  it('learns from a reconciliation report that D1 took the submit it never answered', () => {
    const s = newOrder();
    decide(s, T0);
    onSubmitFailed(s, { code: undefined, transient: true }, T0 + HOUR);
    const taken = {
      ...produceOp('op-9', { at: 0, status: 'PENDING', stage: 'CARD_PROD_ONGOING' }),
      issuerRequestId: 'req-1',
    };
    onStatusReport(s, [taken], T0 + 90 * MINUTE);
    assert.equal(s.submission.needed, false);
    assert.equal(s.production.operationId, 'op-9');
    assert.equal(s.status, 'IN_PRODUCTION');
    assert.equal(s.d1Outage, undefined);
    assert.notEqual(decide(s, T0 + 90 * MINUTE).kind, 'submit');
  });

  it('sends a workflow cancel again after an outage; a cancel update hears D1_UNREACHABLE and may ask again', () => {
    const s = submittedOrder();
    onCancelRequested(s, true, T0 + HOUR);
    assert.equal(decide(s, T0 + HOUR).kind, 'requestCancel');
    onCancelFailed(s, { code: undefined, transient: true }, T0 + 2 * HOUR);
    assert.equal(s.cancel.phase, 'WANTED');
    assert.equal(decide(s, T0 + 2 * HOUR).kind, 'wait');
    assert.equal(decide(s, T0 + 3 * HOUR).kind, 'requestCancel');

    const update = submittedOrder();
    const attempt = onCancelRequested(update, false, T0);
    onCancelFailed(update, { code: undefined, transient: true }, T0 + HOUR);
    assert.deepEqual(update.cancel.results[attempt - 1], { outcome: 'REJECTED', reason: 'D1_UNREACHABLE' });
  });

  it('refuses a request D1 never answered as D1_UNREACHABLE, even when its last refusal carried a code (chaos seed 3)', () => {
    const outage = { code: 'ERR_D1_UNAVAILABLE', d1ErrorCode: 'SERVICE_UNAVAILABLE', transient: true };
    const update = submittedOrder();
    const attempt = onCancelRequested(update, false, T0);
    onCancelFailed(update, outage, T0 + HOUR);
    assert.deepEqual(update.cancel.results[attempt - 1], { outcome: 'REJECTED', reason: 'D1_UNREACHABLE' });
    // Runs from before behaviour 4 answer as they did; D1's final word is D1's code either way.
    const older = submittedOrder(orderBehaviours.campaignRecords);
    const olderAttempt = onCancelRequested(older, false, T0);
    onCancelFailed(older, outage, T0 + HOUR);
    assert.deepEqual(older.cancel.results[olderAttempt - 1], { outcome: 'REJECTED', reason: 'SERVICE_UNAVAILABLE' });
    const refused = submittedOrder();
    const refusal = onCancelRequested(refused, false, T0);
    onCancelFailed(refused, { code: 'ERR_D1_BAD_REQUEST', d1ErrorCode: 'ORDER_NOT_CANCELABLE', transient: false }, T0);
    assert.deepEqual(refused.cancel.results[refusal - 1], { outcome: 'REJECTED', reason: 'ORDER_NOT_CANCELABLE' });
  });

  it('sends a cancel D1 may have received again under the same request identity, a later cancel under another', () => {
    const s = submittedOrder();
    onCancelRequested(s, true, T0);
    const first = decide(s, T0);
    assert.deepEqual(first, { kind: 'requestCancel', requestId: 'req-1-c1' });
    onCancelFailed(s, { code: undefined, transient: true }, T0 + HOUR);
    assert.deepEqual(decide(s, T0 + 3 * HOUR), first, 'the retry after the outage is the same request');
    const legacy = submittedOrder(1);
    onCancelRequested(legacy, false, T0);
    assert.deepEqual(decide(legacy, T0), { kind: 'requestCancel' }, 'older runs let the activity derive it');
  });

  it('never fails, never orders twice and always ends, whatever outages D1 has (random windows)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10 * DAY }), fc.integer({ min: MINUTE, max: 2 * DAY })), {
          maxLength: 4,
        }),
        (windows) => {
          const down = (now: number) => windows.some(([from, length]) => now >= T0 + from && now < T0 + from + length);
          const run = drive({ productions: [fiveDayProduction()], d1Down: down }, productionTimings(), 90 * DAY, weeks);
          assert.ok(run.state.end?.status === 'SHIPPED' || run.state.end?.status === 'COMPENSATED', run.state.status);
          assert.ok(run.submissions.length <= 1);
          assert.deepEqual(run.state.submission.requestIds, ['req-1']);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('order machine, behaviour weeks: compensation waits for D1 verdict', () => {
  const deadline = 3 * DAY;
  const timings = () => ({ ...productionTimings(), productionDeadlineMs: deadline });
  /** A card still in production at the deadline, shipped two days after it. */
  const late: Stage[] = [
    { at: MINUTE, status: 'PENDING', stage: 'CARD_PROD_ONGOING' },
    { at: deadline + 2 * DAY, status: 'SUCCESSFUL', stage: 'CARD_SHIPPED' },
  ];

  it('says COMPENSATED only once D1 confirmed the cancel', () => {
    const run = drive(
      { productions: [late], compensationCancel: { accepted: true, notify: true } },
      timings(),
      60 * DAY,
      weeks,
    );
    assert.equal(run.state.end?.status, 'COMPENSATED');
    assert.ok(run.state.compensation.log.includes('cancelD1Order: cancelled (confirmed by D1)'));
    assert.ok(run.endedAt >= T0 + deadline + 10 * MINUTE, 'after the verdict came');
  });

  it('finds the verdict by polling when its notification is lost', () => {
    const run = drive(
      { productions: [late], compensationCancel: { accepted: true, notify: false } },
      timings(),
      60 * DAY,
      weeks,
    );
    assert.equal(run.state.end?.status, 'COMPENSATED');
    assert.ok(
      run.pollTimes.some((at) => at > T0 + deadline),
      'a poll after the cancel found it',
    );
  });

  it('tracks a card D1 would not cancel to the door, telling the issuer the compensation was refused', () => {
    const run = drive(
      { productions: [late], compensationCancel: { accepted: false, notify: true } },
      timings(),
      60 * DAY,
      weeks,
    );
    assert.equal(run.state.end?.status, 'SHIPPED');
    assert.ok(!run.statuses.includes('COMPENSATED'), 'the issuer never heard the card was undone');
    assert.deepEqual(run.state.compensation.refused, { errorCode: 'ORDER_NOT_CANCELABLE' });
    assert.ok(run.state.compensation.log.some((line) => line.includes('refused by D1')));
  });

  it('said COMPENSATED on the cancel request alone in runs from before', () => {
    const run = drive(
      { productions: [late], compensationCancel: { accepted: false, notify: true } },
      timings(),
      60 * DAY,
      before,
    );
    assert.equal(run.state.end?.status, 'COMPENSATED');
  });
});

describe('order machine, behaviour weeks: text from D1', () => {
  const op = (stage: string, status: 'PENDING' | 'SUCCESSFUL' = 'PENDING', shipment?: string) => {
    const base = produceOp('op-1', { at: 0, status, stage });
    return shipment ? { ...base, details: { ...base.details, shipment: { carrier: 'ups', status: shipment } } } : base;
  };
  const inProduction = submittedOrder;

  it('indexes a stage D1 added later as UNKNOWN, keeping the raw value in its encrypted state', () => {
    const s = inProduction();
    onNotification(s, [op('CARD_PROD_ONGOING')], T0);
    onNotification(s, [op('CARD_LASER_ENGRAVING')], T0 + HOUR);
    assert.equal(searchAttributeValues(s).stage, 'UNKNOWN');
    assert.equal(s.production.stage, 'CARD_LASER_ENGRAVING');
    const legacy = inProduction(1);
    onNotification(legacy, [op('CARD_LASER_ENGRAVING')], T0);
    assert.equal(searchAttributeValues(legacy).stage, 'CARD_LASER_ENGRAVING', 'runs from before index as they did');
  });

  it('never moves back past a stage D1 added later', () => {
    const s = inProduction();
    onNotification(s, [op('CARD_PROD_DONE')], T0);
    onNotification(s, [op('CARD_LASER_ENGRAVING')], T0 + HOUR);
    onNotification(s, [op('CARD_PROD_REQUESTED')], T0 + 2 * HOUR);
    assert.equal(s.production.stage, 'CARD_LASER_ENGRAVING');
    assert.ok(s.production.timeline.at(-1)?.late);
  });

  it('keeps carrier updates monotonic: a late IN_TRANSIT after DELIVERED is not applied or published', () => {
    const s = inProduction();
    s.listensAfterShipment = true;
    onNotification(s, [op('CARD_SHIPPED', 'SUCCESSFUL', 'IN_TRANSIT')], T0);
    onNotification(s, [op('CARD_SHIPPED', 'SUCCESSFUL', 'DELIVERED')], T0 + DAY);
    const pending = s.events.pending.length;
    onNotification(s, [op('CARD_SHIPPED', 'SUCCESSFUL', 'IN_TRANSIT')], T0 + 2 * DAY);
    assert.equal(s.production.shipment?.status, 'DELIVERED');
    assert.equal(s.events.pending.length, pending, 'no shipment-updated event for the older report');
  });
});
