import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDataConverter } from '../../codec/data-converter.js';
import type { Operation } from '../../d1/report-schemas.js';
import { reorderRequestId } from '../../orders/reorder-id.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { cardOrdersQuery, NotificationRouter, unmatchedWorkflowId } from '../../temporal/notification-router.js';
import type { PartialBatchAnswer } from '../../webhook/server.js';
import type { CARD_ORDER_WORKFLOW_TYPES } from '../../rules/contracts/card-order.js';
import { cardIdKey, issuerIdKey } from '../../rules/contracts/search-attributes.js';
import { recordedNotificationsQuery } from '../fixtures/workflows/notification-recorder.js';
import {
  eventually,
  startLocalTestServer,
  testEnvironment,
  testWorkflowBundle,
  uniqueName,
} from '../helpers/temporal.js';
import {
  counter,
  exists,
  type Harness,
  ISSUER,
  newCardId,
  notify,
  operation,
  recorded,
  signalsIn,
  startWebhook,
  token,
} from './support.js';

type CardOrderType = (typeof CARD_ORDER_WORKFLOW_TYPES)[number];

describe('notification routing', () => {
  let env: TestWorkflowEnvironment;
  let h: Harness;
  let worker: Worker;
  let running: Promise<void>;
  /** A task queue no worker polls: card orders parked there stay Running and record every signal in history. */
  const parkedQueue = uniqueName('parked-orders');

  before(async () => {
    env = await testEnvironment();
    // D1's largest batches (1,000 operations) and the default deadline.
    h = await startWebhook(
      { address: env.address, connection: env.connection },
      { WEBHOOK_BODY_LIMIT_BYTES: '1048576', WEBHOOK_SIGNAL_TIMEOUT: '5s' },
    );
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: h.config.temporal.taskQueue,
      workflowBundle: await testWorkflowBundle(),
      dataConverter: { payloadCodecs: (await createDataConverter(h.config)).payloadCodecs ?? [] },
      maxConcurrentWorkflowTaskExecutions: 100,
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await h?.close();
    await env?.teardown();
  });

  /**
   * A card order of `type`, as the client starts it (workflow id from its issuerRequestId, IssuerId and CardId
   * search attributes), on a queue no worker polls: it stays Running, and its history shows what it was sent.
   */
  async function parkOrder(type: CardOrderType, cardId: string, { searchAttributes = true } = {}) {
    const issuerRequestId = uniqueName('req');
    const workflowId = cardOrderWorkflowId(ISSUER, issuerRequestId);
    await h.client.workflow.start(type, {
      workflowId,
      taskQueue: parkedQueue,
      args: [],
      ...(searchAttributes && {
        typedSearchAttributes: [
          { key: issuerIdKey, value: ISSUER },
          { key: cardIdKey, value: cardId },
        ],
      }),
    });
    return { workflowId, issuerRequestId, cardId };
  }

  /** Waits until visibility answers `query` with `count` workflows (it lags the server's own state a little). */
  const visible = (query: string, count = 1) =>
    eventually(async () => ((await h.client.workflow.count(query)).count === count ? true : undefined), {
      what: `visibility: ${query}`,
    });

  it('signals a 1,000-operation batch across 200 orders once per order, in batch order, within the deadline', async () => {
    const orders = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const issuerRequestId = uniqueName('req');
        const workflowId = cardOrderWorkflowId(ISSUER, issuerRequestId);
        await h.client.workflow.start('notificationRecorder', {
          workflowId,
          taskQueue: h.config.temporal.taskQueue,
          args: [],
        });
        return { workflowId, issuerRequestId, cardId: newCardId() };
      }),
    );
    // Five reports per order, interleaved across orders as a D1 batch would mix them.
    const operations: Operation[] = [];
    for (let round = 0; round < 5; round++) {
      for (const order of orders) {
        operations.push(operation(order.cardId, { issuerRequestId: order.issuerRequestId }));
      }
    }
    const signalsBefore = await counter(h, 'webhook_signals_total');
    const lookupsBefore = await counter(h, 'webhook_order_lookups_total');

    const bearer = await token(h);
    const started = Date.now();
    const response = await notify(h, bearer, { operations });
    const elapsed = Date.now() - started;
    assert.equal(response.statusCode, 204, response.body);
    assert.ok(elapsed < h.config.webhook.signalTimeoutMs, `answered after ${elapsed} ms`);
    assert.equal((await counter(h, 'webhook_signals_total')) - signalsBefore, 200);
    assert.equal((await counter(h, 'webhook_order_lookups_total')) - lookupsBefore, 0);

    // What each order received: its five operations, in batch order, in one signal.
    const received = await eventually(
      async () => {
        const all = await Promise.all(
          orders.map((order) => h.client.workflow.getHandle(order.workflowId).query(recordedNotificationsQuery)),
        );
        return all.every((one) => one.operationIds.length >= 5) ? all : undefined;
      },
      { timeoutMs: 30_000, what: 'every order to record its operations' },
    );
    orders.forEach((order, i) => {
      const expected = operations
        .filter((op) => op.issuerRequestId === order.issuerRequestId)
        .map((op) => op.operationId);
      assert.deepEqual(received[i], { signals: 1, operationIds: expected }, order.workflowId);
    });
    await Promise.all(orders.map((order) => h.client.workflow.getHandle(order.workflowId).terminate('test done')));
  });

  it("routes re-order notifications ({original}--r{n}) to the original's order, without a visibility query", async () => {
    // No search attributes: only the id can find it.
    const order = await parkOrder('cardOrderV2', newCardId(), { searchAttributes: false });
    const first = operation(order.cardId, { issuerRequestId: reorderRequestId(order.issuerRequestId, 1) });
    const second = operation(order.cardId, { issuerRequestId: reorderRequestId(order.issuerRequestId, 2) });
    const lookupsBefore = await counter(h, 'webhook_order_lookups_total');

    const response = await notify(h, await token(h), { operations: [first, second] });
    assert.equal(response.statusCode, 204, response.body);
    assert.deepEqual(await signalsIn(h, order.workflowId), [[first.operationId, second.operationId]]);
    assert.equal((await counter(h, 'webhook_order_lookups_total')) - lookupsBefore, 0);
    assert.equal(await exists(h, unmatchedWorkflowId(ISSUER, order.cardId)), false);
  });

  it('finds the running order of a card among both card-order workflow types, one signal per order', async () => {
    const legacy = await parkOrder('cardOrder', newCardId());
    const current = await parkOrder('cardOrderV2', newCardId());
    for (const order of [legacy, current]) await visible(`WorkflowId = '${order.workflowId}'`);
    // Without issuerRequestId, interleaved; plus one naming its order, which must share that order's one signal.
    const ops = [
      operation(legacy.cardId),
      operation(current.cardId),
      operation(current.cardId, { issuerRequestId: current.issuerRequestId }),
      operation(legacy.cardId),
      operation(current.cardId),
    ];
    const response = await notify(h, await token(h), { operations: ops });
    assert.equal(response.statusCode, 204, response.body);

    const ids = (indexes: number[]) => indexes.map((i) => ops[i]?.operationId);
    assert.deepEqual(await signalsIn(h, legacy.workflowId), [ids([0, 3])]);
    assert.deepEqual(await signalsIn(h, current.workflowId), [ids([1, 2, 4])]);
    for (const order of [legacy, current]) {
      assert.equal(await exists(h, unmatchedWorkflowId(ISSUER, order.cardId)), false);
    }
  });

  it('signals an order once when an operation of its card names an order that does not exist', async () => {
    const order = await parkOrder('cardOrderV2', newCardId());
    await visible(`WorkflowId = '${order.workflowId}'`);
    // Its own report, then one naming an order placed elsewhere (no workflow of ours): both are its card's.
    const ops = [
      operation(order.cardId, { issuerRequestId: order.issuerRequestId }),
      operation(order.cardId, { issuerRequestId: uniqueName('req-elsewhere') }),
    ];
    const response = await notify(h, await token(h), { operations: ops });
    assert.equal(response.statusCode, 204, response.body);
    assert.deepEqual(await signalsIn(h, order.workflowId), [ops.map((op) => op.operationId)]);
    assert.equal(await exists(h, unmatchedWorkflowId(ISSUER, order.cardId)), false);
  });

  it('acknowledges notifications for an ended order as late, without an unmatched record', async () => {
    const shipped = await parkOrder('cardOrderV2', newCardId());
    const shippedLegacy = await parkOrder('cardOrder', newCardId());
    for (const order of [shipped, shippedLegacy]) {
      await h.client.workflow.getHandle(order.workflowId).terminate('stands in for an order that ended');
    }
    // The card-only report finds the ended order by visibility: wait until it shows it ended.
    await visible(`WorkflowId = '${shippedLegacy.workflowId}' AND ExecutionStatus = 'Terminated'`);
    const lateBefore = await counter(h, 'webhook_operations_total', { outcome: 'late' });
    const unmatchedBefore = await counter(h, 'webhook_operations_total', { outcome: 'unmatched' });

    const ops = [
      operation(shipped.cardId, { issuerRequestId: shipped.issuerRequestId, status: 'SUCCESSFUL' }),
      operation(shipped.cardId, { issuerRequestId: reorderRequestId(shipped.issuerRequestId, 1) }),
      operation(shippedLegacy.cardId, { status: 'SUCCESSFUL' }),
    ];
    const response = await notify(h, await token(h), { operations: ops });
    assert.equal(response.statusCode, 204, response.body);

    assert.equal((await counter(h, 'webhook_operations_total', { outcome: 'late' })) - lateBefore, 3);
    assert.equal((await counter(h, 'webhook_operations_total', { outcome: 'unmatched' })) - unmatchedBefore, 0);
    for (const order of [shipped, shippedLegacy]) {
      assert.equal(await exists(h, unmatchedWorkflowId(ISSUER, order.cardId)), false);
      assert.deepEqual(await signalsIn(h, order.workflowId), []);
    }
    const logged = h.logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const late = logged.find((line) => line.msg === 'late notifications for ended orders');
    assert.ok(late, 'a log line for the late notifications');
    assert.equal(late.late, 3);
    assert.deepEqual(new Set(late.orders as string[]), new Set([shipped.workflowId, shippedLegacy.workflowId]));
  });

  it('stores the valid operations of a batch, reports the invalid ones in a 200, and logs no card data', async () => {
    const order = await parkOrder('cardOrderV2', newCardId());
    const strayCard = newCardId('stray');
    const valid = operation(order.cardId, { issuerRequestId: order.issuerRequestId });
    const stray = operation(strayCard);
    const pan = '4111111111111111';
    const ops = [
      valid,
      { ...operation(order.cardId), cardId: `${pan} JANE DOE`, startTime: 'yesterday' },
      stray,
      42,
      { ...operation(order.cardId, { issuerRequestId: order.issuerRequestId }), status: 'DONE' },
    ];
    const rejectedBefore = await counter(h, 'webhook_operations_total', { outcome: 'rejected' });

    const response = await notify(h, await token(h), { operations: ops });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const answer = response.json<PartialBatchAnswer>();
    assert.equal(answer.accepted, 2);
    assert.deepEqual(answer.rejected.map((r) => `${r.index} ${r.field}`).sort(), [
      '1 operations.1.cardId',
      '1 operations.1.startTime',
      '3 operations.3',
      '4 operations.4.status',
    ]);
    for (const entry of answer.rejected) assert.ok(entry.message.length > 0);
    assert.ok(!response.body.includes(pan));

    // The valid ones reached their workflows, once.
    assert.deepEqual(await signalsIn(h, order.workflowId), [[valid.operationId]]);
    assert.deepEqual(await eventually(() => recorded(h, strayCard)), [stray]);
    assert.equal((await counter(h, 'webhook_operations_total', { outcome: 'rejected' })) - rejectedBefore, 3);
    const text = h.logs.text();
    assert.match(text, /invalid operations rejected/);
    assert.ok(!text.includes(pan), 'no card data in the log');
    assert.ok(!text.includes('JANE'), 'no card data in the log');

    // D1 redelivers a batch it got no 2xx for; with a 200 it has nothing to redeliver, and a second delivery of the
    // same batch is the same answer.
    const again = await notify(h, await token(h), { operations: ops });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json<PartialBatchAnswer>(), answer);
  });

  it('builds visibility queries over both card-order types from checked ids only', () => {
    assert.equal(
      cardOrdersQuery(ISSUER, 'card_1-A', 'running'),
      `WorkflowType IN ('cardOrder', 'cardOrderV2') AND ExecutionStatus = 'Running' AND IssuerId = 'ISSUER0001' AND CardId = 'card_1-A'`,
    );
    assert.match(cardOrdersQuery(ISSUER, 'card_1-A', 'ended'), /ExecutionStatus != 'Running'/);
    const widening = "x' OR CardId != 'x";
    assert.throws(() => cardOrdersQuery(ISSUER, widening, 'running'), RangeError);
    assert.throws(() => cardOrdersQuery("ISSUER'001", 'card-1', 'running'), RangeError);
    assert.throws(() => cardOrdersQuery(ISSUER, 'card\\1', 'running'), RangeError);
  });

  it('refuses a card id with a quote before it reaches a visibility query, so no other order is signalled', async () => {
    const widening = "x' OR CardId != 'x";
    // A running order of another card, that a widened query would find.
    const victim = await parkOrder('cardOrderV2', newCardId('victim'));
    await visible(`WorkflowId = '${victim.workflowId}'`);
    const signalsBefore = await counter(h, 'webhook_signals_total');

    // Through the webhook: the operation is refused before any query.
    const response = await notify(h, await token(h), { operations: [{ ...operation('x'), cardId: widening }] });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(
      response.json<PartialBatchAnswer>().rejected.map((r) => r.field),
      ['operations.0.cardId'],
    );
    // And the router on its own, handed an operation nobody checked: it refuses to build the query.
    const router = new NotificationRouter(h.client, h.config.temporal.taskQueue, {
      unmatchedRetentionMs: 60_000,
      metrics: h.metrics,
    });
    await assert.rejects(
      h.client.withDeadline(Date.now() + 5_000, () =>
        router.deliverBatch(ISSUER, [{ ...operation('x'), cardId: widening }]),
      ),
      RangeError,
    );
    assert.deepEqual(await signalsIn(h, victim.workflowId), []);
    assert.equal((await counter(h, 'webhook_signals_total')) - signalsBefore, 0);
  });
});

describe('notification routing when an order refuses its signal', () => {
  let env: TestWorkflowEnvironment;
  let h: Harness;
  const parkedQueue = uniqueName('parked-orders');

  before(async () => {
    // A server of its own where a run takes two signals at most: an order that has had them refuses the next one,
    // as Temporal refuses a signal it cannot take, while the orders beside it take theirs.
    env = await startLocalTestServer(['--dynamic-config-value', 'history.maximumSignalsPerExecution=2']);
    h = await startWebhook({ address: env.address, connection: env.connection });
  });
  after(async () => {
    await h?.close();
    await env?.teardown();
  });

  /** A card order no worker runs: it stays Running, and its history shows what it was sent. */
  async function parkOrder() {
    const issuerRequestId = uniqueName('req');
    const workflowId = cardOrderWorkflowId(ISSUER, issuerRequestId);
    await h.client.workflow.start('cardOrderV2', { workflowId, taskQueue: parkedQueue, args: [] });
    return { workflowId, issuerRequestId, cardId: newCardId() };
  }

  it('signals every other order of the batch, answers 503, and a redelivery adds nothing to their histories', async () => {
    const full = await parkOrder();
    const fullHandle = h.client.workflow.getHandle(full.workflowId);
    for (let i = 0; i < 2; i++) await fullHandle.signal('filler');
    const others = [await parkOrder(), await parkOrder()];
    // The refusing order first: one order at a time, the others come after its failure.
    const ops = [full, ...others].map((order) => operation(order.cardId, { issuerRequestId: order.issuerRequestId }));
    const router = new NotificationRouter(h.client, h.config.temporal.taskQueue, {
      unmatchedRetentionMs: 60_000,
      concurrency: 1,
    });
    await assert.rejects(h.client.withDeadline(Date.now() + 5_000, () => router.deliverBatch(ISSUER, ops)));
    for (const [i, order] of others.entries()) {
      assert.deepEqual(await signalsIn(h, order.workflowId), [[ops[i + 1]?.operationId]], order.workflowId);
    }

    // D1 gets a 503 and delivers the same batch again: the orders signalled already get no second signal event.
    const again = await notify(h, await token(h), { operations: ops });
    assert.equal(again.statusCode, 503, again.body);
    for (const [i, order] of others.entries()) {
      assert.deepEqual(await signalsIn(h, order.workflowId), [[ops[i + 1]?.operationId]], order.workflowId);
    }
    assert.deepEqual(await signalsIn(h, full.workflowId), []);
  });

  it("keeps every other card's unmatched notifications when one card's record refuses its signal", async () => {
    const router = new NotificationRouter(h.client, h.config.temporal.taskQueue, {
      unmatchedRetentionMs: 60_000,
      concurrency: 1,
    });
    // A record that has had its two signals (the one that started it, and a filler) refuses the next.
    const fullCard = newCardId();
    await router.deliverBatch(ISSUER, [operation(fullCard)]);
    await h.client.workflow.getHandle(unmatchedWorkflowId(ISSUER, fullCard)).signal('filler');
    const others = [newCardId(), newCardId()];
    // The refusing card first: one card at a time, the others come after its failure.
    const ops = [fullCard, ...others].map((cardId) => operation(cardId));
    await assert.rejects(h.client.withDeadline(Date.now() + 5_000, () => router.deliverBatch(ISSUER, ops)));
    for (const [i, cardId] of others.entries()) {
      assert.deepEqual(await signalsIn(h, unmatchedWorkflowId(ISSUER, cardId)), [[ops[i + 1]?.operationId]], cardId);
    }
  });
});
