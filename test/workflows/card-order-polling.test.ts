import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { eventually } from '../helpers/temporal.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';

type History = temporal.api.history.v1.IHistory;

function activityCount(history: History, name: string): number {
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name)
    .length;
}

describe('card order saga: polls as the fallback, under D1 faults (real dev server and simulator)', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({
      // The production shape at a small scale: stages 300 ms apart, a 1 s quiet period, polls capped at 1 s.
      serviceEnv: { ORDER_NOTIFICATION_TIMEOUT: '1s', ORDER_POLL_INTERVAL: '500ms', ORDER_POLL_MAX_INTERVAL: '1s' },
      simulatorEnv: { D1_SIM_STEP_DELAY: '300ms' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  const history = (issuerRequestId: string) =>
    stack.client.temporal.workflow
      .getHandle(cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId))
      .fetchHistory();

  it('never polls while notifications arrive, and keeps the history lean', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
      const events = await history(order.issuerRequestId);
      assert.equal(activityCount(events, 'pollOrderStatus'), 0);
      const timers = (events.events ?? []).filter((e) => e.timerStartedEventAttributes).length;
      const signals = (events.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
      // One timer, re-armed at most once for a burst of notifications: not one per notification.
      assert.ok(signals >= 6 && timers <= 2, `${timers} timers for ${signals} notifications`);
      // Issuer events go through the outbox's activity (3 events a delivery, where a local activity wrote 1 marker):
      // deliveries coalesce, never more than the events, and the rest of the history stays as lean as before (59: a
      // new order records one behaviour marker and the TemporalChangeVersion upsert that comes with it, where it
      // recorded three and three before behaviour 5).
      const total = (events.events ?? []).length;
      const deliveries = activityCount(events, 'publishIssuerEvents');
      const issuerEvents = stack.events.events.filter((e) =>
        e.eventId.startsWith(`${cardOrderWorkflowId(stack.config.d1.issuerId, order.issuerRequestId)}:`),
      ).length;
      assert.ok(deliveries <= issuerEvents, `${deliveries} deliveries for ${issuerEvents} issuer events`);
      assert.ok(total - 3 * deliveries <= 59, `${total} events, ${deliveries} deliveries`);
      const markers = (events.events ?? []).filter((e) => e.markerRecordedEventAttributes).length;
      assert.equal(markers, 1, 'a new order records one versioning marker');
    }));

  it('ships by polls alone when every notification is lost, within the poll cap of shipment', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ dropNotificationRate: 1 });
      try {
        const order = stack.newOrder();
        await stack.client.orderCard(order);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        const polls = activityCount(await history(order.issuerRequestId), 'pollOrderStatus');
        assert.ok(polls > 0 && polls <= 40, `${polls} polls`);
        const [atD1] = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
        const shippedAt = Date.parse(atD1?.endTime ?? '');
        const learnedAt = Date.parse(result.timeline.at(-1)?.at ?? '');
        assert.ok(learnedAt - shippedAt <= 1_000 + 500, `learned ${learnedAt - shippedAt} ms after shipment`);
      } finally {
        await stack.d1.faults({ dropNotificationRate: 0 });
      }
    }));

  it('lives through a failing status endpoint (503, then malformed answers): polls fail, the order ships', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ dropNotificationRate: 1, statusFault: 'UNAVAILABLE' });
      try {
        const order = stack.newOrder();
        await stack.client.orderCard(order);
        const failures = async (n: number) =>
          eventually(
            async () => {
              const state = await stack.client.getOrder(order.issuerRequestId);
              return state.attempts.pollFailures >= n ? state : undefined;
            },
            { timeoutMs: 20_000, what: `${n} failed polls` },
          );
        const down = await failures(2);
        assert.equal(down.status, 'SUBMITTED');
        await stack.d1.faults({ statusFault: 'MALFORMED' });
        assert.equal((await failures(down.attempts.pollFailures + 2)).status, 'SUBMITTED');
        await stack.d1.faults({ statusFault: 'NONE' });
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.ok(result.state.attempts.pollFailures >= 4);
      } finally {
        await stack.d1.faults({ dropNotificationRate: 0, statusFault: 'NONE' });
      }
    }));

  it('retries an order through refused credentials (401), as after a key rotation, and ships it', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ unauthorizedRate: 1 });
      const order = stack.newOrder();
      try {
        await stack.client.orderCard(order);
        const handle = stack.client.temporal.workflow.getHandle(
          cardOrderWorkflowId(order.issuerId, order.issuerRequestId),
        );
        await eventually(
          async () => {
            const { raw } = await handle.describe();
            const submit = raw.pendingActivities?.find((a) => a.activityType?.name === 'submitOrder');
            return (submit?.attempt ?? 0) >= 2 ? true : undefined;
          },
          { what: 'a retried submit' },
        );
      } finally {
        await stack.d1.faults({ unauthorizedRate: 0 });
      }
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
    }));

  it('sends every issuer event once under its own id', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order);
      await stack.client.waitForOrder(order.issuerRequestId);
      const mine = await eventually(() => {
        const events = stack.events.events.filter((e) => e.order.issuerRequestId === order.issuerRequestId);
        return events.some((e) => e.type === 'shipped') ? events : undefined;
      });
      assert.deepEqual(
        mine.map((e) => e.type),
        ['submitted', 'status-changed', 'shipped'],
      );
      assert.equal(new Set(mine.map((e) => e.eventId)).size, mine.length);
    }));
});
