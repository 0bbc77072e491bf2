import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { issuerEventsDeadLetterId } from '../../rules/contracts/issuer-events-dead-letter.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually } from '../helpers/temporal.js';

/** Orders that live for weeks, on the dev server with short timings: D1 outages and an unreachable issuer. */
describe('card order through outages (real dev server, real simulator, real HTTP)', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({
      serviceEnv: {
        ORDER_NOTIFICATION_TIMEOUT: '1s',
        ORDER_POLL_INTERVAL: '300ms',
        ORDER_POLL_MAX_INTERVAL: '1s',
        // One submit retries its transient failures for 3 s; then the order waits as D1_UNREACHABLE, at most 1 s.
        ORDER_D1_RETRY_TIMEOUT: '3s',
        ORDER_D1_OUTAGE_MAX_INTERVAL: '1s',
        ISSUER_EVENTS_RETRY_INTERVAL: '200ms',
        ISSUER_EVENTS_MAX_RETRY_INTERVAL: '400ms',
      },
    });
  });
  after(async () => {
    await stack?.close();
  });

  const workflowIdOf = (issuerRequestId: string) => cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId);
  const eventsOf = (issuerRequestId: string) =>
    stack.events.events.filter((event) => event.eventId.startsWith(`${workflowIdOf(issuerRequestId)}:`));

  it('orders each card once through a D1 that takes orders without answering, then answers 503, and ships them all', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ timeoutRate: 1, dropNotificationRate: 1 });
      const orders = [stack.newOrder(), stack.newOrder(), stack.newOrder()];
      try {
        for (const order of orders) await stack.client.orderCard(order);
        const unreachable = async (minFailures: number) =>
          (await Promise.all(orders.map((o) => stack.client.getOrder(o.issuerRequestId)))).every(
            (state) => state.status === 'D1_UNREACHABLE' && (state.d1Unreachable?.failures ?? 0) >= minFailures,
          ) || undefined;
        await eventually(() => unreachable(1), { timeoutMs: 60_000, what: 'every order D1_UNREACHABLE' });
        await stack.d1.faults({ timeoutRate: 0, errorRate: 1 });
        await eventually(() => unreachable(2), { timeoutMs: 60_000, what: 'a second unanswered try' });
      } finally {
        await stack.d1.faults({ errorRate: 0, timeoutRate: 0, dropNotificationRate: 0 });
      }
      for (const order of orders) {
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.equal(
          eventsOf(order.issuerRequestId).filter((event) => event.type === 'd1-unreachable').length,
          1,
          'the issuer heard of the outage once',
        );
      }
      const atD1 = (await stack.d1.orders()).filter((o) => orders.some((order) => order.cardId === o.cardId));
      assert.equal(atD1.length, orders.length, 'one D1 order per card, none twice');
      await stack.recordHistory(orders[0]?.issuerRequestId ?? '', 'd1-unreachable-then-shipped');
    }));

  it('delivers every issuer event, in order, once the issuer endpoint is back, without a local-activity loop', () =>
    stack.withWorker(async () => {
      stack.events.setDown(true);
      const refusedBefore = stack.events.refused;
      const order = stack.newOrder();
      try {
        await stack.client.orderCard(order);
        await eventually(() => (stack.events.refused >= refusedBefore + 3 ? true : undefined), {
          timeoutMs: 30_000,
          what: 'the outbox trying again while the endpoint is down',
        });
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.notEqual(state.status, 'FAILED', 'the order went on while its events waited');
      } finally {
        stack.events.setDown(false);
      }
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
      const events = await eventually(
        () => {
          const mine = eventsOf(order.issuerRequestId);
          return mine.some((event) => event.type === 'shipped') ? mine : undefined;
        },
        { timeoutMs: 30_000, what: 'the shipped event' },
      );
      const sequence = events.map((event) => Number(event.eventId.split(':').at(-1)));
      assert.deepEqual(
        [...new Set(sequence)],
        sequence.map((_, i) => i + 1),
        'every event, in order, none lost',
      );
      const history = await stack.client.temporal.workflow
        .getHandle(workflowIdOf(order.issuerRequestId))
        .fetchHistory();
      const markers = (history.events ?? []).filter((event) => event.markerRecordedEventAttributes);
      assert.ok(
        markers.every((event) => event.markerRecordedEventAttributes?.markerName !== 'core_local_activity'),
        'no local activity retried in the history',
      );
      await stack.recordHistory(order.issuerRequestId, 'issuer-events-through-outbox');
    }));

  it('closes an order whose issuer endpoint is down; its undelivered events wait in a dead-letter record to be redelivered', () =>
    stack.withWorker(async () => {
      stack.events.setDown(true);
      const order = stack.newOrder();
      const workflowId = workflowIdOf(order.issuerRequestId);
      try {
        await stack.client.orderCard(order);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED', 'the order closed all the same');
        const record = await stack.client.temporal.workflow.getHandle(issuerEventsDeadLetterId(workflowId)).describe();
        assert.equal(record.type, 'issuerEventsDeadLetter');
        const [listed] = await eventually(
          async () => {
            const failed = await stack.client.listFailedIssuerEvents({ cardId: order.cardId });
            return failed.length > 0 ? failed : undefined;
          },
          { timeoutMs: 30_000, what: 'the dead-letter record listed' },
        );
        assert.equal(listed?.orderWorkflowId, workflowId);
        assert.ok((listed?.count ?? 0) >= 2, 'every lifecycle event the issuer missed is kept');
        await stack.recordHistory(order.issuerRequestId, 'issuer-events-dead-lettered');
      } finally {
        stack.events.setDown(false);
      }
      const redelivered = await stack.client.redeliverIssuerEvents(workflowId);
      assert.equal(redelivered.outcome, 'DELIVERED');
      const types = eventsOf(order.issuerRequestId).map((event) => event.type);
      assert.equal(types[0], 'submitted');
      assert.equal(types.at(-1), 'shipped');
    }));
});
