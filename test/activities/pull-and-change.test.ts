import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Worker, type WorkflowBundle, type WorkflowBundlePath } from '@temporalio/worker';
import { Pool, type Dispatcher } from 'undici';
import { createActivities, type CardOrderActivities } from '../../activities/index.js';
import { projectRoot } from '../../config/config.js';
import type { D1Client } from '../../d1/client.js';
import type { Operation } from '../../d1/report-schemas.js';
import { loadProgramCatalog, type ProgramCatalog } from '../../orders/program-catalog.js';
import { activityRunnerWorkflow, type ActivityRunnerInput } from '../fixtures/workflows/activity-runner.js';
import { clientFor, orderBody } from '../helpers/d1-client.js';
import { startD1Stack, type D1Stack } from '../helpers/d1-stack.js';
import { testEnvironment, testWorkflowBundle, uniqueName } from '../helpers/temporal.js';

const ISSUER = 'ISSUER0001';
const IDEMPOTENCY_HEADER = 'idempotency-key';
const newCardId = () => `card-${randomUUID().slice(0, 8)}`;

/** The value of `name` among the headers undici was given (an object here, as the D1 client passes them). */
function headerOf(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (!headers || Array.isArray(headers) || typeof headers !== 'object') return undefined;
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}

/** A pool to the simulator that records the idempotency header of every Pull & change request it sends. */
function recordingPool(url: string): { dispatcher: Dispatcher; sent: (string | undefined)[] } {
  const sent: (string | undefined)[] = [];
  const dispatcher = new Pool(url).compose((dispatch) => (options, handler) => {
    if (options.path.endsWith('/operations:updateOrder')) sent.push(headerOf(options.headers, IDEMPOTENCY_HEADER));
    return dispatch(options, handler);
  });
  return { dispatcher, sent };
}

const updateOperations = (operations: Operation[]) => operations.filter((op) => op.operation === 'UPDATE_ORDER');

describe('Pull & change activities against a slow D1, in a real worker', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundlePath | WorkflowBundle;
  let catalog: ProgramCatalog;
  let stack: D1Stack;
  let d1: D1Client;

  before(async () => {
    env = await testEnvironment();
    workflowBundle = await testWorkflowBundle();
    catalog = await loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
    // Production steps an hour apart: every order stays cancellable for the whole file.
    stack = await startD1Stack({ D1_SIM_STEP_DELAY: '1h' }, { D1_REQUEST_TIMEOUT: '20s' });
    d1 = await clientFor(stack);
  });
  after(async () => {
    await d1?.close();
    await stack?.close();
    await env?.teardown();
  });

  it('completes each D1 activity once when D1 answers slower than its heartbeat timeout, with one request each', async () => {
    const cards = [newCardId(), newCardId(), newCardId(), newCardId()];
    for (const cardId of cards) await d1.orderCard(ISSUER, cardId, await orderBody(stack));
    const [cancelCard, changeCard, compensateCard, statusCard] = cards as [string, string, string, string];
    const issuerRequestIds = (await stack.orders()).map((order) => order.issuerRequestId);

    // Every D1 answer takes 2.5 s, the activities' heartbeat timeout is 1 s, and a timeout is not retried here.
    await stack.faults({ latencyMs: 2_500 });
    const taskQueue = uniqueName('pull-and-change');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: createActivities({ d1, catalog }),
    });
    const runOnce = (activity: keyof CardOrderActivities, input: unknown) => {
      const options: ActivityRunnerInput = {
        activity,
        input,
        heartbeatTimeoutMs: 1_000,
        startToCloseTimeoutMs: 30_000,
        maximumAttempts: 1,
      };
      return env.client.workflow.execute(activityRunnerWorkflow, {
        taskQueue,
        workflowId: uniqueName(activity),
        args: [options],
      });
    };
    const results = await worker.runUntil(
      Promise.all([
        runOnce('requestOrderCancel', { issuerId: ISSUER, cardId: cancelCard }),
        runOnce('requestOrderChange', { issuerId: ISSUER, cardId: changeCard, request: { type: 'ACCELERATE' } }),
        runOnce('cancelD1Order', { issuerId: ISSUER, cardId: compensateCard, issuerRequestIds }),
        runOnce('fetchOrderStatus', { issuerId: ISSUER, cardId: statusCard }),
      ]),
    );
    await stack.faults({ latencyMs: 0 });

    const [cancelled, changed, compensated, status] = results as [
      { operationId: string },
      { operationId: string },
      { cancelled: boolean; operationId?: string },
      { operations: Operation[] },
    ];
    assert.equal(compensated.cancelled, true);
    assert.ok(compensated.operationId, 'the compensation names its cancel request, whose verdict the order awaits');
    assert.equal(status.operations.length, 1);
    for (const [cardId, operationId] of [
      [cancelCard, cancelled.operationId],
      [changeCard, changed.operationId],
    ] as const) {
      const updates = updateOperations((await d1.getProductionStatus(ISSUER, cardId)).operations);
      assert.deepEqual(
        updates.map((op) => op.operationId),
        [operationId],
      );
    }
    assert.equal(updateOperations((await d1.getProductionStatus(ISSUER, compensateCard)).operations).length, 1);
  });
});

describe('Pull & change request identity across attempts', () => {
  let stack: D1Stack;
  let d1: D1Client;
  let sent: (string | undefined)[];
  let pool: Dispatcher;
  let activities: CardOrderActivities;

  before(async () => {
    const catalog = await loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
    stack = await startD1Stack({ D1_SIM_STEP_DELAY: '1h' });
    const recording = recordingPool(stack.simulator.url);
    sent = recording.sent;
    pool = recording.dispatcher;
    d1 = await clientFor(stack, { dispatcher: recording.dispatcher });
    activities = createActivities({ d1, catalog });
  });
  after(async () => {
    await pool?.close();
    await stack?.close();
  });

  /** Runs `activity` as attempt `attempt` of the scheduled activity `activityId` of workflow run `runId`. */
  const attemptOf =
    (runId: string, activityId: string) =>
    <I, O>(attempt: number, activity: (input: I) => Promise<O>, input: I): Promise<O> =>
      new MockActivityEnvironment(
        { workflowExecution: { workflowId: 'card-order-ISSUER0001-x', runId }, activityId, attempt },
        // Failures are expected here; only errors are worth a line.
        { logger: new DefaultLogger('ERROR') },
      ).run(activity, input);

  const orderedCard = async () => {
    const cardId = newCardId();
    await d1.orderCard(ISSUER, cardId, await orderBody(stack));
    return cardId;
  };
  const updatesOf = async (cardId: string) =>
    updateOperations((await d1.getProductionStatus(ISSUER, cardId)).operations);

  it('sends the same identity on every attempt of requestOrderCancel, and D1 keeps one cancel', async () => {
    const cardId = await orderedCard();
    const runId = randomUUID();
    const attempt = attemptOf(runId, '12');
    sent.length = 0;
    const first = await attempt(1, activities.requestOrderCancel, { issuerId: ISSUER, cardId });
    const second = await attempt(2, activities.requestOrderCancel, { issuerId: ISSUER, cardId });

    assert.equal(sent.length, 2);
    assert.match(sent[0] ?? '', /^[A-Za-z0-9_-]{1,64}$/);
    assert.equal(sent[1], sent[0]);
    assert.equal(second.operationId, first.operationId);
    assert.deepEqual(
      (await updatesOf(cardId)).map((op) => op.operationId),
      [first.operationId],
    );

    // Another scheduled activity of the same run (a later cancel request) is another request.
    const later = await attemptOf(runId, '13')(1, activities.requestOrderCancel, { issuerId: ISSUER, cardId });
    assert.notEqual(sent[2], sent[0]);
    assert.notEqual(later.operationId, first.operationId);
  });

  it('sends the same identity on every attempt of requestOrderChange and cancelD1Order, and D1 acts once', async () => {
    const changeCard = await orderedCard();
    const change = attemptOf(randomUUID(), '4');
    const input = { issuerId: ISSUER, cardId: changeCard, request: { type: 'ACCELERATE' as const } };
    sent.length = 0;
    const changed = [
      await change(1, activities.requestOrderChange, input),
      await change(2, activities.requestOrderChange, input),
      await change(3, activities.requestOrderChange, input),
    ];
    assert.equal(sent.length, 3);
    assert.equal(new Set(sent).size, 1);
    assert.equal(new Set(changed.map((answer) => answer.operationId)).size, 1);
    assert.equal((await updatesOf(changeCard)).length, 1);

    const compensateCard = await orderedCard();
    const [order] = (await stack.orders()).filter((o) => o.cardId === compensateCard);
    const compensation = { issuerId: ISSUER, cardId: compensateCard, issuerRequestIds: [order?.issuerRequestId ?? ''] };
    const compensate = attemptOf(randomUUID(), '9');
    sent.length = 0;
    const first = await compensate(1, activities.cancelD1Order, compensation);
    const second = await compensate(2, activities.cancelD1Order, compensation);
    assert.equal(first.cancelled, true);
    assert.deepEqual(second, first, 'the same cancel operation both times');
    assert.equal(sent.length, 2);
    assert.equal(sent[1], sent[0]);
    assert.equal((await updatesOf(compensateCard)).length, 1);
  });

  it("sends a caller's own requestId as it is, and refuses one outside D1's id pattern before calling D1", async () => {
    const cardId = await orderedCard();
    sent.length = 0;
    const requestId = `cancel-${randomUUID()}`;
    await attemptOf(randomUUID(), '1')(1, activities.requestOrderCancel, { issuerId: ISSUER, cardId, requestId });
    assert.deepEqual(sent, [requestId]);

    const invalid = { issuerId: ISSUER, cardId, requestId: 'not an id!' };
    await assert.rejects(
      attemptOf(randomUUID(), '2')(1, activities.requestOrderCancel, invalid),
      (err: unknown) =>
        err instanceof ApplicationFailure && err.type === 'ERR_ORDER_INVALID' && err.nonRetryable === true,
    );
    assert.equal(sent.length, 1);
  });
});
