import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../client/cli.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { NotificationRouter, unmatchedWorkflowId } from '../../temporal/notification-router.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually } from '../helpers/temporal.js';
import { operation } from '../webhook/support.js';

describe('unmatched notifications, for operators', () => {
  let stack: SagaStack;
  before(async () => {
    // The simulator sends nothing and the order never polls during the test: the only signal it gets is redelivered.
    stack = await startSagaStack({
      serviceEnv: { ORDER_NOTIFICATION_TIMEOUT: '1h' },
      simulatorEnv: { D1_SIM_STEP_DELAY: '1h', D1_SIM_FAULTS: '{"dropNotificationRate":1}' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: stack.envVars });
    return { code, out, err };
  }

  it('lists a card kept before its order existed, keeps it while there is no order, then hands it to the order', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      const issuerId = order.issuerId;
      // D1 reports on the card before the issuer placed the order (an order placed while our webhook was ahead).
      const early = [
        operation(order.cardId, { issuerRequestId: order.issuerRequestId, details: { status: 'CARD_PROD_READY' } }),
        operation(order.cardId, { issuerRequestId: order.issuerRequestId, details: { status: 'CARD_PROD_ONGOING' } }),
      ];
      const router = new NotificationRouter(stack.client.temporal, stack.config.temporal.taskQueue, {
        unmatchedRetentionMs: stack.config.webhook.unmatchedRetentionMs,
      });
      assert.equal((await router.deliverBatch(issuerId, early)).counts.unmatched, 2);

      const listed = await eventually(async () => {
        const records = await stack.client.listUnmatched();
        return records.find((record) => record.cardId === order.cardId);
      });
      assert.deepEqual(
        [listed.notifications, listed.issuerRequestIds, listed.latest],
        [2, [order.issuerRequestId], 'PRODUCE:PENDING'],
      );
      const human = await cli('unmatched', 'list');
      assert.ok(human.out.some((line) => line.startsWith(`${order.cardId} notifications=2 latest=PRODUCE:PENDING`)));

      const tooSoon = await cli('unmatched', 'redeliver', order.cardId, '--json');
      assert.equal(tooSoon.code, 1);
      assert.deepEqual(JSON.parse(tooSoon.out[0] ?? '{}'), {
        cardId: order.cardId,
        outcome: 'NO_ORDER',
        delivered: 0,
        late: 0,
        remaining: 2,
      });

      await stack.client.orderCard(order);
      const redelivered = await cli('unmatched', 'redeliver', order.cardId);
      assert.deepEqual([redelivered.code, redelivered.out], [0, ['REDELIVERED delivered=2 late=0 remaining=0']]);
      const record = stack.client.temporal.workflow.getHandle(unmatchedWorkflowId(issuerId, order.cardId));
      assert.equal((await record.describe()).status.name, 'COMPLETED');
      const orderHistory = await stack.client.temporal.workflow
        .getHandle(cardOrderWorkflowId(issuerId, order.issuerRequestId))
        .fetchHistory();
      const signals = (orderHistory.events ?? []).filter(
        (event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'd1Notification',
      );
      assert.equal(signals.length, 1, 'one signal carries both kept notifications');

      const gone = await cli('unmatched', 'redeliver', order.cardId);
      assert.equal(gone.code, 1);
      assert.match(gone.err[0] ?? '', /^UNMATCHED_NOT_FOUND: /);
    }));

  it('refuses a malformed card id or action, naming it, before any query', async () => {
    const badCard = await cli('unmatched', 'redeliver', "x' OR CardId != '", '--json');
    assert.equal(badCard.code, 2);
    assert.deepEqual(
      (JSON.parse(badCard.err[0] ?? '{}') as { issues: { field: string }[] }).issues.map((i) => i.field),
      ['cardId'],
    );
    const badAction = await cli('unmatched', 'forget', '--json');
    assert.deepEqual(
      [badAction.code, (JSON.parse(badAction.err[0] ?? '{}') as { argument: string }).argument],
      [2, '<action>'],
    );
  });
});
