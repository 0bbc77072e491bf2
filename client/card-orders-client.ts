/**
 * The library issuer backends use to place and follow card orders. It validates an order, encrypts the card data
 * into D1's JWE before anything reaches Temporal, starts the order's workflow idempotently, and reads, lists,
 * cancels and waits for orders, over one connection with the payload codec.
 *
 * @module
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { createDataConverter } from '../codec/data-converter.js';
import type { Config } from '../common/config.js';
import { OrderFailedError, OrderValidationError } from '../common/errors.js';
import type { KeyWithId } from '../d1/keys.js';
import { loadEncryptionKey } from '../d1/keys.js';
import { describeIssues } from '../d1/schemas.js';
import { encryptSensitiveData } from '../d1/sensitive-data.js';
import { checkOrderAgainstCatalog, loadProgramCatalog, type ProgramCatalog } from '../orders/program-catalog.js';
import {
  cardOrderRequestSchema,
  cardOrderWorkflowId,
  type CardOrder,
  type CardOrderRequest,
} from '../orders/schema.js';
import {
  CARD_ORDER_WORKFLOW,
  cancelOrderUpdate,
  orderStateQuery,
  type CancelResult,
  type CardOrderInput,
  type CardOrderResult,
  type CardOrderStatus,
  type OrderState,
} from '../workflows/definitions.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  productionStageKey,
} from '../workflows/search-attributes.js';
import { temporalConnectionOptions } from '../common/temporal.js';

type ParsedTimings = z.output<typeof cardOrderRequestSchema>['timings'];

export interface PlacedOrder {
  workflowId: string;
  /** `STARTED` for a new order; `EXISTING` when this order (same issuer and issuerRequestId) was already placed. */
  placement: 'STARTED' | 'EXISTING';
}

/** An order as `getOrder` and `listOrders` see it: identifiers and states only. */
export interface OrderSummary {
  workflowId: string;
  issuerId: string | undefined;
  cardId: string | undefined;
  issuerRequestId: string | undefined;
  status: CardOrderStatus | undefined;
  stage: string | undefined;
  execution: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime: Date | undefined;
}

export interface CardOrdersClientOptions {
  config: Config;
  /** An open connection to share; the client makes (and closes) its own when absent. */
  connection?: Connection;
}

export class CardOrdersClient {
  private constructor(
    readonly temporal: Client,
    private readonly config: Config,
    private readonly encryptionKey: KeyWithId,
    private readonly catalog: ProgramCatalog,
    private readonly ownsConnection: boolean,
  ) {}

  /** Connects to Temporal with the codec and loads D1's encryption key and the program catalog. */
  static async connect({ config, connection }: CardOrdersClientOptions): Promise<CardOrdersClient> {
    const [encryptionKey, catalog, dataConverter] = await Promise.all([
      loadEncryptionKey(config.d1.encryptionKey),
      loadProgramCatalog(config.programCatalogFile),
      createDataConverter(config),
    ]);
    const conn = connection ?? (await Connection.connect(temporalConnectionOptions(config.temporal)));
    const temporal = new Client({ connection: conn, namespace: config.temporal.namespace, dataConverter });
    return new CardOrdersClient(temporal, config, encryptionKey, catalog, !connection);
  }

  /**
   * Places an order. Placing the same order again (same issuer and issuerRequestId) returns the existing one,
   * running or finished, and never orders a second card.
   *
   * @throws {OrderValidationError} naming every invalid field, before anything reaches Temporal or D1.
   */
  async orderCard(request: CardOrderRequest): Promise<PlacedOrder> {
    const { order, timings } = await this.prepare(request);
    const workflowId = cardOrderWorkflowId(order.issuerId, order.issuerRequestId);
    const { orderDefaults } = this.config;
    const input: CardOrderInput = {
      order,
      timings: {
        ...orderDefaults,
        notificationTimeoutMs: timings?.notificationTimeout ?? orderDefaults.notificationTimeoutMs,
        pollIntervalMs: timings?.pollInterval ?? orderDefaults.pollIntervalMs,
        pollMaxIntervalMs: timings?.pollMaxInterval ?? orderDefaults.pollMaxIntervalMs,
        productionDeadlineMs: timings?.productionDeadline ?? orderDefaults.productionDeadlineMs,
      },
      publishEvents: this.config.issuerEvents.url !== undefined,
    };
    try {
      await this.temporal.workflow.start(CARD_ORDER_WORKFLOW, {
        taskQueue: this.config.temporal.taskQueue,
        workflowId,
        args: [input],
        // Any execution of this id, running or closed, is this order already: the start fails and we say so.
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: issuerIdKey, value: order.issuerId },
          { key: cardIdKey, value: order.cardId },
          { key: issuerRequestIdKey, value: order.issuerRequestId },
          { key: cardOrderStatusKey, value: 'SUBMITTING' },
        ],
        staticSummary: `Card order ${order.issuerRequestId} (card ${order.cardId}, product ${order.cardProductId})`,
      });
      return { workflowId, placement: 'STARTED' };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, placement: 'EXISTING' };
      throw err;
    }
  }

  /** The order's current state, from the workflow itself (running or finished). */
  async getOrder(issuerRequestId: string, issuerId = this.config.d1.issuerId): Promise<OrderState> {
    return this.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, issuerRequestId)).query(orderStateQuery);
  }

  /** Orders as Temporal visibility sees them (eventually consistent), newest first, optionally by status. */
  async listOrders(
    filter: { status?: CardOrderStatus; issuerId?: string; limit?: number } = {},
  ): Promise<OrderSummary[]> {
    const clauses = [`WorkflowType = '${CARD_ORDER_WORKFLOW}'`];
    if (filter.status) clauses.push(`${cardOrderStatusKey.name} = '${filter.status}'`);
    if (filter.issuerId) clauses.push(`${issuerIdKey.name} = '${filter.issuerId}'`);
    const limit = filter.limit ?? 100;
    const orders: OrderSummary[] = [];
    for await (const execution of this.temporal.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
      const attrs = execution.typedSearchAttributes;
      orders.push({
        workflowId: execution.workflowId,
        issuerId: attrs.get(issuerIdKey),
        cardId: attrs.get(cardIdKey),
        issuerRequestId: attrs.get(issuerRequestIdKey),
        status: attrs.get(cardOrderStatusKey) as CardOrderStatus | undefined,
        stage: attrs.get(productionStageKey),
        execution: execution.status.name,
        startTime: execution.startTime,
        closeTime: execution.closeTime,
      });
      if (orders.length >= limit) break;
    }
    return orders;
  }

  /**
   * Asks D1 to cancel the order; resolves once D1 confirmed (`CANCELLED`) or refused (`REJECTED`, with why, e.g.
   * ORDER_ALREADY_SHIPPED). An order that already ended is refused without asking D1.
   */
  async cancelOrder(issuerRequestId: string, issuerId = this.config.d1.issuerId): Promise<CancelResult> {
    const handle = this.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, issuerRequestId));
    const ended = async () => {
      const { typedSearchAttributes } = await handle.describe();
      return {
        outcome: 'REJECTED',
        reason: `ORDER_ALREADY_${typedSearchAttributes.get(cardOrderStatusKey) ?? 'ENDED'}`,
      } as const;
    };
    if ((await handle.describe()).status.name !== 'RUNNING') return ended();
    try {
      return await handle.executeUpdate(cancelOrderUpdate);
    } catch (err) {
      // The order ended between the check and the update.
      if (err instanceof WorkflowNotFoundError) return ended();
      throw err;
    }
  }

  /**
   * Waits until the order ends.
   *
   * @throws {OrderFailedError} with the failure type (e.g. PRODUCTION_FAILED) and D1's error code.
   */
  async waitForOrder(issuerRequestId: string, issuerId = this.config.d1.issuerId): Promise<CardOrderResult> {
    const handle = this.temporal.workflow.getHandle<(input: CardOrderInput) => Promise<CardOrderResult>>(
      cardOrderWorkflowId(issuerId, issuerRequestId),
    );
    try {
      return await handle.result();
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) {
        const details = (err.cause.details?.[0] ?? {}) as { d1ErrorCode?: string };
        throw new OrderFailedError(err.cause.type ?? 'UNKNOWN', err.cause.message, details.d1ErrorCode, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Closes the connection, when the client opened it. */
  async close(): Promise<void> {
    if (this.ownsConnection) await this.temporal.connection.close();
  }

  /** Validates the request and turns clear card data into D1's JWE; the workflow never sees clear values. */
  private async prepare(request: CardOrderRequest): Promise<{ order: CardOrder; timings: ParsedTimings }> {
    const parsed = cardOrderRequestSchema.safeParse(request);
    if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
    const { sensitiveData, encryptedData, timings, ...rest } = parsed.data;
    const issues = checkOrderAgainstCatalog(rest, this.catalog);
    if (issues.length > 0) throw new OrderValidationError(issues);
    const jwe = encryptedData ?? (await encryptSensitiveData(sensitiveData, this.encryptionKey));
    return { order: { ...rest, encryptedData: jwe }, timings };
  }
}
