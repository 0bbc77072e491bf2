/**
 * The example orders `npm start` places, one per path through the saga: one ships, one fails in production and
 * is compensated, one loses every notification and finishes by polling, one is cancelled. Their ids are fixed,
 * so a second `npm start` finds them (and their end states) instead of ordering again.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { projectRoot, type Config } from '../../config/config.js';
import type { CardOrderRequest } from '../../orders/schema.js';
import type { FaultsPatch } from '../../simulator/faults.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import type { CardOrderStatus, OrderState } from '../../rules/contracts/card-order.js';

export interface DemoOrder {
  label: string;
  issuerRequestId: string;
  cardId: string;
  /** Where this order should end. */
  expected: CardOrderStatus;
  timings?: CardOrderRequest['timings'];
}

export const demoOrders: readonly DemoOrder[] = [
  { label: 'ships', issuerRequestId: 'demo-ships', cardId: 'demo-card-ships', expected: 'SHIPPED' },
  { label: 'fails in production', issuerRequestId: 'demo-fails', cardId: 'demo-card-fails', expected: 'COMPENSATED' },
  {
    label: 'notifications lost',
    issuerRequestId: 'demo-polls',
    cardId: 'demo-card-polls',
    expected: 'SHIPPED',
    timings: { notificationTimeout: '3s', pollInterval: '2s', pollMaxInterval: '4s' },
  },
  { label: 'cancelled', issuerRequestId: 'demo-cancel', cardId: 'demo-card-cancel', expected: 'CANCELLED' },
  // Its program re-ships returned cards: it waits for a corrected address (`card-orders reship demo-returned ...`).
  {
    label: 'returned to sender',
    issuerRequestId: 'demo-returned',
    cardId: 'demo-card-returned',
    expected: 'RETURNED',
    timings: { reshipWait: '10m' },
  },
];

/**
 * A production step of an order placed from the CLI during the demo: it stays in production (redirectable until
 * CARD_PROD_DONE, 4 steps; shipped after 5) long enough to try `accelerate`, `redirect` and `cancel` on it.
 */
export const DEMO_CLI_ORDER_STEP_MS = 20_000;

/**
 * The simulator knobs the demo sets (POST /__sim/faults): one card fails, one loses its notifications, one is
 * returned; the demo orders keep the simulator's step delay (D1_SIM_STEP_DELAY) and every other order is slow.
 */
export const demoFaults = {
  outcomes: [{ match: { cardId: 'demo-card-fails' }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' }],
  dropNotificationCardIds: ['demo-card-polls'],
  returnCardIds: ['demo-card-returned'],
  productionDelays: [
    ...demoOrders.map((demo) => ({ match: { cardId: demo.cardId } })),
    { match: {}, stepMs: DEMO_CLI_ORDER_STEP_MS },
  ],
} as const satisfies FaultsPatch;

const finalStatuses: readonly CardOrderStatus[] = ['SHIPPED', 'RETURNED', 'CANCELLED', 'COMPENSATED', 'FAILED'];

/** Makes the simulator fail one card, mute another and return a third, then places the demo orders (once per data set). */
export async function placeDemoOrders(config: Config, orders: CardOrdersClient): Promise<void> {
  const faults = await request(`${config.d1.baseUrl}/__sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(demoFaults),
  });
  await faults.body.dump();
  if (faults.statusCode !== 200) throw new Error(`the D1 simulator refused the demo faults (${faults.statusCode})`);
  // Every demo order is the ready example order under its own ids.
  const example = JSON.parse(
    await readFile(path.join(projectRoot, 'examples/order-individual.json'), 'utf8'),
  ) as CardOrderRequest;
  for (const demo of demoOrders) {
    await orders.orderCard({
      ...example,
      issuerId: config.d1.issuerId,
      cardId: demo.cardId,
      issuerRequestId: demo.issuerRequestId,
      // Shipped demo orders listen for carrier updates for a short while, then complete (production: 30 days).
      timings: { deliveryWindow: '20s', ...demo.timings },
    });
  }
}

/**
 * Cancels the cancel demo. The workflow sends D1 the CANCEL as soon as the order is submitted, well before it
 * ships; on a second start, when the order already ended, the refusal is expected and ignored.
 */
export async function cancelDemoOrder(orders: CardOrdersClient): Promise<void> {
  await orders.cancelOrder('demo-cancel');
}

function line(demo: DemoOrder, state: OrderState | undefined, webUi: string | undefined, config: Config): string {
  const status = state ? `${state.status}${state.stage ? ` (${state.stage})` : ''}` : 'placing';
  const order = `${demo.label.padEnd(20)} ${demo.issuerRequestId.padEnd(12)}`;
  if (!webUi) return `${order} ${status}`;
  const workflowId = encodeURIComponent(cardOrderWorkflowId(config.d1.issuerId, demo.issuerRequestId));
  return `${order} ${status.padEnd(36)} ${webUi}/namespaces/${config.temporal.namespace}/workflows/${workflowId}`;
}

/**
 * Shows each demo order's progress until all of them ended: one line per order updated in place on a terminal, a new
 * line per change otherwise. Each line links to the order in `webUi`, when there is one.
 */
export async function showDemoProgress(
  config: Config,
  orders: CardOrdersClient,
  webUi: string | undefined,
  out: { isTTY: boolean; write(text: string): void },
): Promise<void> {
  let shown: string[] = [];
  for (;;) {
    const states = await Promise.all(
      demoOrders.map((demo) => orders.getOrder(demo.issuerRequestId).catch(() => undefined)),
    );
    const lines = demoOrders.map((demo, i) => line(demo, states[i], webUi, config));
    if (out.isTTY) {
      if (shown.length > 0) out.write(`\x1b[${shown.length}A`);
      out.write(lines.map((text) => `\x1b[2K${text}\n`).join(''));
    } else {
      lines.forEach((text, i) => text !== shown[i] && out.write(`${text}\n`));
    }
    shown = lines;
    if (states.every((state) => state && finalStatuses.includes(state.status))) return;
    await delay(500);
  }
}

/**
 * Places the example orders once per data set, cancels the one meant to be cancelled, and shows them all until
 * they ended (links to `webUi` when there is one). What `npm start` and `npm run stack` do once the stack is up.
 */
export async function runDemoOrders(config: Config, webUi: string | undefined, heading: string): Promise<void> {
  const orders = await CardOrdersClient.connect({ config });
  try {
    process.stderr.write(`\n${heading}\n`);
    await placeDemoOrders(config, orders);
    await Promise.all([
      cancelDemoOrder(orders),
      showDemoProgress(config, orders, webUi, {
        isTTY: process.stdout.isTTY,
        write: (text) => process.stdout.write(text),
      }),
    ]);
  } finally {
    await orders.close();
  }
}
