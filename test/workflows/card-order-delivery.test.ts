import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../client/cli.js';
import { projectRoot } from '../../config/config.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import type { CardOrderRequest } from '../../orders/schema.js';
import { eventually } from '../helpers/temporal.js';
import { startSagaStack, testAddress, type SagaStack } from '../helpers/saga-stack.js';

/** A program like PRD_VISA_DEBIT whose returned cards end the order (the demo catalog's re-ships them). */
const NO_RESHIP_PRODUCT = 'PRD_VISA_NO_RESHIP';

/** After shipment: the delivery window, carrier updates, returned cards and re-ships, end to end. */
describe('card order after shipment: delivery window, returns, re-ships', () => {
  let stack: SagaStack;
  const boston = { ...testAddress, line1: '9 Other St', city: 'Boston', zipCode: '02101' };
  before(async () => {
    const catalog = JSON.parse(await readFile(path.join(projectRoot, 'config/program-catalog.json'), 'utf8')) as {
      programs: Record<string, { returns?: unknown }>;
    };
    catalog.programs[NO_RESHIP_PRODUCT] = { ...catalog.programs.PRD_VISA_DEBIT, returns: { action: 'END' } };
    const catalogFile = path.join(
      await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'catalog-')),
      'program-catalog.json',
    );
    await writeFile(catalogFile, JSON.stringify(catalog));
    stack = await startSagaStack({
      serviceEnv: { PROGRAM_CATALOG_FILE: catalogFile },
      simulatorEnv: { D1_SIM_STEP_DELAY: '300ms' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  /** An order that listens for `window` after shipment. */
  const listeningOrder = (overrides: Partial<CardOrderRequest> = {}, window = '3s') =>
    stack.newOrder({ timings: { deliveryWindow: window, reshipWait: '1m' }, ...overrides });

  const history = (issuerRequestId: string) =>
    stack.client.temporal.workflow
      .getHandle(cardOrderWorkflowId(stack.config.d1.issuerId, issuerRequestId))
      .fetchHistory();

  const eventsOf = (issuerRequestId: string) =>
    stack.events.events.filter((e) => e.order.issuerRequestId === issuerRequestId).map((e) => e.type);

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: stack.envVars });
    return { code, out, err };
  }

  it('listens out the delivery window for carrier updates, with no polls and one timer, then completes', () =>
    stack.withWorker(async () => {
      await stack.d1.faults({ shipmentUpdates: ['IN_TRANSIT', 'DELIVERED'] });
      try {
        const order = listeningOrder();
        await stack.client.orderCard(order);
        const delivered = await eventually(
          async () => {
            const state = await stack.client.getOrder(order.issuerRequestId);
            return state.shipment?.status === 'DELIVERED' ? state : undefined;
          },
          { what: 'the carrier delivery update' },
        );
        assert.deepEqual([delivered.status, delivered.execution], ['SHIPPED', 'RUNNING']);
        assert.ok(delivered.delivery?.windowEndsAt, 'the order says until when it listens');
        // Web UI and the client filter the orders in their delivery window by status.
        await eventually(async () => {
          const shipped = await stack.client.listOrders({ status: 'SHIPPED' });
          return shipped.some((o) => o.issuerRequestId === order.issuerRequestId) ? true : undefined;
        });
        assert.deepEqual(await stack.client.reshipOrder(order.issuerRequestId, boston), {
          outcome: 'REJECTED',
          reason: 'ORDER_NOT_RETURNED',
        });

        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.equal(result.shipment?.status, 'DELIVERED');
        assert.deepEqual(
          eventsOf(order.issuerRequestId).filter((t) => t !== 'status-changed'),
          ['submitted', 'shipped', 'shipment-updated', 'shipment-updated', 'completed'],
        );
        const events = (await history(order.issuerRequestId)).events ?? [];
        const shippedAt = Date.parse(result.timeline.find((t) => t.stage === 'CARD_SHIPPED')?.at ?? '');
        const eventMs = (e: (typeof events)[number]) =>
          Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
        const afterShipment = events.filter((e) => eventMs(e) > shippedAt);
        assert.ok(
          afterShipment.some((e) => e.workflowExecutionSignaledEventAttributes),
          'the carrier updates came',
        );
        // Issuer events go out through the outbox's activity; anything else would be a call to D1.
        const activities = afterShipment.filter(
          (e) =>
            e.activityTaskScheduledEventAttributes &&
            e.activityTaskScheduledEventAttributes.activityType?.name !== 'publishIssuerEvents',
        );
        const timers = afterShipment.filter((e) => e.timerStartedEventAttributes);
        assert.equal(activities.length, 0, 'no D1 call while the order waits out its window');
        assert.ok(timers.length <= 1, `${timers.length} timers after shipment`);
        await stack.recordHistory(order.issuerRequestId, 'delivery-window-completed');
      } finally {
        await stack.d1.faults({ shipmentUpdates: [] });
      }
    }));

  it('ends RETURNED when the card comes back and its program does not re-ship, and says so', () =>
    stack.withWorker(async () => {
      const order = listeningOrder({ cardProductId: NO_RESHIP_PRODUCT }, '1m');
      await stack.d1.faults({ returnCardIds: [order.cardId] });
      try {
        await stack.client.orderCard(order);
        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'RETURNED');
        assert.equal(result.state.stage, 'CARD_RETURNED');
        assert.equal(result.state.delivery?.returns, 1);
        assert.ok(eventsOf(order.issuerRequestId).includes('returned'));
        const returned = await eventually(async () => {
          const found = await stack.client.listOrders({ status: 'RETURNED' });
          return found.some((o) => o.issuerRequestId === order.issuerRequestId) ? found : undefined;
        });
        assert.ok(returned.length > 0);
        const status = await cli('status', order.issuerRequestId, '--json');
        assert.equal((JSON.parse(status.out[0] ?? '{}') as { status?: string }).status, 'RETURNED');
      } finally {
        await stack.d1.faults({ returnCardIds: [] });
      }
    }));

  it('re-ships a returned card to the corrected address from the CLI, under a new D1 order', () =>
    stack.withWorker(async () => {
      const order = listeningOrder();
      await stack.d1.faults({ returnCardIds: [order.cardId] });
      let returnedOnce = false;
      try {
        await stack.client.orderCard(order);
        const returned = await eventually(
          async () => {
            const state = await stack.client.getOrder(order.issuerRequestId);
            return state.status === 'RETURNED' ? state : undefined;
          },
          { what: 'the return' },
        );
        returnedOnce = true;
        assert.equal(returned.execution, 'RUNNING', 'the order waits for a corrected address');
        assert.ok(returned.delivery?.reshipWaitEndsAt);
        await stack.d1.faults({ returnCardIds: [] });

        const addressFile = path.join(projectRoot, 'examples/address-boston.json');
        const reshipped = await cli('reship', order.issuerRequestId, '--address-file', addressFile);
        const newId = `${order.issuerRequestId}--r1`;
        assert.deepEqual([reshipped.code, reshipped.out], [0, [`RESHIPPED (${newId})`]], reshipped.err.join('\n'));
        const atD1 = (await stack.d1.orders()).filter((o) => o.cardId === order.cardId);
        assert.deepEqual(
          atD1.map((o) => o.issuerRequestId),
          [order.issuerRequestId, newId],
        );

        const result = await stack.client.waitForOrder(order.issuerRequestId);
        assert.equal(result.status, 'SHIPPED');
        assert.deepEqual(
          result.state.delivery?.reships.map((r) => [r.outcome, r.issuerRequestId]),
          [['RESHIPPED', newId]],
        );
        assert.doesNotMatch(JSON.stringify(result.state), /Boston|Other St/, 'no address in the order state');
        await stack.recordHistory(order.issuerRequestId, 'returned-and-reshipped');

        const late = await cli('reship', order.issuerRequestId, '--address-file', addressFile);
        assert.deepEqual([late.code, late.out], [1, ['REJECTED (ORDER_ALREADY_SHIPPED)']]);
      } finally {
        if (!returnedOnce) await stack.d1.faults({ returnCardIds: [] });
      }
    }));
});
