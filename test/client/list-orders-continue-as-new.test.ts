import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, startLocalTestServer } from '../helpers/temporal.js';

describe('listOrders of an order that continued as new', () => {
  let stack: SagaStack;
  before(async () => {
    // A server of its own that suggests continue-as-new after 12 events, as one does after weeks of polling
    // (test/workflows/card-order-continue-as-new.test.ts): the order polls D1, since no notification arrives.
    const temporal = await startLocalTestServer([
      '--dynamic-config-value',
      'limit.historyCount.suggestContinueAsNew=12',
    ]);
    stack = await startSagaStack({
      temporal,
      serviceEnv: {
        ORDER_NOTIFICATION_TIMEOUT: '100ms',
        ORDER_POLL_INTERVAL: '100ms',
        ORDER_POLL_MAX_INTERVAL: '200ms',
      },
      simulatorEnv: { D1_SIM_STEP_DELAY: '400ms', D1_SIM_FAULTS: '{"dropNotificationRate":1}' },
    });
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
