/**
 * The long paths of a card order, each run for real and recorded (RECORD_HISTORIES=1) into
 * `test/histories/card-order-v2/`, so that replay.test.ts keeps every later change of the workflow deterministic
 * against them: many polls backing off, runs chained by continue-as-new (with a cancel and a change waiting across
 * them), carrier updates through a delivery window, a reconciliation report, and orders still open (in production,
 * in their delivery window, waiting for stock). Each test is a behaviour test too: it asserts how the order ends,
 * or where it waits.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import type { ReconcileOrdersInput, ReconcileSummary } from '../../rules/contracts/reconcile.js';
import { eventually, startContinueAsNewServer } from '../helpers/temporal.js';
import { productionLifecycle } from '../../d1/report-schemas.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

interface Run {
  runId: string;
  events: HistoryEvent[];
}

const eventMs = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

const isPoll = (e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollOrderStatus';

/** Timings under which an order neither polls nor gives up while a test runs: it learns only what it is told. */
const quiet = { notificationTimeout: '1h', pollInterval: '1h', pollMaxInterval: '1h' };

function handleOf(stack: SagaStack, issuerRequestId: string, runId?: string) {
  return stack.client.temporal.workflow.getHandle(
    cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId),
    runId,
  );
}

/** Every run of the order so far, oldest first, followed from its first run through its continue-as-new events. */
async function runsOf(stack: SagaStack, issuerRequestId: string): Promise<Run[]> {
  const { raw } = await handleOf(stack, issuerRequestId).describe();
  const runs: Run[] = [];
  let runId: string | null | undefined = raw.workflowExecutionInfo?.firstRunId;
  while (runId) {
    const events = (await handleOf(stack, issuerRequestId, runId).fetchHistory()).events ?? [];
    runs.push({ runId, events });
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}

/** Records each run of the order as `<name>-run<n>.json`. */
async function recordRuns(stack: SagaStack, issuerRequestId: string, name: string, runs: Run[]): Promise<void> {
  for (const [index, { runId }] of runs.entries()) {
    await stack.recordHistory(issuerRequestId, `${name}-run${index + 1}`, runId);
  }
}

/** Resolves when the order has this status. */
async function statusOf(stack: SagaStack, issuerRequestId: string, status: string, timeoutMs = 30_000) {
  return eventually(
    async () => {
      const state = await stack.client.getOrder(issuerRequestId);
      return state.status === status ? state : undefined;
    },
    { timeoutMs, what: `order ${issuerRequestId} ${status}` },
  );
}

/**
 * Resolves once the order's run waits with nothing under way (no workflow task, no activity): its history holds
 * still, and a recording of it ends where the order waits.
 */
async function waiting(stack: SagaStack, issuerRequestId: string): Promise<HistoryEvent[]> {
  const handle = handleOf(stack, issuerRequestId);
  return eventually(
    async () => {
      const { raw } = await handle.describe();
      if (raw.pendingWorkflowTask || (raw.pendingActivities?.length ?? 0) > 0) return undefined;
      const events = (await handle.fetchHistory()).events ?? [];
      const last = events.at(-1);
      const busy = !last || last.workflowTaskScheduledEventAttributes || last.workflowTaskStartedEventAttributes;
      return busy ? undefined : events;
    },
    { what: `order ${issuerRequestId} waiting` },
  );
}

/** Whether a workflow task of the run was told to continue as new while the run's update was under way. */
function suggestedWhileUpdating(events: HistoryEvent[]): boolean {
  const accepted = events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  const completed = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  if (accepted < 0 || completed < accepted) return false;
  return events
    .slice(accepted, completed)
    .some((e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew === true);
}

describe('long paths recorded for replay: many polls backing off', () => {
  let stack: SagaStack;
  before(async () => {
    // Slow stages (5 s), so the back-off shows before the first one. (The dev server fires timers shorter than a
    // second after about a second: the timings are in seconds.)
    stack = await startSagaStack({ simulatorEnv: { D1_SIM_STEP_DELAY: '5s' } });
  });
  after(async () => {
    await stack?.close();
  });

  it('ships by polls alone when every notification is lost, its polls doubling the wait up to the cap', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({
        timings: {
          notificationTimeout: '1s',
          pollInterval: '1s',
          pollMaxInterval: '4s',
          productionDeadline: '5m',
        },
      });
      await stack.d1.faults({ dropNotificationCardIds: [order.cardId] });
      try {
        await stack.client.orderCard(order);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.equal(result.timeline.at(-1)?.stage, 'CARD_SHIPPED');
        assert.ok(
          result.timeline.every((entry) => entry.source === 'poll'),
          'every stage was learnt by a poll',
        );
        assert.ok(result.state.attempts.polls >= 8, `${result.state.attempts.polls} polls`);

        const [run, ...more] = await runsOf(stack, order.issuerRequestId);
        assert.deepEqual(more, [], 'one run');
        const events = run?.events ?? [];
        // The wait the order chose after each poll: from the poll's end to the next poll.
        const waits: number[] = [];
        let pollEnded: number | undefined;
        for (const e of events) {
          if (isPoll(e) && pollEnded !== undefined) waits.push(eventMs(e) - pollEnded);
          const scheduledId = e.activityTaskCompletedEventAttributes?.scheduledEventId;
          if (scheduledId !== undefined && scheduledId !== null) {
            const scheduled = events.find((s) => String(s.eventId) === String(scheduledId));
            if (scheduled && isPoll(scheduled)) pollEnded = eventMs(e);
          }
        }
        assert.equal(waits.length, events.filter(isPoll).length - 1);
        // Polls that find nothing new back off (1 s, 2 s, 4 s): three waits in a row, each longer by half at least.
        let longest = 1;
        let growing = 1;
        for (let i = 1; i < waits.length; i += 1) {
          growing = (waits[i] ?? 0) >= 1.5 * (waits[i - 1] ?? 0) ? growing + 1 : 1;
          longest = Math.max(longest, growing);
        }
        assert.ok(longest >= 3, `waits between polls ${waits.map(Math.round).join(', ')} ms`);
        assert.ok(Math.max(...waits) < 4000 + 1000, `no wait far past the cap: ${waits.map(Math.round).join(', ')}`);
        await stack.recordHistory(order.issuerRequestId, 'polls-backing-off');
      } finally {
        await stack.d1.faults({ dropNotificationCardIds: [] });
      }
    }));
});

describe('long paths recorded for replay: continue-as-new', () => {
  let stack: SagaStack;
  before(async () => {
    // A server of its own that suggests continue-as-new after 8 events, as one does after weeks of waiting.
    const temporal = await startContinueAsNewServer(8);
    stack = await startSagaStack({
      temporal,
      serviceEnv: { ORDER_CHANGE_VERDICT_TIMEOUT: '1s' },
      simulatorEnv: { D1_SIM_STEP_DELAY: '1500ms' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  /**
   * Polls when a stage's notification is a second late (stages are 1.5 s apart): each poll is a wake-up by timer and
   * activity, where the order takes the continue-as-new the server suggests (a wake-up by notification alone does not).
   */
  const pollingEachStage = { notificationTimeout: '1s', pollInterval: '1s', pollMaxInterval: '1s' };

  /** Resolves once the order runs a run after its first, in production. */
  async function continuedInProduction(issuerRequestId: string): Promise<number> {
    return eventually(
      async () => {
        const runs = await runsOf(stack, issuerRequestId);
        const { status } = await stack.client.getOrder(issuerRequestId);
        return runs.length >= 2 && status === 'IN_PRODUCTION' ? runs.length : undefined;
      },
      { timeoutMs: 30_000, what: 'a continued run in production' },
    );
  }

  it('continues as new run after run, carrying its state, and ships in its last run', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: pollingEachStage });
      await stack.client.orderCard(order);
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'SHIPPED');
      const runs = await runsOf(stack, order.issuerRequestId);
      assert.ok(runs.length >= 3, `${runs.length} runs`);
      // Every stage reached the order, whichever run it came to, by notification or poll, in production order.
      const stages = result.timeline.filter((e) => !e.late && e.operation === 'PRODUCE').map((e) => e.stage);
      assert.deepEqual(stages, productionLifecycle);
      const lastStart = eventMs(runs.at(-1)?.events[0] ?? {});
      assert.ok(Date.parse(result.timeline[0]?.at ?? '') < lastStart, 'the timeline came over from the first run');
      assert.equal(result.state.attempts.submissions, 1, 'submitted once, in the first run');
      await recordRuns(stack, order.issuerRequestId, 'continued-as-new', runs);
    }));

  it('answers a cancel sent after a continue-as-new, holding the next one off until D1 agreed: CANCELLED', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: quiet });
      await stack.client.orderCard(order);
      const runsBefore = await continuedInProduction(order.issuerRequestId);
      // D1's verdict is not notified: the order polls for it while the cancel waits.
      await stack.d1.faults({ dropNotificationCardIds: [order.cardId] });
      try {
        assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId), { outcome: 'CANCELLED' });
      } finally {
        await stack.d1.faults({ dropNotificationCardIds: [] });
      }
      const result = await stack.client.waitForOrder(order.issuerRequestId);
      assert.equal(result.status, 'CANCELLED');
      assert.equal(result.state.stage, 'CARD_PROD_CANCELED');
      const runs = await runsOf(stack, order.issuerRequestId);
      assert.ok(runs.length >= runsBefore, `${runs.length} runs`);
      const withCancel = runs.filter((run) => run.events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes));
      assert.equal(withCancel.length, 1, 'the cancel was served in one run');
      assert.notEqual(withCancel[0]?.runId, runs[0]?.runId, 'a continued run served it');
      assert.equal(withCancel[0]?.runId, runs.at(-1)?.runId, 'and no run followed it');
      assert.ok(suggestedWhileUpdating(withCancel[0]?.events ?? []), 'continue-as-new was due while the cancel waited');
      const [atD1] = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
      assert.equal(atD1?.detailsStatus, 'CARD_PROD_CANCELED');
      await recordRuns(stack, order.issuerRequestId, 'cancel-during-continue-as-new', runs);
    }));

  it('answers an accelerate sent after a continue-as-new, continues as new once it is answered, and ships', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: pollingEachStage });
      await stack.client.orderCard(order);
      await continuedInProduction(order.issuerRequestId);
      // From here on D1 notifies nothing: the order polls for the center's verdict while the change waits, then for
      // the rest of production.
      await stack.d1.faults({ dropNotificationCardIds: [order.cardId] });
      try {
        assert.deepEqual(await stack.client.accelerateOrder(order.issuerRequestId), { outcome: 'ACCEPTED' });
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.equal(result.timeline.find((e) => e.stage === 'CARD_SHIPPED')?.source, 'poll');
        assert.deepEqual(
          result.state.changes?.map((c) => [c.type, c.outcome]),
          [['ACCELERATE', 'ACCEPTED']],
        );
        const runs = await runsOf(stack, order.issuerRequestId);
        const withChange = runs.findIndex((run) =>
          run.events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes),
        );
        assert.ok(withChange >= 1, `the change came to run ${withChange + 1}, after a continue-as-new`);
        assert.ok(
          suggestedWhileUpdating(runs[withChange]?.events ?? []),
          'continue-as-new was due while the change waited',
        );
        assert.ok(runs.length > withChange + 1, `${runs.length} runs: the order continued as new after the verdict`);
        const atD1 = (await stack.d1.orders()).find((o) => o.cardId === order.cardId);
        assert.deepEqual(atD1?.updates, ['ACCELERATE']);
        await recordRuns(stack, order.issuerRequestId, 'change-during-continue-as-new', runs);
      } finally {
        await stack.d1.faults({ dropNotificationCardIds: [] });
      }
    }));
});

describe('long paths recorded for replay: carrier updates and the reconciliation', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({ simulatorEnv: { D1_SIM_STEP_DELAY: '300ms' } });
  });
  after(async () => {
    await stack?.close();
  });

  it('hears every carrier update of its delivery window, tells the issuer of each, then completes SHIPPED', () =>
    stack.withWorker(async () => {
      const carrier = ['IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERY_ATTEMPTED', 'DELIVERED'];
      await stack.d1.faults({ shipmentUpdates: carrier });
      try {
        const order = stack.newOrder({ timings: { deliveryWindow: '6s' } });
        await stack.client.orderCard(order);
        const delivered = await eventually(
          async () => {
            const state = await stack.client.getOrder(order.issuerRequestId);
            return state.shipment?.status === 'DELIVERED' ? state : undefined;
          },
          { what: 'the last carrier update' },
        );
        assert.deepEqual([delivered.status, delivered.execution], ['SHIPPED', 'RUNNING']);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.equal(result.shipment?.status, 'DELIVERED');
        assert.deepEqual(
          result.timeline.filter((e) => e.stage === 'CARD_SHIPPED').map((e) => e.shipmentStatus),
          ['PICKED_UP', ...carrier],
        );
        const events = await eventually(() => {
          const mine = stack.events.events.filter((e) => e.order.issuerRequestId === order.issuerRequestId);
          return mine.some((e) => e.type === 'completed') ? mine.map((e) => e.type) : undefined;
        });
        assert.deepEqual(
          events.filter((t) => t !== 'status-changed'),
          ['submitted', 'shipped', ...carrier.map(() => 'shipment-updated'), 'completed'],
        );
        await stack.recordHistory(order.issuerRequestId, 'delivery-window-carrier-updates');
      } finally {
        await stack.d1.faults({ shipmentUpdates: [] });
      }
    }));

  it("moves an order that missed D1's shipment to SHIPPED on the reconciliation's report, and ends it", () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: quiet });
      await stack.client.orderCard(order);
      await statusOf(stack, order.issuerRequestId, 'IN_PRODUCTION');
      // From here on D1 goes on without a word to the order, which does not poll: it ships the card unheard.
      await stack.d1.faults({ dropNotificationCardIds: [order.cardId] });
      try {
        await eventually(
          async () =>
            (await stack.d1.orders()).some((o) => o.cardId === order.cardId && o.detailsStatus === 'CARD_SHIPPED') ||
            undefined,
          { timeoutMs: 30_000, what: 'D1 to ship the card' },
        );
        const unaware = await stack.client.getOrder(order.issuerRequestId);
        assert.equal(unaware.status, 'IN_PRODUCTION');

        const summary = await stack.client.temporal.workflow
          .getHandle<(input: ReconcileOrdersInput) => Promise<ReconcileSummary>>(await stack.client.reconcileNow())
          .result();
        assert.equal(summary.counts.updated, 1);
        assert.equal(summary.counts.disagreements, 1);

        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        const shipped = result.timeline.find((e) => e.stage === 'CARD_SHIPPED');
        assert.equal(shipped?.source, 'reconcile');
        assert.ok(
          result.timeline.every((e) => e.source !== 'poll'),
          'no poll: the reconciliation told it',
        );
        const signals = (await handleOf(stack, order.issuerRequestId).fetchHistory()).events?.filter(
          (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'd1StatusReport',
        );
        assert.equal(signals?.length, 1);
        await stack.recordHistory(order.issuerRequestId, 'reconciliation-report');
      } finally {
        await stack.d1.faults({ dropNotificationCardIds: [] });
      }
    }));
});

describe('long paths recorded for replay: orders still open', () => {
  let stack: SagaStack;
  before(async () => {
    // Stages 1.5 s apart, time enough to stop the news at a stage; re-orders after stock-outs wait an hour.
    stack = await startSagaStack({
      serviceEnv: { ORDER_OUT_OF_STOCK_REORDER_DELAY: '1h' },
      simulatorEnv: { D1_SIM_STEP_DELAY: '1500ms' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  const terminate = (issuerRequestId: string) =>
    handleOf(stack, issuerRequestId).terminate('recorded open; not needed any more');

  it('waits in production, with no poll due before the hour, while D1 makes the card', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: quiet });
      await stack.client.orderCard(order);
      try {
        await eventually(
          async () =>
            (await stack.client.getOrder(order.issuerRequestId)).stage === 'CARD_PROD_ONGOING' ? true : undefined,
          { timeoutMs: 30_000, what: 'CARD_PROD_ONGOING' },
        );
        // D1 says no more: the order stays where it is, at CARD_PROD_ONGOING.
        await stack.d1.faults({ dropNotificationCardIds: [order.cardId] });
        await waiting(stack, order.issuerRequestId);
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.deepEqual(
          [state.status, state.stage, state.execution],
          ['IN_PRODUCTION', 'CARD_PROD_ONGOING', 'RUNNING'],
        );
        assert.equal(state.attempts.polls, 0);
        assert.ok(Date.parse(state.nextPollAt ?? '') > Date.now() + 30 * 60_000, `next poll ${state.nextPollAt}`);
        await stack.recordHistory(order.issuerRequestId, 'open-in-production');
      } finally {
        await stack.d1.faults({ dropNotificationCardIds: [] });
        await terminate(order.issuerRequestId);
      }
    }));

  it('listens in its delivery window after a carrier update, SHIPPED and still running', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ shipmentUpdates: ['IN_TRANSIT'] });
      const order = stack.newOrder({ timings: { ...quiet, deliveryWindow: '1h' } });
      try {
        await stack.client.orderCard(order);
        await eventually(
          async () =>
            (await stack.client.getOrder(order.issuerRequestId)).shipment?.status === 'IN_TRANSIT' ? true : undefined,
          { timeoutMs: 30_000, what: 'the carrier update' },
        );
        await waiting(stack, order.issuerRequestId);
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.deepEqual([state.status, state.execution], ['SHIPPED', 'RUNNING']);
        assert.ok(Date.parse(state.delivery?.windowEndsAt ?? '') > Date.now() + 30 * 60_000, 'the window is open');
        await stack.recordHistory(order.issuerRequestId, 'open-in-delivery-window');
      } finally {
        await stack.d1.faults({ shipmentUpdates: [] });
        await terminate(order.issuerRequestId);
      }
    }));

  it('waits for stock after OUT_OF_STOCK, its re-order an hour away', () =>
    stack.withWorker(async () => {
      const order = stack.newOrder({ timings: quiet });
      await stack.d1.faults({
        outcomes: [{ match: { cardId: order.cardId }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK', times: 1 }],
      });
      try {
        await stack.client.orderCard(order);
        await statusOf(stack, order.issuerRequestId, 'AWAITING_STOCK');
        await waiting(stack, order.issuerRequestId);
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.deepEqual([state.status, state.execution], ['AWAITING_STOCK', 'RUNNING']);
        assert.equal(state.failure?.errorCode, 'OUT_OF_STOCK');
        assert.equal(state.attempts.reorders, 0);
        await stack.recordHistory(order.issuerRequestId, 'open-awaiting-stock');
      } finally {
        await stack.d1.faults({ outcomes: [] });
        await terminate(order.issuerRequestId);
      }
    }));
});
