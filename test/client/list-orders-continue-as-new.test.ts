import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { startLongWaitStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually } from '../helpers/temporal.js';

describe('listOrders of an order that continued as new', () => {
  let stack: SagaStack;
  before(async () => {
    // Its own server suggests continue-as-new after 12 events; the order polls D1, since no notification arrives.
    stack = await startLongWaitStack();
  });
  after(async () => {
    await stack?.close();
  });

  it('lists the current run only, with its current status', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      const workflowId = cardOrderWorkflowId(order.issuerId, order.issuerRequestId);
      await stack.client.orderCard(order);
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
      let runs = 0;
      for await (const _ of stack.client.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs++;
      assert.ok(runs > 1, `expected several runs, got ${runs}`);

      // Visibility shows the last run's close a little after the result: wait for it, then count the entries.
      const listed = await eventually(
        async () => {
          const mine = (await stack.client.listOrders()).filter((o) => o.workflowId === workflowId);
          return mine.some((o) => o.execution === 'COMPLETED') ? mine : undefined;
        },
        { what: 'the completed order in listOrders' },
      );
      assert.deepEqual(
        listed.map((o) => [o.execution, o.status]),
        [['COMPLETED', 'SHIPPED']],
      );
      // The earlier runs closed while IN_PRODUCTION: a status filter must not find the order there.
      const inProduction = await stack.client.listOrders({ status: 'IN_PRODUCTION' });
      assert.deepEqual(
        inProduction.filter((o) => o.workflowId === workflowId),
        [],
      );
    }));
});
