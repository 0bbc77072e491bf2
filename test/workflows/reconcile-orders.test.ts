import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { workflowMetadataQuery } from '@temporalio/workflow';
import { request } from 'undici';
import type { ReconciliationDisagreementEvent } from '../../activities/index.js';
import { runCli } from '../../client/cli.js';
import { loadConfig } from '../../config/config.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { createCardOrderWorker } from '../../workers/card-order-worker.js';
import { syncReconcileSchedule } from '../../workers/reconcile-schedule.js';
import {
  reconcileScheduleId,
  type ReconcileOrdersInput,
  type ReconcileSummary,
} from '../../rules/contracts/reconcile.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, testWorkflowBundle } from '../helpers/temporal.js';

const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** Timings under which an order neither polls nor gives up while the test runs: it learns only what it is told. */
const quiet = { notificationTimeout: '1h', pollInterval: '1h', pollMaxInterval: '1h' };

describe('reconciliation with D1 (real dev server, simulator and webhook)', () => {
  let stack: SagaStack;
  before(async () => {
    // An out-of-stock order waits an hour to be re-ordered: an open order in step with D1.
    // A submit that D1 leaves unanswered for 3 s makes its order wait an hour as D1_UNREACHABLE before trying again.
    stack = await startSagaStack({
      serviceEnv: {
        ORDER_OUT_OF_STOCK_REORDER_DELAY: '1h',
        ORDER_D1_RETRY_TIMEOUT: '3s',
        ORDER_D1_OUTAGE_MAX_INTERVAL: '1h',
      },
    });
  });
  after(async () => {
    await stack?.close();
  });

  const workflowIdOf = (issuerRequestId: string) => cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId);
  const reconciliation = (workflowId: string) =>
    stack.client.temporal.workflow.getHandle<(input: ReconcileOrdersInput) => Promise<ReconcileSummary>>(workflowId);
  const disagreementEvents = () =>
    (stack.events.events as unknown[] as ReconciliationDisagreementEvent[]).filter(
      (event) => event.type === 'reconciliation-disagreement',
    );
  const statusOf = async (issuerRequestId: string, status: string) =>
    eventually(
      async () => {
        const state = await stack.client.getOrder(issuerRequestId);
        return state.status === status ? state : undefined;
      },
      { timeoutMs: 30_000, what: `order ${issuerRequestId} ${status}` },
    );
  const terminate = (issuerRequestId: string) =>
    stack.client.temporal.workflow.getHandle(workflowIdOf(issuerRequestId)).terminate('test done');

  it("passes D1's shipment on to an order that missed it and reports the disagreement; an order in step is only checked", () =>
    stack.withWorker(async () => {
      const lagging = stack.newOrder({ timings: quiet });
      const inStep = stack.newOrder({ timings: quiet });
      await stack.d1.faults({
        dropNotificationCardIds: [lagging.cardId],
        outcomes: [{ match: { cardId: inStep.cardId }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK' }],
      });
      try {
        await stack.client.orderCard(lagging);
        await stack.client.orderCard(inStep);
        // D1 ships the card without a word to its order; the other order hears of its stock-out and waits.
        await eventually(
          async () =>
            (await stack.d1.orders()).some((o) => o.cardId === lagging.cardId && o.detailsStatus === 'CARD_SHIPPED') ||
            undefined,
          { timeoutMs: 30_000, what: 'D1 to ship the card' },
        );
        await statusOf(inStep.issuerRequestId, 'AWAITING_STOCK');
        const waiting = await stack.client.getOrder(lagging.issuerRequestId);
        assert.ok(waiting.operationId, 'the order is at D1');
        assert.notEqual(waiting.status, 'SHIPPED');

        const workflowId = await stack.client.reconcileNow();
        assert.match(workflowId, new RegExp(`^${reconcileScheduleId(stack.config.temporal.taskQueue)}:manual-`));
        const summary = await reconciliation(workflowId).result();
        assert.deepEqual(summary.counts, {
          checked: 2,
          updated: 1,
          disagreements: 1,
          unknownAtD1: 0,
          failed: 0,
          skipped: 0,
        });
        assert.equal(summary.pages, 1);
        const [found, ...more] = summary.latestDisagreements;
        assert.deepEqual(more, []);
        // As JSON: undefined fields do not cross the payload converter.
        assert.deepEqual(
          asJson({ ...found, detectedAt: undefined }),
          asJson({
            workflowId: workflowIdOf(lagging.issuerRequestId),
            issuerRequestId: lagging.issuerRequestId,
            cardId: lagging.cardId,
            operationId: waiting.operationId,
            orderStatus: waiting.status,
            orderStage: waiting.stage,
            d1Stage: 'CARD_SHIPPED',
            d1Status: 'SUCCESSFUL',
            updated: true,
          }),
        );

        const shipped = await statusOf(lagging.issuerRequestId, 'SHIPPED');
        assert.ok(
          shipped.timeline.some((entry) => entry.source === 'reconcile' && entry.stage === 'CARD_SHIPPED'),
          JSON.stringify(shipped.timeline),
        );
        const inStepNow = await stack.client.getOrder(inStep.issuerRequestId);
        assert.equal(inStepNow.status, 'AWAITING_STOCK');
        assert.ok(inStepNow.timeline.every((entry) => entry.source !== 'reconcile'));

        const [event, ...otherEvents] = disagreementEvents();
        assert.deepEqual(otherEvents, []);
        assert.equal(event?.eventId, `${workflowId}/${workflowIdOf(lagging.issuerRequestId)}`);
        assert.equal(event?.order.issuerRequestId, lagging.issuerRequestId);
        assert.equal(event?.reconciliation.d1Stage, 'CARD_SHIPPED');
        assert.equal(event?.reconciliation.updated, true);

        // Web UI shows the run's current details: its counts and the disagreeing order.
        const { currentDetails } = await reconciliation(workflowId).query(workflowMetadataQuery);
        assert.match(currentDetails ?? '', /Reconciliation with D1 done/);
        assert.ok(
          (currentDetails ?? '').includes(`| ${workflowIdOf(lagging.issuerRequestId)} | ${waiting.status} |`),
          currentDetails ?? '',
        );
      } finally {
        await stack.d1.faults({ dropNotificationCardIds: [], outcomes: [] });
        await terminate(inStep.issuerRequestId);
      }
    }));

  it('reports an order D1 does not know without signalling it (card-orders reconcile)', () =>
    stack.withWorker(async () => {
      const forgotten = stack.newOrder({ timings: quiet });
      await stack.d1.faults({ dropNotificationCardIds: [forgotten.cardId] });
      await stack.client.orderCard(forgotten);
      try {
        await eventually(async () => (await stack.client.getOrder(forgotten.issuerRequestId)).operationId, {
          what: 'the order at D1',
        });
        // D1 loses every order (and the faults): the order believes it is at D1, D1 answers 404 for its card.
        const reset = await request(`${stack.d1.simulator.url}/__sim/reset`, { method: 'POST' });
        await reset.body.dump();
        assert.equal(reset.statusCode < 300, true);
        const before = await stack.client.getOrder(forgotten.issuerRequestId);

        const out: string[] = [];
        const err: string[] = [];
        const code = await runCli(['reconcile', '--json'], {
          out: (line) => out.push(line),
          err: (line) => err.push(line),
          env: stack.envVars,
        });
        assert.equal(code, 0, err.join('\n'));
        const printed = JSON.parse(out[0] ?? '{}') as ReconcileSummary & { workflowId: string };
        assert.deepEqual(printed.counts, {
          checked: 1,
          updated: 0,
          disagreements: 1,
          unknownAtD1: 1,
          failed: 0,
          skipped: 0,
        });
        assert.deepEqual(
          printed.latestDisagreements.map((d) => [d.issuerRequestId, d.d1Stage, d.d1Status, d.updated]),
          [[forgotten.issuerRequestId, 'UNKNOWN_AT_D1', undefined, false]],
        );
        const event = disagreementEvents().find((e) => e.reconciliation.runId === printed.workflowId);
        assert.equal(event?.order.issuerRequestId, forgotten.issuerRequestId);
        assert.equal(event?.reconciliation.d1Stage, 'UNKNOWN_AT_D1');

        const after = await stack.client.getOrder(forgotten.issuerRequestId);
        assert.equal(after.status, before.status);
        assert.deepEqual(after.timeline, before.timeline);

        const human: string[] = [];
        assert.equal(await runCli(['reconcile'], { out: (l) => human.push(l), err: () => {}, env: stack.envVars }), 0);
        assert.match(
          human[0] ?? '',
          /^RECONCILED checked=1 updated=0 disagreements=1 unknownAtD1=1 failed=0 skipped=0 workflow=reconcile-orders:/,
        );
        assert.equal(
          human[1],
          `${forgotten.issuerRequestId} order=${before.status}/${before.stage ?? '-'} d1=UNKNOWN_AT_D1`,
        );
      } finally {
        await terminate(forgotten.issuerRequestId);
      }
    }));

  it('finds at D1 the order a submit never heard back about, so the order follows its card from there', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: quiet });
      // D1 stores the order but never answers, and says nothing to the order afterwards.
      await stack.d1.faults({ timeoutRate: 1, dropNotificationCardIds: [order.cardId] });
      try {
        await stack.client.orderCard(order);
        const unreachable = await statusOf(order.issuerRequestId, 'D1_UNREACHABLE');
        assert.equal(unreachable.operationId, undefined, 'the order does not know D1 took it');
        await stack.d1.faults({ timeoutRate: 0 });
        const [atD1] = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
        assert.ok(atD1, 'D1 took the order all the same');

        await reconciliation(await stack.client.reconcileNow()).result();
        const following = await eventually(
          async () => {
            const state = await stack.client.getOrder(order.issuerRequestId);
            return state.operationId === undefined ? undefined : state;
          },
          { timeoutMs: 30_000, what: 'the order to take D1 operation' },
        );
        assert.equal(following.operationId, atD1.operationId);
        assert.notEqual(following.status, 'D1_UNREACHABLE');
        assert.equal(following.d1Unreachable, undefined);
        assert.equal((await stack.d1.orders()).filter((o) => o.cardId === order.cardId).length, 1);
      } finally {
        await stack.d1.faults({ timeoutRate: 0, dropNotificationCardIds: [] });
        // D1 may have shipped the card meanwhile, and the order with it: then there is nothing left to end.
        await terminate(order.issuerRequestId).catch(() => undefined);
      }
    }));

  it('keeps the Schedule to RECONCILE_SCHEDULE at worker start: created and updated with it, deleted without it', async () => {
    const workflowBundle = await testWorkflowBundle();
    const startWorker = async (schedule: string | undefined) => {
      const config = loadConfig({ ...stack.envVars, RECONCILE_SCHEDULE: schedule });
      const started = await createCardOrderWorker(config, stack.env.nativeConnection, stack.d1.logs.logger, {
        workflowBundle,
      });
      try {
        await started.runUntil(Promise.resolve());
      } finally {
        await started.close();
      }
    };
    const { taskQueue } = stack.config.temporal;
    const handle = stack.client.temporal.schedule.getHandle(reconcileScheduleId(taskQueue));
    try {
      await startWorker('0 2 * * *');
      const created = await handle.describe();
      assert.equal(created.spec.timezone, 'UTC');
      const [calendar, ...otherCalendars] = created.spec.calendars ?? [];
      assert.deepEqual(otherCalendars, []);
      assert.deepEqual(calendar?.hour, [{ start: 2, end: 2, step: 1 }]);
      assert.deepEqual(calendar?.minute, [{ start: 0, end: 0, step: 1 }]);
      assert.equal(created.action.type, 'startWorkflow');
      assert.equal(created.action.workflowType, 'reconcileOrders');
      assert.equal(created.action.taskQueue, taskQueue);
      assert.equal(created.policies.overlap, 'SKIP');
      assert.equal(created.state.paused, false);

      // A worker started later with another setting brings the Schedule to its own, keeping an operator's pause.
      await handle.pause('paused by the operator');
      await startWorker('30 3 * * *');
      const updated = await handle.describe();
      assert.deepEqual(updated.spec.calendars?.[0]?.hour, [{ start: 3, end: 3, step: 1 }]);
      assert.deepEqual(updated.spec.calendars?.[0]?.minute, [{ start: 30, end: 30, step: 1 }]);
      assert.equal(updated.policies.overlap, 'SKIP');
      assert.equal(updated.state.paused, true);

      await startWorker(undefined);
      await assert.rejects(handle.describe(), ScheduleNotFoundError);

      // Workers starting at once (one process holds one worker per task queue, so their sync alone): one creates
      // the Schedule, the others find it and update it.
      const config = loadConfig({ ...stack.envVars, RECONCILE_SCHEDULE: '0 2 * * *' });
      const outcomes = await Promise.all([1, 2, 3].map(() => syncReconcileSchedule(stack.client.temporal, config)));
      assert.deepEqual(outcomes.sort(), ['created', 'updated', 'updated']);
      assert.equal((await handle.describe()).policies.overlap, 'SKIP');
      const deleted = await Promise.all([1, 2].map(() => syncReconcileSchedule(stack.client.temporal, stack.config)));
      assert.deepEqual(deleted.sort(), ['deleted', 'off']);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });
});
