/**
 * Orders parked waiting for production (the simulator's steps are hours apart): placed, submitted, their first
 * notification applied. Used by P2 (the workflows the notifications go to) and P4 (open orders).
 *
 * @module
 */
import { Agent, request } from 'undici';
import type { Operation } from '../../d1/report-schemas.js';
import { cardOrderWorkflowId, type CardOrderRequest } from '../../orders/schema.js';
import type { Stack } from './stack.js';
import type { BenchContext } from './types.js';
import { mapBounded } from '../../common/bounded-concurrency.js';
import { progress, waitUntil } from './util.js';

/** A line of the simulator's `GET /__sim/orders`. */
interface SimulatorOrder {
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  operationId: string;
  createdAt: string;
}

/** A parked order: what notifications to it must name. */
export interface ParkedOrder {
  workflowId: string;
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  operationId: string;
  startTime: string;
}

/** How many workflows on `taskQueue` match `where` (visibility). */
export async function countWorkflows(context: BenchContext, taskQueue: string, where: string): Promise<number> {
  const { count } = await context.client.workflow.count(`TaskQueue = '${taskQueue}' AND ${where}`);
  return count;
}

/** Places `count` orders (indexes from `firstIndex`) and waits until each applied D1's first notification. */
export async function parkOrders(
  context: BenchContext,
  stack: Stack,
  count: number,
  {
    firstIndex = 0,
    timeoutMs = 3_600_000,
    timings,
    expectParked = firstIndex + count,
  }: {
    firstIndex?: number;
    timeoutMs?: number;
    /** Per-order timings (e.g. a delivery window). */
    timings?: CardOrderRequest['timings'];
    /** Orders of the queue parked once these are (default: every order placed so far). */
    expectParked?: number;
  } = {},
): Promise<ParkedOrder[]> {
  let placed = 0;
  const ticker = setInterval(() => progress(`  placed ${placed}/${count}`), 10_000);
  try {
    await mapBounded(
      Array.from({ length: count }, (_, i) => firstIndex + i),
      context.options.startConcurrency,
      async (index) => {
        await stack.client.orderCard({ ...stack.newOrder(index), ...(timings && { timings }) });
        placed += 1;
      },
    );
  } finally {
    clearInterval(ticker);
  }
  const parked = `ExecutionStatus = 'Running' AND ProductionStage = 'CARD_PROD_REQUESTED'`;
  let seen = 0;
  await waitUntil(
    async () => {
      const now = await countWorkflows(context, stack.taskQueue, parked);
      if (now !== seen) progress(`  parked ${now}/${expectParked}`);
      seen = now;
      return now >= expectParked;
    },
    { timeoutMs, intervalMs: 2_000, what: `${count} orders to park` },
  );
  const response = await request(`${stack.simulator.url}/__sim/orders`);
  const orders = (await response.body.json()) as SimulatorOrder[];
  const mine = new Set(Array.from({ length: count }, (_, i) => stack.newOrder(firstIndex + i).issuerRequestId));
  return orders
    .filter((o) => mine.has(o.issuerRequestId))
    .map((o) => ({
      workflowId: cardOrderWorkflowId(o.issuerId, o.issuerRequestId),
      issuerId: o.issuerId,
      cardId: o.cardId,
      issuerRequestId: o.issuerRequestId,
      operationId: o.operationId,
      startTime: o.createdAt,
    }));
}

/** D1's report of `order` at `stage`, as the simulator would send it. */
export function reportOf(
  order: ParkedOrder,
  stage: 'CARD_PROD_REQUESTED' | 'DATA_PREPARED' | 'CARD_SHIPPED',
  /** For CARD_SHIPPED: the carrier's status (later reports are carrier updates). */
  shipmentStatus = 'PICKED_UP',
): Operation {
  const base = {
    operationId: order.operationId,
    operation: 'PRODUCE',
    startTime: order.startTime,
    cardId: order.cardId,
    issuerRequestId: order.issuerRequestId,
  };
  if (stage === 'CARD_PROD_REQUESTED') return { ...base, status: 'PENDING', details: { status: stage } };
  if (stage === 'DATA_PREPARED') {
    return {
      ...base,
      status: 'PENDING',
      details: { status: stage, dueDate: order.startTime.slice(0, 10), productionSite: 'SIM-FR-LCN-01' },
    };
  }
  return {
    ...base,
    status: 'SUCCESSFUL',
    endTime: new Date().toISOString(),
    details: {
      status: stage,
      productionSite: 'SIM-FR-LCN-01',
      shipment: { carrier: 'fedex', trackingNumber: '123456789012', status: shipmentStatus, message: shipmentStatus },
    },
  };
}

/** Posts notifications to our webhook as D1 does: a client-credentials token, then Bearer POSTs of batches. */
export class WebhookPoster {
  private readonly agent: Agent;
  private token: string | undefined;
  /** Answers outside 2xx, by status. */
  readonly failures = new Map<number, number>();

  constructor(
    private readonly webhookUrl: string,
    connections: number,
  ) {
    this.agent = new Agent({ connections, keepAliveTimeout: 30_000 });
  }

  async fetchToken(): Promise<void> {
    const response = await request(`${this.webhookUrl}/authz/d1/v1/oauth2/token`, {
      dispatcher: this.agent,
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('d1-simulator:d1-simulator-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const body = (await response.body.json()) as { access_token?: string };
    if (response.statusCode !== 200 || !body.access_token) throw new Error(`webhook token: ${response.statusCode}`);
    this.token = body.access_token;
  }

  /** Posts one batch; resolves with the status (non-2xx are also counted in `failures`). */
  async post(issuerId: string, operations: Operation[]): Promise<number> {
    const response = await request(`${this.webhookUrl}/notifications/d1/v2/issuers/${issuerId}/cards`, {
      dispatcher: this.agent,
      method: 'POST',
      headers: { authorization: `Bearer ${this.token ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations }),
    });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      this.failures.set(response.statusCode, (this.failures.get(response.statusCode) ?? 0) + 1);
    }
    return response.statusCode;
  }

  nonSuccessCount(): number {
    return [...this.failures.values()].reduce((a, b) => a + b, 0);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
