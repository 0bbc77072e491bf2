import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../client/cli.js';
import { projectRoot } from '../../config/config.js';
import type { OrderValidationError } from '../../orders/errors.js';
import { eventually, uniqueName } from '../helpers/temporal.js';
import { startSagaStack, testAddress, type SagaStack } from '../helpers/saga-stack.js';

/** Pull & change (accelerate, redirect) against the simulator's personalization center, end to end. */
describe('card order changes: accelerate and redirect', () => {
  let stack: SagaStack;
  const boston = { ...testAddress, line1: '9 Other St', city: 'Boston', zipCode: '02101' };
  before(async () => {
    stack = await startSagaStack({
      serviceEnv: { ORDER_CHANGE_VERDICT_TIMEOUT: '200ms', ORDER_NOTIFICATION_TIMEOUT: '1s' },
      simulatorEnv: { D1_SIM_STEP_DELAY: '600ms' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  /** Places an order and waits until D1 has it, as a change needs. */
  async function orderAtD1() {
    const order = stack.newOrder();
    await stack.client.orderCard(order);
    await eventually(async () => ((await stack.client.getOrder(order.issuerRequestId)).operationId ? true : undefined));
    return order;
  }

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: stack.envVars });
    return { code, out, err };
  }

  it('accelerates and redirects from the CLI, with the center verdict; the order lists its changes', () =>
    stack.withWorker(async () => {
      const order = await orderAtD1();
      const accelerated = await cli('accelerate', order.issuerRequestId);
      assert.deepEqual([accelerated.code, accelerated.out], [0, ['ACCEPTED']]);
      // The README's example address.
      const addressFile = path.join(projectRoot, 'examples/address-boston.json');
      const redirected = await cli('redirect', order.issuerRequestId, '--address-file', addressFile, '--json');
      assert.equal(redirected.code, 0, redirected.err.join('\n'));
      assert.deepEqual(JSON.parse(redirected.out[0] ?? '{}'), { outcome: 'ACCEPTED' });
      const atD1 = (await stack.d1.orders()).find((o) => o.issuerRequestId === order.issuerRequestId);
      assert.deepEqual(atD1?.updates, ['ACCELERATE', 'REDIRECT']);
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.deepEqual(
        state.changes?.map((c) => [c.type, c.outcome]),
        [
          ['ACCELERATE', 'ACCEPTED'],
          ['REDIRECT', 'ACCEPTED'],
        ],
      );
      assert.doesNotMatch(JSON.stringify(state), /Boston|Other St/, 'no address in the order state');
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
      await stack.recordHistory(order.issuerRequestId, 'accelerated-and-redirected');

      const late = await cli('accelerate-and-redirect', order.issuerRequestId, '--address-file', addressFile);
      assert.deepEqual([late.code, late.out], [1, ['REJECTED (ORDER_ALREADY_SHIPPED)']]);
      const usage = await cli('redirect', order.issuerRequestId, '--json');
      assert.deepEqual(
        [usage.code, (JSON.parse(usage.err[0] ?? '{}') as { argument: string }).argument],
        [2, '--address-file'],
      );
    }));

  it('reports the center refusal with its reason, and the order goes on', () =>
    stack.withWorker(async () => {
      const order = await orderAtD1();
      await stack.d1.faults({ updateOrderVerdict: 'REJECT', updateOrderRejectCode: 'CARRIER_UNAVAILABLE' });
      try {
        const result = await stack.client.accelerateAndRedirectOrder(order.issuerRequestId, boston);
        assert.deepEqual(result, { outcome: 'REJECTED', reason: 'CARRIER_UNAVAILABLE' });
      } finally {
        await stack.d1.faults({ updateOrderVerdict: 'BY_STAGE' });
      }
      assert.equal((await stack.client.waitForOrder(order.issuerRequestId)).status, 'SHIPPED');
      await stack.recordHistory(order.issuerRequestId, 'change-refused-by-center');
    }));

  it('learns the verdict by polling when its notification is lost', () =>
    stack.withWorker(async () => {
      const order = await orderAtD1();
      await stack.d1.faults({ dropNotificationCardIds: [order.cardId] });
      assert.deepEqual(await stack.client.accelerateOrder(order.issuerRequestId), { outcome: 'ACCEPTED' });
      const state = await stack.client.getOrder(order.issuerRequestId);
      assert.ok(
        state.timeline.some((entry) => entry.source === 'poll'),
        'the verdict came by poll',
      );
    }));

  it('refuses at once a change to an order not yet at D1, and an address outside the schema or program', () =>
    stack.withWorker(async () => {
      // D1 slow to answer the submit: the order is not at D1 yet.
      await stack.d1.faults({ latencyMs: 3_000 });
      const order = stack.newOrder();
      try {
        await stack.client.orderCard(order);
        assert.deepEqual(await stack.client.accelerateOrder(order.issuerRequestId), {
          outcome: 'REJECTED',
          reason: 'ORDER_NOT_AT_D1',
        });
      } finally {
        await stack.d1.faults({ latencyMs: 0 });
      }
      const fields = (err: unknown) => (err as OrderValidationError).issues.map((issue) => issue.field);
      await assert.rejects(stack.client.redirectOrder(order.issuerRequestId, { ...boston, countryCode: 'FR' }), (err) =>
        fields(err).includes('newDeliveryAddress.countryCode'),
      );
      const { city: _city, ...noCity } = boston;
      await assert.rejects(
        stack.client.redirectOrder(order.issuerRequestId, noCity as typeof boston),
        (err) => fields(err).join() === 'newDeliveryAddress.city',
      );
      const history = await stack.client.temporal.workflow
        .getHandle(`card-order:${order.issuerId}:${order.issuerRequestId}`)
        .fetchHistory();
      assert.equal(
        (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length,
        0,
        'refusals leave no trace in history',
      );
      await assert.rejects(stack.client.accelerateOrder(uniqueName('missing')), { code: 'ORDER_NOT_FOUND' });
    }));
});
