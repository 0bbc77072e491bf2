import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { OrderFailedError } from '../../orders/errors.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { cancelOrderUpdate, type CardOrderInput, type CardOrderResult } from '../../rules/contracts/card-order.js';
import { eventually, startContinueAsNewServer } from '../helpers/temporal.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';

const shortTimings = {
  ORDER_NOTIFICATION_TIMEOUT: '30s',
  ORDER_POLL_INTERVAL: '200ms',
  ORDER_POLL_MAX_INTERVAL: '1s',
  ORDER_CHANGE_VERDICT_TIMEOUT: '300ms',
  ORDER_OUT_OF_STOCK_REORDER_DELAY: '1m',
  D1_REQUEST_TIMEOUT: '3s',
};

function handleOf(stack: SagaStack, issuerRequestId: string) {
  return stack.client.temporal.workflow.getHandle<(input: CardOrderInput) => Promise<CardOrderResult>>(
    cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId),
  );
}

async function historyEvents(stack: SagaStack, issuerRequestId: string) {
  return (await handleOf(stack, issuerRequestId).fetchHistory()).events ?? [];
}

/** Resolves once the order's submit to D1 is under way. */
async function submitInFlight(handle: ReturnType<typeof handleOf>) {
  await eventually(
    async () => {
      const { raw } = await handle.describe();
      return raw.pendingActivities?.some((a) => a.activityType?.name === 'submitOrder') ? true : undefined;
    },
    { what: 'the submit under way' },
  );
}

async function statusOf(stack: SagaStack, issuerRequestId: string, status: string) {
  return eventually(async () => ((await stack.client.getOrder(issuerRequestId)).status === status ? true : undefined), {
    timeoutMs: 20_000,
    what: `status ${status}`,
  });
}

describe('card order saga: cancel requests and compensation (real dev server and simulator)', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({ serviceEnv: shortTimings, simulatorEnv: { D1_SIM_STEP_DELAY: '400ms' } });
  });
  after(async () => {
    await stack?.close();
  });

  it('cancels during the OUT_OF_STOCK re-order delay: CANCELLED, and the card is not ordered again', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({
        outcomes: [{ match: { cardId: order.cardId }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK', times: 1 }],
      });
      await stack.client.orderCard(order);
      await statusOf(stack, order.issuerRequestId, 'AWAITING_STOCK');
      assert.deepEqual(await handleOf(stack, order.issuerRequestId).executeUpdate(cancelOrderUpdate), {
        outcome: 'CANCELLED',
      });
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'CANCELLED');
      assert.equal((await stack.d1.orders()).filter((o) => o.cardId === order.cardId).length, 1);
    }));

  it('on a workflow cancel during the submit, lets the submit land, cancels at D1 and waits for its verdict', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({ latencyMs: 1_500 });
      try {
        await stack.client.orderCard(order);
        const handle = handleOf(stack, order.issuerRequestId);
        await submitInFlight(handle);
        await handle.cancel();
      } finally {
        await stack.d1.faults({ latencyMs: 0 });
      }
      await assert.rejects(handleOf(stack, order.issuerRequestId).result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
        return true;
      });
      const [atD1] = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
      assert.equal(atD1?.detailsStatus, 'CARD_PROD_CANCELED', 'the order that landed was cancelled at D1');
      const types = (await historyEvents(stack, order.issuerRequestId)).map(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name,
      );
      assert.ok(types.includes('requestOrderCancel'));
    }));

  it('ends COMPENSATION_FAILED, not stuck COMPENSATING, when D1 refuses the compensation', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ updateOrderRefusal: 'NOT_CANCELABLE' });
      try {
        const order = stack.newOrder({ timings: { productionDeadline: '1s' } });
        await stack.d1.faults({ latencyMs: 0 });
        await stack.client.orderCard(order);
        await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), (err: unknown) => {
          assert.ok(err instanceof OrderFailedError);
          assert.equal(err.failureType, 'COMPENSATION_FAILED');
          return true;
        });
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.equal(state.status, 'COMPENSATION_FAILED');
      } finally {
        await stack.d1.faults({ updateOrderRefusal: null });
      }
    }));

  it('refuses a cancel of an order that already failed in its validator, writing nothing to history', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({
        outcomes: [{ match: { cardId: order.cardId }, at: 'DATA_EXCEPTION', errorCode: 'INVALID_CARD_DATA' }],
      });
      // Hold the order in COMPENSATING: the compensation's D1 call is slow.
      await stack.d1.faults({ latencyMs: 2_000 });
      try {
        await stack.client.orderCard(order);
        await statusOf(stack, order.issuerRequestId, 'COMPENSATING');
        const before = (await historyEvents(stack, order.issuerRequestId)).length;
        await assert.rejects(handleOf(stack, order.issuerRequestId).executeUpdate(cancelOrderUpdate), (err) => {
          assert.ok(err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure);
          assert.equal(err.cause.type, 'ORDER_ALREADY_FAILED');
          return true;
        });
        const events = await historyEvents(stack, order.issuerRequestId);
        assert.ok(!events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes), 'no update in history');
        assert.ok(events.length >= before);
      } finally {
        await stack.d1.faults({ latencyMs: 0 });
      }
      await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), { failureType: 'PRODUCTION_FAILED' });
    }));

  it('serves two concurrent cancels with one request to D1, both answered with D1 verdict', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      await statusOf(stack, order.issuerRequestId, 'IN_PRODUCTION');
      const handle = handleOf(stack, order.issuerRequestId);
      const results = await Promise.all([
        handle.executeUpdate(cancelOrderUpdate),
        handle.executeUpdate(cancelOrderUpdate),
      ]);
      assert.deepEqual(results, [{ outcome: 'CANCELLED' }, { outcome: 'CANCELLED' }]);
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'CANCELLED');
      const cancels = (await historyEvents(stack, order.issuerRequestId)).filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'requestOrderCancel',
      );
      assert.equal(cancels.length, 1);
    }));

  it('answers a cancel sent during a submit that D1 then refuses: REJECTED, never left waiting', () =>
    stack.withWorker(async () => {
      // A well-formed JWE that D1 cannot decrypt: D1 answers 400, a permanent refusal.
      const order = {
        ...stack.newOrder(),
        sensitiveData: undefined,
        encryptedData:
          'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSIsImtpZCI6Im5vcGUifQ..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA',
      };
      await stack.d1.faults({ latencyMs: 1_500 });
      try {
        await stack.client.orderCard(order);
        const handle = handleOf(stack, order.issuerRequestId);
        await submitInFlight(handle);
        assert.deepEqual(await handle.executeUpdate(cancelOrderUpdate), {
          outcome: 'REJECTED',
          reason: 'ORDER_ALREADY_FAILED',
        });
      } finally {
        await stack.d1.faults({ latencyMs: 0 });
      }
      await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), { failureType: 'ORDER_REJECTED' });
    }));
});

describe('card order saga: a cancel while the server suggests continue-as-new', () => {
  let stack: SagaStack;
  before(async () => {
    const temporal = await startContinueAsNewServer(8);
    stack = await startSagaStack({
      temporal,
      serviceEnv: { ...shortTimings, ORDER_CHANGE_VERDICT_TIMEOUT: '500ms' },
      simulatorEnv: { D1_SIM_STEP_DELAY: '2s' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  it('answers the cancel (no deadlock with continue-as-new) and carries every notification over', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      await statusOf(stack, order.issuerRequestId, 'IN_PRODUCTION');
      // D1's verdict is never notified: the order must poll for it, run after run, while the update waits.
      await stack.d1.faults({ dropNotificationRate: 1 });
      try {
        assert.deepEqual(await handleOf(stack, order.issuerRequestId).executeUpdate(cancelOrderUpdate), {
          outcome: 'CANCELLED',
        });
      } finally {
        await stack.d1.faults({ dropNotificationRate: 0 });
      }
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'CANCELLED');
      const stages = result.timeline.filter((e) => !e.late && e.operation === 'PRODUCE').map((e) => e.stage);
      assert.deepEqual(stages.slice(0, 2), ['CARD_PROD_REQUESTED', 'DATA_PREPARED']);
      const runs: string[] = [];
      for await (const execution of stack.client.temporal.workflow.list({
        query: `WorkflowId = '${cardOrderWorkflowId(order.issuerId, order.issuerRequestId)}'`,
      })) {
        runs.push(execution.runId);
      }
      assert.ok(runs.length > 1, `expected several runs, got ${runs.length}`);
    }));
});
