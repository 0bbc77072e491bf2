import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { startLongWaitStack, type SagaStack } from '../helpers/saga-stack.js';

describe('card order saga over a long wait', () => {
  let stack: SagaStack;
  before(async () => {
    // Its own server suggests continue-as-new after 12 events; the order polls D1, since no notification arrives.
    stack = await startLongWaitStack();
  });
  after(async () => {
    await stack?.close();
  });

  it('continues as new when history grows, carrying its state, and still ships the order', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
      const runs = [];
      for await (const execution of stack.client.temporal.workflow.list({
        query: `WorkflowId = '${cardOrderWorkflowId(order.issuerId, order.issuerRequestId)}'`,
      })) {
        runs.push(execution.runId);
      }
      assert.ok(runs.length > 1, `expected several runs, got ${runs.length}`);
      // State carried over: the timeline starts before the last run did, and the poll count spans every run.
      const handle = stack.client.temporal.workflow.getHandle(
        cardOrderWorkflowId(order.issuerId, order.issuerRequestId),
      );
      const lastRun = await handle.describe();
      assert.ok(Date.parse(result.timeline[0]?.at ?? '') < lastRun.startTime.getTime(), 'timeline carried over');
      assert.equal(result.timeline.at(-1)?.stage, 'CARD_SHIPPED');
      const lastRunPolls = ((await handle.fetchHistory()).events ?? []).filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollOrderStatus',
      ).length;
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.ok(
        state.attempts.polls > lastRunPolls,
        `polls ${state.attempts.polls} vs ${lastRunPolls} in the last run`,
      );
      // The first run's fingerprint reaches the last run: the same order is still EXISTING, another a conflict.
      assert.equal((await stack.client.orderCard(order)).placement, 'EXISTING');
      await assert.rejects(stack.client.orderCard({ ...order, consumerId: 'cons_43' }), {
        code: 'ORDER_CONFLICT',
        fields: ['consumerId'],
      });
    }));
});
