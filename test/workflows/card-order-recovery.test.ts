import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';
import { OrderFailedError } from '../../orders/errors.js';
import { D1Client } from '../../d1/client.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { toD1OrderRequest } from '../../activities/submit-order.js';
import { encryptSensitiveData } from '../../d1/sensitive-data.js';
import { loadEncryptionKey } from '../../d1/keys.js';
import { eventually } from '../helpers/temporal.js';
import { startSagaStack, testCard, type SagaStack } from '../helpers/saga-stack.js';

/** The attempts of the activities the order's workflow is waiting on, by activity type. */
async function pendingAttempts(stack: SagaStack, issuerRequestId: string): Promise<Record<string, number>> {
  const handle = stack.client.temporal.workflow.getHandle(
    cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId),
  );
  const { raw } = await handle.describe();
  return Object.fromEntries((raw.pendingActivities ?? []).map((a) => [a.activityType?.name ?? '', a.attempt ?? 0]));
}

describe('card order saga: cancel, deadline, D1 faults and worker loss', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({
      serviceEnv: {
        ORDER_NOTIFICATION_TIMEOUT: '30s',
        ORDER_POLL_INTERVAL: '200ms',
        ORDER_POLL_MAX_INTERVAL: '1s',
        ORDER_CHANGE_VERDICT_TIMEOUT: '300ms',
        D1_REQUEST_TIMEOUT: '1s',
      },
      // Production takes about 6 s (6 steps), so an order can be caught in flight, however loaded the machine
      // (with 300 ms steps, a cancel on a busy CI machine once landed after the card shipped).
      simulatorEnv: { D1_SIM_STEP_DELAY: '1s' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  it('cancels an order before it ships: D1 confirms, the order ends CANCELLED, the issuer is told', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      await eventually(async () =>
        (await stack.client.getOrder(order.issuerRequestId)).status === 'IN_PRODUCTION' ? true : undefined,
      );
      assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId), { outcome: 'CANCELLED' });
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'CANCELLED');
      const [atD1] = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
      assert.equal(atD1?.detailsStatus, 'CARD_PROD_CANCELED');
      await stack.recordHistory(order.issuerRequestId, 'cancelled-before-shipping');
      await eventually(
        () =>
          stack.events.events.some(
            (e) => e.order.issuerRequestId === order.issuerRequestId && e.type === 'cancelled',
          ) || undefined,
      );
    }));

  it('reports a cancel D1 refuses because the card shipped, and the order goes on to SHIPPED', () =>
    stack.withWorker(async () => {
      // The workflow does not hear of the shipment (notifications lost, a long wait before polling).
      await stack.d1.faults({ dropNotificationRate: 1 });
      try {
        const order = stack.newOrder();
        await stack.client.orderCard(order);
        await eventually(
          async () =>
            (await stack.d1.orders()).some((o) => o.cardId === order.cardId && o.detailsStatus === 'CARD_SHIPPED') ||
            undefined,
        );
        assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId), {
          outcome: 'REJECTED',
          reason: 'ORDER_ALREADY_SHIPPED',
        });
        assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
        assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId), {
          outcome: 'REJECTED',
          reason: 'ORDER_ALREADY_SHIPPED',
        });
        await stack.recordHistory(order.issuerRequestId, 'cancel-refused-after-shipping');
      } finally {
        await stack.d1.faults({ dropNotificationRate: 0 });
      }
    }));

  it('compensates an order past its production deadline: the live D1 order is cancelled', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: { productionDeadline: '500ms' } });
      await stack.client.orderCard(order);
      await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), (err: unknown) => {
        assert.ok(err instanceof OrderFailedError);
        assert.equal(err.failureType, 'PRODUCTION_DEADLINE_EXCEEDED');
        return true;
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.equal(state.status, 'COMPENSATED');
      // COMPENSATED on D1's verdict, not on the 202 of the cancel request.
      assert.deepEqual(state.compensations, [
        'cancelD1Order: cancel requested, waiting for D1 verdict',
        'cancelD1Order: cancelled (confirmed by D1)',
      ]);
      await stack.recordHistory(order.issuerRequestId, 'compensated-after-deadline');
      await eventually(
        async () =>
          (await stack.d1.orders()).some(
            (o) => o.cardId === order.cardId && o.detailsStatus === 'CARD_PROD_CANCELED',
          ) || undefined,
      );
    }));

  it('compensates a data exception, running the compensation before telling the issuer', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({
        outcomes: [{ match: { cardId: order.cardId }, at: 'DATA_EXCEPTION', errorCode: 'INVALID_CARD_DATA' }],
      });
      await stack.client.orderCard(order);
      await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), {
        failureType: 'PRODUCTION_FAILED',
        d1ErrorCode: 'INVALID_CARD_DATA',
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.deepEqual(state.compensations, ['cancelD1Order: nothing live to cancel']);
      const types = await eventually(() => {
        const mine = stack.events.events.filter((e) => e.order.issuerRequestId === order.issuerRequestId);
        return mine.some((e) => e.type === 'compensated') ? mine : undefined;
      });
      const compensated = types.find((e) => e.type === 'compensated');
      assert.deepEqual(compensated?.order.compensations, ['cancelD1Order: nothing live to cancel']);
    }));

  it('fails at once, without retries, when D1 refuses the order permanently', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      // Another order for the same card, in flight at D1 under another issuerRequestId: D1 answers 409.
      const d1 = await D1Client.fromConfig(stack.config.d1);
      const jwe = await encryptSensitiveData(testCard, await loadEncryptionKey(stack.config.d1.encryptionKey));
      const { timings: _timings, sensitiveData: _card, ...rest } = order;
      await d1.orderCard(
        order.issuerId,
        order.cardId,
        toD1OrderRequest({ ...rest, encryptedData: jwe }, 'someone-else'),
      );
      await d1.close();
      await stack.client.orderCard(order);
      await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), { failureType: 'ORDER_REJECTED' });
      const history = await stack.client.temporal.workflow
        .getHandle(cardOrderWorkflowId(order.issuerId, order.issuerRequestId))
        .fetchHistory();
      const submitAttempts = (history.events ?? []).filter(
        (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt === 1,
      ).length;
      assert.equal(
        (history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length,
        0,
        'an activity was retried',
      );
      assert.ok(submitAttempts >= 2); // validate, then the one submit
    }));

  it('rides out D1 5xx answers and a submit that timed out, with exactly one order at D1', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({ errorRate: 1 });
      await stack.client.orderCard(order);
      await eventually(
        async () => ((await pendingAttempts(stack, order.issuerRequestId)).submitOrder ?? 0) >= 2 || undefined,
      );
      // D1 recovers but keeps the next answer: the order is accepted, the client times out and retries.
      await stack.d1.faults({ errorRate: 0, timeoutRate: 1 });
      await eventually(async () => (await stack.d1.orders()).some((o) => o.cardId === order.cardId) || undefined);
      await stack.d1.faults({ timeoutRate: 0 });
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
      const atD1 = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
      assert.equal(atD1.length, 1);
      assert.ok((atD1[0]?.submissions ?? 0) >= 2, 'the retried submit reached D1 again');
      assert.equal(result.operationId, atD1[0]?.operationId);
      await stack.recordHistory(order.issuerRequestId, 'submit-retried-through-d1-faults');
    }));

  it('finishes an order, with one D1 order, after the worker is killed mid-order and another takes over', async () => {
    const order = stack.newOrder();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers/main.ts')], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: stack.config.temporal.address,
        TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
        KEYS_DIR: stack.config.keysDir,
        PAYLOAD_CODEC_KEYS_FILE: stack.config.payloadCodec.file,
        D1_BASE_URL: stack.config.d1.baseUrl,
        WORKFLOW_BUNDLE_PATH: path.join(process.env.TEST_TMPDIR ?? '/tmp', 'no-prebuilt-bundle.js'),
        WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'error',
      },
      stdio: 'ignore',
    });
    try {
      await stack.client.orderCard(order);
      await eventually(async () => (await stack.d1.orders()).some((o) => o.cardId === order.cardId) || undefined, {
        timeoutMs: 60_000,
      });
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await stack.withWorker(async () => {
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
    });
    assert.equal((await stack.d1.orders()).filter((o) => o.cardId === order.cardId).length, 1);
  });
});
