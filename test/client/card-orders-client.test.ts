import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InterceptingCall, status, type Interceptor } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { toD1OrderRequest } from '../../activities/submit-order.js';
import { OrderFailedError, OrderValidationError } from '../../orders/errors.js';
import { D1Client } from '../../d1/client.js';
import { loadEncryptionKey } from '../../d1/keys.js';
import { encryptSensitiveData } from '../../d1/sensitive-data.js';
import { cardOrderWorkflowId, type CardOrderRequest } from '../../orders/schema.js';
import type { CardOrderInputV1 } from '../../rules/legacy/definitions-v1.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
} from '../../rules/contracts/search-attributes.js';
import { startSagaStack, testCard, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';

const shortTimings = {
  ORDER_NOTIFICATION_TIMEOUT: '30s',
  ORDER_POLL_INTERVAL: '200ms',
  ORDER_POLL_MAX_INTERVAL: '1s',
  ORDER_CHANGE_VERDICT_TIMEOUT: '300ms',
  ORDER_OUT_OF_STOCK_REORDER_DELAY: '1m',
  D1_REQUEST_TIMEOUT: '3s',
};

/** A test that would wait forever on a query no worker answers fails after this instead. */
const noHang = { timeout: 60_000 };

describe('card-orders client library (real dev server and simulator)', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({ serviceEnv: shortTimings, simulatorEnv: { D1_SIM_STEP_DELAY: '300ms' } });
  });
  after(async () => {
    await stack?.close();
  });

  const handleOf = (issuerRequestId: string, issuerId = stack.config.d1.issuerId) =>
    stack.client.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, issuerRequestId));

  async function historyEvents(issuerRequestId: string): Promise<temporal.api.history.v1.IHistoryEvent[]> {
    return (await handleOf(issuerRequestId).fetchHistory()).events ?? [];
  }

  /** Waits (a worker running) until the order's status is `status`. */
  async function statusOf(issuerRequestId: string, status: string): Promise<void> {
    await eventually(
      async () => ((await stack.client.getOrder(issuerRequestId)).status === status ? true : undefined),
      {
        timeoutMs: 20_000,
        what: `status ${status}`,
      },
    );
  }

  /** Starts `request` as a first-generation order (workflow type `cardOrder`), as orders placed before v2 run. */
  async function startLegacyOrder(request: CardOrderRequest): Promise<void> {
    const { sensitiveData: _card, timings: _timings, ...rest } = request;
    const encryptedData = await encryptSensitiveData(testCard, await loadEncryptionKey(stack.config.d1.encryptionKey));
    const order = { ...rest, encryptedData };
    const input: CardOrderInputV1 = {
      order,
      timings: {
        notificationTimeoutMs: 30_000,
        pollIntervalMs: 200,
        productionDeadlineMs: 120_000,
        outOfStockReorderDelayMs: 60_000,
        outOfStockMaxReorders: 1,
        d1RetryTimeoutMs: 10_000,
      },
      publishEvents: false,
    };
    await stack.client.temporal.workflow.start('cardOrder', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: cardOrderWorkflowId(order.issuerId, order.issuerRequestId),
      args: [input],
    });
  }

  /** Another order for the same card, in flight at D1 under another issuerRequestId: D1 answers the next 409. */
  async function occupyCard(request: CardOrderRequest): Promise<void> {
    const d1 = await D1Client.fromConfig(stack.config.d1);
    const { sensitiveData: _card, timings: _timings, ...rest } = request;
    const encryptedData = await encryptSensitiveData(testCard, await loadEncryptionKey(stack.config.d1.encryptionKey));
    await d1.orderCard(
      request.issuerId,
      request.cardId,
      toD1OrderRequest({ ...rest, encryptedData }, uniqueName('else').slice(0, 40)),
    );
    await d1.close();
  }

  describe('listOrders', () => {
    /** An execution of `type` with an order's search attributes, on a task queue no worker polls. */
    async function parkOrder(type: string, issuerId: string, status = 'SUBMITTING'): Promise<string> {
      const issuerRequestId = uniqueName('list');
      await stack.client.temporal.workflow.start(type, {
        taskQueue: uniqueName('nobody-polls'),
        workflowId: cardOrderWorkflowId(issuerId, issuerRequestId),
        args: [],
        typedSearchAttributes: [
          { key: issuerIdKey, value: issuerId },
          { key: cardIdKey, value: issuerRequestId.slice(0, 40) },
          { key: issuerRequestIdKey, value: issuerRequestId },
          { key: cardOrderStatusKey, value: status },
        ],
      });
      return issuerRequestId;
    }

    it("lists one issuer's orders of both workflow generations, never another issuer's", async () => {
      const mine = [await parkOrder('cardOrderV2', 'ISSUER0001'), await parkOrder('cardOrder', 'ISSUER0001')];
      const theirs = await parkOrder('cardOrderV2', 'ISSUER0002');
      const listed = await eventually(
        async () => {
          const orders = await stack.client.listOrders({ limit: 1000 });
          const ids = orders.map((o) => o.issuerRequestId);
          return mine.every((id) => ids.includes(id)) ? orders : undefined;
        },
        { what: 'both orders listed' },
      );
      assert.ok(
        listed.every((o) => o.issuerId === 'ISSUER0001'),
        'the configured issuer by default',
      );
      assert.ok(!listed.some((o) => o.issuerRequestId === theirs));
      assert.deepEqual(
        listed
          .filter((o) => mine.includes(o.issuerRequestId ?? ''))
          .map((o) => o.workflowType)
          .sort(),
        ['cardOrder', 'cardOrderV2'],
      );
      const other = await eventually(async () => {
        const orders = await stack.client.listOrders({ issuerId: 'ISSUER0002', limit: 1000 });
        return orders.some((o) => o.issuerRequestId === theirs) ? orders : undefined;
      });
      assert.ok(other.every((o) => o.issuerId === 'ISSUER0002'));
    });

    it('refuses a crafted issuer id or status instead of widening the query, without echoing it', async () => {
      const mine = await parkOrder('cardOrderV2', 'ISSUER0001');
      await eventually(async () =>
        (await stack.client.listOrders({ issuerId: 'ISSUER0001', limit: 1000 })).some((o) => o.issuerRequestId === mine)
          ? true
          : undefined,
      );
      for (const [filter, field] of [
        [{ issuerId: "X' OR IssuerId != '" }, 'issuerId'],
        [{ issuerId: 'ISSUER000\\' }, 'issuerId'],
        [{ issuerId: 'ISSUER0002', status: "SHIPPED' OR IssuerId = 'ISSUER0001" }, 'status'],
        [{ limit: 0 }, 'limit'],
      ] as const) {
        await assert.rejects(
          stack.client.listOrders(filter as Parameters<SagaStack['client']['listOrders']>[0]),
          (err: unknown) => {
            assert.ok(err instanceof OrderValidationError, String(err));
            assert.deepEqual(
              err.issues.map((issue) => issue.field),
              [field],
            );
            assert.ok(!err.message.includes("'"), err.message);
            return true;
          },
        );
      }
    });

    it('filters by status', async () => {
      const waiting = await parkOrder('cardOrderV2', 'ISSUER0001', 'AWAITING_STOCK');
      const listed = await eventually(async () => {
        const orders = await stack.client.listOrders({ status: 'AWAITING_STOCK', limit: 1000 });
        return orders.some((o) => o.issuerRequestId === waiting) ? orders : undefined;
      });
      assert.ok(listed.every((o) => o.status === 'AWAITING_STOCK'));
    });
  });

  describe('getOrder on a running order whose workflow task waits for a worker', () => {
    // A query then would reach a worker as a legacy query, which may wedge the order (chaos seed 3, --stack).
    it('answers from its search attributes without a query, once the wait is over', noHang, async () => {
      const order = stack.newOrder();
      await stack.client.orderCard(order); // no worker runs: its first task waits
      const client = await CardOrdersClient.connect({
        config: stack.config,
        connection: stack.env.connection,
        pendingTaskWaitMs: 300,
      });
      const state = await client.getOrder(order.issuerRequestId);
      assert.deepEqual([state.status, state.execution, state.source], ['SUBMITTING', 'RUNNING', 'searchAttributes']);
      assert.equal(state.cardId, order.cardId);
      // Once a worker took the task, the order is queried again.
      await stack.withWorker(async () => {
        const queried = await eventually(async () => {
          const reading = await client.getOrder(order.issuerRequestId);
          return reading.source === 'query' ? reading : undefined;
        });
        assert.equal(queried.issuerRequestId, order.issuerRequestId);
      });
    });
  });

  describe('a redirect reads the order without a query (chaos seed 11)', () => {
    // A query to an order whose worker died reaches a later worker with the events that came meanwhile, and the
    // update sent next then wedges the order (test/workflows/late-legacy-query.test.ts).
    it(
      "checks the new address against the order's program from its first event, no worker needed",
      noHang,
      async () => {
        const order = stack.newOrder();
        await stack.client.orderCard(order); // no worker runs
        let queries = 0;
        const countQueries: Interceptor = (options, nextCall) => {
          if (options.method_definition.path.endsWith('/QueryWorkflow')) queries += 1;
          return new InterceptingCall(nextCall(options));
        };
        const connection = await Connection.connect({
          address: stack.config.temporal.address,
          interceptors: [countQueries],
        });
        const client = await CardOrdersClient.connect({ config: stack.config, connection });
        try {
          const elsewhere = { ...order.shipment.deliveryAddress, countryCode: 'FR' };
          await assert.rejects(client.redirectOrder(order.issuerRequestId, elsewhere), (err: unknown) => {
            assert.ok(err instanceof OrderValidationError, String(err));
            assert.deepEqual(
              err.issues.map((issue) => issue.field),
              ['newDeliveryAddress.countryCode'],
            );
            return true;
          });
        } finally {
          await connection.close();
        }
        assert.equal(queries, 0);
      },
    );
  });

  describe('getOrder on closed orders, with no worker running', () => {
    it('reads a shipped order from its result', noHang, async () => {
      const order = stack.newOrder();
      await stack.withWorker(async () => {
        await stack.client.orderCard(order);
        await stack.client.waitForOrder(order.issuerRequestId);
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.deepEqual([state.status, state.execution, state.source], ['SHIPPED', 'COMPLETED', 'result']);
      assert.equal(state.stage, 'CARD_SHIPPED');
      assert.ok(state.timeline.length > 0);
    });

    it('reads a failed order from its failure details', noHang, async () => {
      const order = stack.newOrder();
      await stack.withWorker(async () => {
        await stack.d1.faults({
          outcomes: [
            { match: { cardId: order.cardId }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' },
          ],
        });
        await stack.client.orderCard(order);
        await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), OrderFailedError);
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.deepEqual([state.status, state.execution, state.source], ['COMPENSATED', 'FAILED', 'failure']);
      assert.equal(state.failure?.errorCode, 'PERSONALIZATION_FAILED');
    });

    it('sums up a terminated order from its search attributes', noHang, async () => {
      const order = stack.newOrder();
      await stack.withWorker(async () => {
        await stack.client.orderCard(order);
        await statusOf(order.issuerRequestId, 'IN_PRODUCTION');
        await handleOf(order.issuerRequestId).terminate('test: an operator ends the order');
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.deepEqual(
        [state.status, state.execution, state.source, state.issuerId, state.cardId, state.issuerRequestId],
        ['IN_PRODUCTION', 'TERMINATED', 'searchAttributes', order.issuerId, order.cardId, order.issuerRequestId],
      );
      assert.deepEqual(state.timeline, []);
    });

    it('sums up an order cancelled as a workflow from its search attributes', noHang, async () => {
      const order = stack.newOrder();
      await stack.withWorker(async () => {
        await stack.client.orderCard(order);
        await statusOf(order.issuerRequestId, 'IN_PRODUCTION');
        await handleOf(order.issuerRequestId).cancel();
        await eventually(async () =>
          (await handleOf(order.issuerRequestId).describe()).status.name === 'CANCELLED' ? true : undefined,
        );
      });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.deepEqual([state.status, state.execution, state.source], ['CANCELLED', 'CANCELLED', 'searchAttributes']);
    });
  });

  describe('getOrder on a closed first-generation order', () => {
    it('reads a first-generation order (no state in its result) through the query', () =>
      stack.withWorker(async () => {
        const order = stack.newOrder();
        await startLegacyOrder(order);
        await handleOf(order.issuerRequestId).result();
        const state = await stack.client.getOrder(order.issuerRequestId);
        assert.deepEqual([state.status, state.execution, state.source], ['SHIPPED', 'COMPLETED', 'query']);
      }));
  });

  describe('waitForOrder', () => {
    it("carries D1's error code for a refused order of either generation", async () => {
      await stack.withWorker(async () => {
        const current = stack.newOrder();
        await occupyCard(current);
        await stack.client.orderCard(current);
        const legacy = stack.newOrder();
        await occupyCard(legacy);
        await startLegacyOrder(legacy);
        for (const order of [current, legacy]) {
          await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), (err: unknown) => {
            assert.ok(err instanceof OrderFailedError, String(err));
            assert.deepEqual([err.failureType, err.d1ErrorCode], ['ORDER_REJECTED', 'ORDER_IN_PROGRESS']);
            return true;
          });
        }
      });
    });
  });

  describe('cancelOrder', () => {
    it('sends the request id as the update id: a retried cancel is the same request, answered alike', () =>
      stack.withWorker(async () => {
        const order = stack.newOrder();
        await stack.client.orderCard(order);
        await statusOf(order.issuerRequestId, 'IN_PRODUCTION');
        const requestId = uniqueName('cancel-request');
        const results = await Promise.all([
          stack.client.cancelOrder(order.issuerRequestId, { requestId }),
          stack.client.cancelOrder(order.issuerRequestId, { requestId }),
        ]);
        assert.deepEqual(results, [{ outcome: 'CANCELLED' }, { outcome: 'CANCELLED' }]);
        const accepted = (await historyEvents(order.issuerRequestId)).filter(
          (event) => event.workflowExecutionUpdateAcceptedEventAttributes,
        );
        assert.deepEqual(
          accepted.map((event) => event.workflowExecutionUpdateAcceptedEventAttributes?.protocolInstanceId),
          [requestId],
        );
        assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'CANCELLED');
        // The same request sent again once the order has closed: its first answer, not a refusal.
        assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId, { requestId }), {
          outcome: 'CANCELLED',
        });
      }));

    it('asks again under the same id when the answer to a cancel is lost in transit, and cancels once', () =>
      stack.withWorker(async () => {
        const order = stack.newOrder();
        await stack.client.orderCard(order);
        await statusOf(order.issuerRequestId, 'IN_PRODUCTION');
        // The server takes the first update, but its answer is lost: the client hears UNAVAILABLE.
        let lost = 0;
        const loseFirstUpdateAnswer: Interceptor = (options, nextCall) => {
          if (lost > 0 || !options.method_definition.path.endsWith('/UpdateWorkflowExecution')) {
            return new InterceptingCall(nextCall(options));
          }
          lost += 1;
          return new InterceptingCall(nextCall(options), {
            start: (metadata, _listener, next) =>
              next(metadata, {
                onReceiveStatus: (received, nextStatus) =>
                  nextStatus({ ...received, code: status.UNAVAILABLE, details: 'answer lost in transit (test)' }),
              }),
          });
        };
        const connection = await Connection.connect({
          address: stack.config.temporal.address,
          interceptors: [loseFirstUpdateAnswer],
        });
        const client = await CardOrdersClient.connect({ config: stack.config, connection });
        try {
          assert.deepEqual(await client.cancelOrder(order.issuerRequestId), { outcome: 'CANCELLED' });
        } finally {
          await connection.close();
        }
        assert.equal(lost, 1);
        const accepted = (await historyEvents(order.issuerRequestId)).filter(
          (event) => event.workflowExecutionUpdateAcceptedEventAttributes,
        );
        assert.equal(accepted.length, 1, 'one cancel, however often it was asked');
      }));

    it("answers REJECTED with the validator's reason for an order that is ending", () =>
      stack.withWorker(async () => {
        const order = stack.newOrder();
        await stack.d1.faults({
          outcomes: [{ match: { cardId: order.cardId }, at: 'DATA_EXCEPTION', errorCode: 'INVALID_CARD_DATA' }],
        });
        // Hold the order in COMPENSATING (still running): the compensation's D1 call is slow.
        await stack.d1.faults({ latencyMs: 2_000 });
        try {
          await stack.client.orderCard(order);
          await statusOf(order.issuerRequestId, 'COMPENSATING');
          assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId), {
            outcome: 'REJECTED',
            reason: 'ORDER_ALREADY_FAILED',
          });
          assert.equal((await handleOf(order.issuerRequestId).describe()).status.name, 'RUNNING');
        } finally {
          await stack.d1.faults({ latencyMs: 0 });
        }
        await assert.rejects(stack.client.waitForOrder(order.issuerRequestId), { failureType: 'PRODUCTION_FAILED' });
        assert.deepEqual(await stack.client.cancelOrder(order.issuerRequestId), {
          outcome: 'REJECTED',
          reason: 'ORDER_ALREADY_FAILED',
        });
      }));
  });
});
