import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OrderFailedError, type OrderConflictError, type OrderValidationError } from '../../orders/errors.js';
import { productionLifecycle } from '../../d1/report-schemas.js';
import { reorderRequestId } from '../../orders/reorder-id.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { eventually, uniqueName } from '../helpers/temporal.js';
import { startSagaStack, testCard, type SagaStack } from '../helpers/saga-stack.js';

const lifecycle = productionLifecycle;

describe('card order saga (real dev server, real simulator, real HTTP)', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({
      serviceEnv: {
        ORDER_NOTIFICATION_TIMEOUT: '30s',
        ORDER_POLL_INTERVAL: '200ms',
        ORDER_POLL_MAX_INTERVAL: '1s',
        ORDER_OUT_OF_STOCK_REORDER_DELAY: '100ms',
      },
    });
  });
  after(async () => {
    await stack?.close();
  });

  it('ships an order by notifications alone, with a clean timeline and its D1 operation', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      const placed = await stack.client.orderCard(order);
      assert.equal(placed.placement, 'STARTED');
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
      assert.deepEqual(
        result.timeline.map((entry) => entry.stage),
        lifecycle,
      );
      assert.ok(result.shipment?.trackingNumber);
      const [atD1] = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
      assert.equal(result.operationId, atD1?.operationId);
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.equal(state.status, 'SHIPPED');
      assert.equal(state.attempts.polls, 0);
      await stack.recordHistory(order.issuerRequestId, 'shipped-by-notifications');
    }));

  it('finishes by status polls when every notification is lost', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ dropNotificationRate: 1 });
      try {
        const order = stack.newOrder({
          timings: { notificationTimeout: '300ms', pollInterval: '200ms', pollMaxInterval: '400ms' },
        });
        await stack.client.orderCard(order);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.ok(result.timeline.every((entry) => entry.source === 'poll'));
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.ok(state.attempts.polls > 0);
        assert.ok(state.lastPollAt);
        await stack.recordHistory(order.issuerRequestId, 'shipped-by-polls');
      } finally {
        await stack.d1.faults({ dropNotificationRate: 0 });
      }
    }));

  it('keeps one clean timeline from duplicated and reordered notifications', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ duplicateNotificationRate: 1, reorderNotifications: true, batchSize: 3 });
      try {
        const order = stack.newOrder();
        await stack.client.orderCard(order);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        const applied = result.timeline.filter((entry) => !entry.late).map((entry) => entry.stage);
        assert.equal(new Set(applied).size, applied.length, `a stage applied twice: ${applied.join(',')}`);
        assert.equal(applied.at(-1), 'CARD_SHIPPED');
      } finally {
        await stack.d1.faults({ duplicateNotificationRate: 0, reorderNotifications: false, batchSize: 1 });
      }
    }));

  it('compensates a production failure, tells the issuer, and fails with D1 error code', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({
        outcomes: [{ match: { cardId: order.cardId }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' }],
      });
      await stack.client.orderCard(order);
      await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), (err: unknown) => {
        assert.ok(err instanceof OrderFailedError);
        assert.equal(err.failureType, 'PRODUCTION_FAILED');
        assert.equal(err.d1ErrorCode, 'PERSONALIZATION_FAILED');
        return true;
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.equal(state.status, 'COMPENSATED');
      assert.deepEqual(state.compensations, ['cancelD1Order: nothing live to cancel']);
      const types = await eventually(() => {
        const mine = stack.events.events.filter((event) => event.order.issuerRequestId === order.issuerRequestId);
        return mine.some((event) => event.type === 'compensated') ? mine.map((event) => event.type) : undefined;
      });
      assert.ok(types.includes('submitted') && types.includes('compensated'), types.join(','));
      await stack.recordHistory(order.issuerRequestId, 'compensated-after-production-failure');
    }));

  it('re-orders a card D1 reported out of stock, then ships it', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.d1.faults({
        outcomes: [{ match: { cardId: order.cardId }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK', times: 1 }],
      });
      await stack.client.orderCard(order);
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
      const atD1 = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
      assert.deepEqual(
        atD1.map((o) => [o.issuerRequestId, o.detailsStatus]),
        [
          [order.issuerRequestId, 'DATA_EXCEPTION'],
          [reorderRequestId(order.issuerRequestId, 1), 'CARD_SHIPPED'],
        ],
      );
      assert.equal((await stack.client.getOrder(order.issuerRequestId)).attempts.reorders, 1);
      await stack.recordHistory(order.issuerRequestId, 'reordered-after-out-of-stock');
    }));

  it('starts the same order twice as one execution, and one D1 order', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      const [first, second] = await Promise.all([stack.client.orderCard(order), stack.client.orderCard(order)]);
      assert.deepEqual([first.placement, second.placement].sort(), ['EXISTING', 'STARTED']);
      await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal((await stack.client.orderCard(order)).placement, 'EXISTING');
      const { count } = await stack.client.temporal.workflow.count(
        `WorkflowId = '${cardOrderWorkflowId(order.issuerId, order.issuerRequestId)}'`,
      );
      assert.equal(count, 1);
      assert.equal((await stack.d1.orders()).filter((o) => o.cardId === order.cardId).length, 1);
    }));

  it('refuses the same issuerRequestId with a different order as ORDER_CONFLICT, naming the fields, not the values', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      const otherCard = { ...testCard, pan: '4012888888881881' };
      const conflict = await stack.client
        // A copy of the same shipment is the same shipment: only the card data differs.
        .orderCard({ ...order, sensitiveData: otherCard, shipment: structuredClone(order.shipment) })
        .then(
          () => assert.fail('a different card under the same issuerRequestId was placed'),
          (err: unknown) => err as OrderConflictError,
        );
      assert.equal(conflict.code, 'ORDER_CONFLICT');
      assert.deepEqual(conflict.fields, ['sensitiveData']);
      assert.doesNotMatch(JSON.stringify({ ...conflict, message: conflict.message }), /4012|4111/);
      await assert.rejects(
        stack.client.orderCard({ ...order, cardId: uniqueName('card2').slice(0, 40), consumerId: 'cons_43' }),
        {
          code: 'ORDER_CONFLICT',
          fields: ['cardId', 'consumerId'],
        },
      );
      // Key order and the timings are not the order: both give the first order back.
      const reordered = Object.fromEntries(Object.entries(order).reverse()) as typeof order;
      const again = await stack.client.orderCard({ ...reordered, timings: { pollInterval: '1h' } });
      assert.equal(again.placement, 'EXISTING');
      await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal((await stack.d1.orders()).filter((o) => o.issuerRequestId === order.issuerRequestId).length, 1);
    }));

  it('ships RENEWAL and REPLACEMENT orders; an operator lists every replacement of a card', () =>
    stack.withWorker(async () => {
      const lost = stack.newOrder();
      const replacement = stack.newOrder({
        services: { ...lost.services, issuance: 'REPLACEMENT' },
        replacesCardId: lost.cardId,
      });
      const renewal = stack.newOrder({ services: { ...lost.services, issuance: 'RENEWAL' } });
      for (const order of [replacement, renewal]) await stack.client.orderCard(order);
      for (const order of [replacement, renewal]) {
        assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
      }
      const atD1 = (await stack.d1.orders()).filter((o) => o.cardId === replacement.cardId);
      assert.equal(atD1.length, 1);
      const replacements = await eventually(async () => {
        const found = await stack.client.listOrders({ replacesCardId: lost.cardId });
        return found.length > 0 ? found : undefined;
      });
      assert.deepEqual(
        replacements.map((o) => [o.issuerRequestId, o.replacesCardId]),
        [[replacement.issuerRequestId, lost.cardId]],
      );
    }));

  it('refuses a card it replaces on a CREATION order, and an issuance type its program does not allow', async () => {
    const order = stack.newOrder();
    await assert.rejects(
      stack.client.orderCard({ ...order, replacesCardId: 'card-old' }),
      (err: OrderValidationError) => err.issues.some((issue) => issue.field === 'replacesCardId'),
    );
    const credit = stack.newOrder({
      cardProductId: 'PRD_MC_CREDIT',
      services: { issuance: 'RENEWAL', delivery: 'laposte-cip', cardCarrier: 'carrier-standard' },
    });
    await assert.rejects(stack.client.orderCard(credit), (err: OrderValidationError) =>
      err.issues.some((issue) => issue.field === 'services.issuance'),
    );
    await assert.rejects(stack.client.listOrders({ replacesCardId: "x' OR CardId != '" }), {
      code: 'ERR_ORDER_INVALID',
      issues: [{ field: 'replacesCardId', reason: 'must be a D1 card id (letters, digits, _ and -)' }],
    });
  });

  it('answers ORDER_NOT_FOUND for an order that does not exist', async () => {
    const missing = uniqueName('missing');
    for (const read of [
      () => stack.client.getOrder(missing),
      () => stack.client.cancelOrder(missing),
      () => stack.client.waitForOrder(missing),
    ]) {
      await assert.rejects(read(), { code: 'ORDER_NOT_FOUND', issuerRequestId: missing });
    }
  });

  it('keeps the PAN, CVV and cardholder name out of the history and every log', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      await stack.client.waitForOrder(order.issuerRequestId);
      const history = await stack.client.temporal.workflow
        .getHandle(cardOrderWorkflowId(order.issuerId, order.issuerRequestId))
        .fetchHistory();
      const exported = JSON.stringify(history);
      for (const secret of [testCard.pan, testCard.name, '"cvv2":"987"', 'Main St']) {
        assert.ok(!exported.includes(secret), `history holds ${secret}`);
        assert.ok(!stack.d1.logs.text().includes(secret), `a log holds ${secret}`);
      }
    }));
});
