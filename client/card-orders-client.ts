/**
 * The library issuer backends use to place and follow card orders. It validates an order, encrypts the card data
 * into D1's JWE before anything reaches Temporal, starts the order's workflow idempotently, and reads, lists,
 * cancels and waits for orders, over one connection with the payload codec.
 *
 * @module
 */
import { visibilityLiteral } from '../common/visibility-query.js';
import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { setTimeout as delay } from 'node:timers/promises';
import {
  Client,
  Connection,
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  ServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type PayloadCodec } from '@temporalio/common';
import type { z } from 'zod';
import { createDataConverter } from '../codec/data-converter.js';
import type { Config } from '../config/config.js';
import { OrderConflictError, OrderFailedError, OrderNotFoundError, OrderValidationError } from '../orders/errors.js';
import type { KeyWithId } from '../d1/keys.js';
import { loadEncryptionKey } from '../d1/keys.js';
import { describeIssues } from '../common/zod-issues.js';
import { addressSchema, updateOrderRequestSchema, type Address } from '../d1/schemas.js';
import { encryptSensitiveData } from '../d1/sensitive-data.js';
import { differingFields, OrderFingerprintKey, type OrderFingerprint } from '../orders/fingerprint.js';
import { checkOrderAgainstCatalog, loadProgramCatalog, type ProgramCatalog } from '../orders/program-catalog.js';
import {
  cardOrderRequestSchema,
  cardOrderWorkflowId,
  type CardOrder,
  type CardOrderRequest,
} from '../orders/schema.js';
import {
  CARD_ORDER_WORKFLOW_TYPES,
  cancelOrderUpdate,
  cardOrderStatuses,
  changeOrderUpdate,
  changeTypes,
  finalCardOrderStatuses,
  orderStateQuery,
  RECONCILE_ORDERS_WORKFLOW,
  reconcileScheduleId,
  reshipOrderUpdate,
  type CancelResult,
  type ChangeRequest,
  type ChangeResult,
  type CardOrderFailureDetails,
  type CardOrderInput,
  type CardOrderResult,
  type CardOrderStatus,
  type OrderState,
  type ReconcileOrdersInput,
  type ReconcileSummary,
  type ReshipResult,
} from '../workflows/definitions.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  productionStageKey,
  replacesCardIdKey,
} from '../workflows/search-attributes.js';
import { temporalConnectionOptions } from '../common/temporal.js';
import { idIssues } from './id-issues.js';
import { placedFingerprint, placedInput } from '../common/placed-fingerprint.js';
import { startCardOrder } from '../common/card-order-start.js';
import {
  campaignFailures,
  controlCampaign,
  findOpenCardOrders,
  getCampaign,
  startCampaign,
  type CampaignContext,
  type CampaignControlResult,
  type CampaignFailure,
  type CampaignStartOptions,
  type CampaignStatus,
} from './campaigns.js';
import { formatOfFile } from '../campaigns/campaign-file.js';
import { ingestCampaignFile } from '../campaigns/ingest.js';
import { batchPaymentApplication, goesInBatch, missingPaymentApplicationReason } from '../campaigns/batch-rules.js';
import type { CampaignManifest, CampaignPageStore } from '../campaigns/page-store.js';
import { openCampaignStore } from '../campaigns/store.js';
import {
  listUnmatched,
  redeliverUnmatched,
  type UnmatchedRecord,
  type UnmatchedRedelivery,
} from './unmatched-notifications.js';
import {
  listFailedIssuerEvents,
  redeliverIssuerEvents,
  type FailedIssuerEvents,
  type IssuerEventsRedelivery,
} from './issuer-events-dead-letter.js';
import {
  PENDING_TASK_WAIT_MS,
  QUERY_WAIT_MS,
  queryThroughFailover,
  queryWithin,
  quietForQuery,
} from '../common/query-through-failover.js';

type ParsedTimings = z.output<typeof cardOrderRequestSchema>['timings'];

/** An update (cancel, change) the server dropped in flight is sent again, under the same id, this many times in all. */
const UPDATE_ATTEMPTS = 4;
const UPDATE_RETRY_DELAY_MS = 500;

export interface PlacedOrder {
  workflowId: string;
  /** `STARTED` for a new order; `EXISTING` when this order (same issuer and issuerRequestId) was already placed. */
  placement: 'STARTED' | 'EXISTING';
}

/** An order as `listOrders` sees it: identifiers and states only. */
export interface OrderSummary {
  workflowId: string;
  /** The workflow type the order runs: `cardOrderV2`, or `cardOrder` for first-generation orders. */
  workflowType: string;
  issuerId: string | undefined;
  cardId: string | undefined;
  issuerRequestId: string | undefined;
  /** The card a RENEWAL or REPLACEMENT order replaces, when it named one. */
  replacesCardId: string | undefined;
  status: CardOrderStatus | undefined;
  stage: string | undefined;
  execution: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime: Date | undefined;
}

/**
 * Where `getOrder`'s answer came from:
 * - `query`: the running workflow (or, for a legacy order that ended without its state in the result, the
 *   `orderState` query, which a worker must answer);
 * - `result`: the final state in the completed order's result;
 * - `failure`: the final state in the failed order's failure details;
 * - `searchAttributes`: a summary of an order that was cancelled (workflow cancel), terminated or timed out, from
 *   its search attributes: ids, last `status` and `stage`; `timeline`, `attempts` and `compensations` are empty.
 */
export type OrderStateSource = 'query' | 'result' | 'failure' | 'searchAttributes';

/** What `getOrder` answers: the order's state, plus how its workflow stands and where the state came from. */
export interface OrderReading extends OrderState {
  /** The workflow execution's status: `RUNNING` while the order lives, then how it closed. */
  execution: WorkflowExecutionStatusName;
  source: OrderStateSource;
}

/** The options of a request to a running order: `cancelOrder`, `changeOrder` and its shorthands. */
export interface OrderRequestOptions {
  /** The issuer (default: the configured D1_ISSUER_ID). */
  issuerId?: string;
  /**
   * The caller's id for this request, sent as the update id: the same id sent again (a retry after a lost answer)
   * is the same request to Temporal, answered with the first one's outcome. Default: a random UUID.
   */
  requestId?: string;
}

/** Execution statuses in which the workflow's last run ended with neither a result nor a failure of ours. */
const closedWithoutOutcome: readonly WorkflowExecutionStatusName[] = ['CANCELLED', 'TERMINATED', 'TIMED_OUT'];

/**
 * Why a cancel of a closed order is refused, from its last status: the reasons of the update's validator
 * (ORDER_ALREADY_SHIPPED, ORDER_ALREADY_CANCELLED, ORDER_ALREADY_FAILED), or ORDER_ALREADY_ENDED for a run that
 * closed in another status (terminated, timed out).
 */
function refusalOfEnded(status: string | undefined): string {
  if (status === 'SHIPPED' || status === 'CANCELLED' || status === 'RETURNED') return `ORDER_ALREADY_${status}`;
  if (status !== undefined && (finalCardOrderStatuses as readonly string[]).includes(status)) {
    return 'ORDER_ALREADY_FAILED';
  }
  return 'ORDER_ALREADY_ENDED';
}

/** `details[0]` of an order's failure: the current shape, or the first generation's (`{d1ErrorCode,...}`, `{code}`). */
type AnyFailureDetails = Partial<CardOrderFailureDetails> & { code?: string };

/** D1's error code behind a failure (e.g. OUT_OF_STOCK): the details' own, else one found down the cause chain. */
function d1ErrorCodeOf(failure: ApplicationFailure): string | undefined {
  const details = (failure.details?.[0] ?? {}) as AnyFailureDetails;
  if (typeof details.d1ErrorCode === 'string') return details.d1ErrorCode;
  // First-generation refusals say `{code}` (our code, e.g. ERR_D1_CONFLICT) and keep the activity's failure, whose
  // details carry D1's own code, as the cause.
  for (let cause: unknown = failure.cause; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure) {
      const inner = (cause.details?.[0] ?? {}) as { d1ErrorCode?: unknown };
      if (typeof inner.d1ErrorCode === 'string') return inner.d1ErrorCode;
    }
  }
  return typeof details.code === 'string' ? details.code : undefined;
}

export interface CardOrdersClientOptions {
  config: Config;
  /** An open connection to share; the client makes (and closes) its own when absent. */
  connection?: Connection;
  /**
   * How long `getOrder` waits for a running order's waiting workflow task to be taken before it answers from the
   * order's search attributes instead of a query (see `quietForQuery`). @default 10 s
   */
  pendingTaskWaitMs?: number;
  /**
   * How long `getOrder` waits for a worker to answer its query of a running order before it answers from the
   * order's search attributes (see `queryWithin`). @default 3 s
   */
  queryWaitMs?: number;
}

export class CardOrdersClient {
  private store: CampaignPageStore | undefined;
  private pendingTaskWaitMs = PENDING_TASK_WAIT_MS;
  private queryWaitMs = QUERY_WAIT_MS;

  private constructor(
    readonly temporal: Client,
    private readonly config: Config,
    private readonly encryptionKey: KeyWithId,
    private readonly catalog: ProgramCatalog,
    private readonly fingerprintKey: OrderFingerprintKey,
    private readonly codecs: readonly PayloadCodec[],
    private readonly ownsConnection: boolean,
  ) {}

  /** Connects to Temporal with the codec and loads D1's encryption key and the program catalog. */
  static async connect({
    config,
    connection,
    pendingTaskWaitMs,
    queryWaitMs,
  }: CardOrdersClientOptions): Promise<CardOrdersClient> {
    const [encryptionKey, catalog, fingerprintKey, dataConverter] = await Promise.all([
      loadEncryptionKey(config.d1.encryptionKey),
      loadProgramCatalog(config.programCatalogFile),
      OrderFingerprintKey.load(config.orderFingerprintKey),
      createDataConverter(config),
    ]);
    const conn = connection ?? (await Connection.connect(temporalConnectionOptions(config.temporal)));
    const temporal = new Client({ connection: conn, namespace: config.temporal.namespace, dataConverter });
    const codecs = dataConverter.payloadCodecs ?? [];
    const client = new CardOrdersClient(temporal, config, encryptionKey, catalog, fingerprintKey, codecs, !connection);
    if (pendingTaskWaitMs !== undefined) client.pendingTaskWaitMs = pendingTaskWaitMs;
    if (queryWaitMs !== undefined) client.queryWaitMs = queryWaitMs;
    return client;
  }

  /**
   * Places an order. Placing the same order again (same issuer and issuerRequestId) returns the existing one,
   * running or finished, and never orders a second card. The comparison covers every field but `timings`, card
   * data included (by keyed hash); an order placed before fingerprints existed, or under another
   * ORDER_FINGERPRINT_KEY, cannot be compared and counts as the same.
   *
   * @throws {OrderValidationError} naming every invalid field, before anything reaches Temporal or D1.
   * @throws {OrderConflictError} when the issuerRequestId was used for a different order, naming the fields.
   */
  async orderCard(request: CardOrderRequest): Promise<PlacedOrder> {
    const { order, timings, fingerprint } = await this.prepare(request);
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
        deliveryWindowMs: timings?.deliveryWindow ?? orderDefaults.deliveryWindowMs,
        reshipWaitMs: timings?.reshipWait ?? orderDefaults.reshipWaitMs,
      },
      returnPolicy: this.catalog.programs[order.cardProductId]?.returns,
      publishEvents: this.config.issuerEvents.url !== undefined,
      fingerprint,
    };
    try {
      // Any execution of this id, running or closed, is this order already: the start fails and we say so.
      const summary = `Card order ${order.issuerRequestId} (card ${order.cardId}, product ${order.cardProductId})`;
      await startCardOrder(this.temporal, this.config.temporal.taskQueue, input, summary);
      return { workflowId, placement: 'STARTED' };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    const differing = differingFields(
      await placedFingerprint(this.temporal, this.config.temporal.namespace, this.codecs, workflowId),
      fingerprint,
    );
    if (differing && differing.length > 0) throw new OrderConflictError(workflowId, differing);
    return { workflowId, placement: 'EXISTING' };
  }

  /**
   * The order's state. A running order answers the `orderState` query (a worker must be up). A closed one is read
   * without a worker: a completed order from its result, a failed one from its failure details; one cancelled as a
   * workflow, terminated or timed out from its search attributes (`source: 'searchAttributes'`, a summary). Only a
   * first-generation order that ended needs a worker still: its result and failures do not hold its state.
   *
   * @throws {OrderNotFoundError} when there is no such order.
   */
  async getOrder(issuerRequestId: string, issuerId = this.config.d1.issuerId): Promise<OrderReading> {
    const handle = this.orderHandle(issuerId, issuerRequestId);
    const description = await handle.describe().catch(orderNotFound(issuerId, issuerRequestId));
    const execution = description.status.name;
    const read = (state: OrderState, source: OrderStateSource): OrderReading => ({ ...state, execution, source });
    const viaQuery = async () => read(await queryThroughFailover(() => handle.query(orderStateQuery)), 'query');
    if (closedWithoutOutcome.includes(execution)) {
      return read(summaryOf(description, issuerId, issuerRequestId), 'searchAttributes');
    }
    if (execution === 'COMPLETED') {
      const result = await handle.result();
      return result.state ? read(result.state, 'result') : viaQuery();
    }
    if (execution === 'FAILED') {
      try {
        await handle.result();
      } catch (err) {
        const failure = err instanceof WorkflowFailedError ? err.cause : undefined;
        const details = failure instanceof ApplicationFailure ? (failure.details?.[0] as AnyFailureDetails) : undefined;
        if (details?.state) return read(details.state, 'failure');
      }
      return viaQuery();
    }
    // A running order is queried only once no task of it waits, and only for as long as a live worker takes to
    // answer (see `queryWithin`); else its indexed status and stage are what we say.
    const summary = async () => read(summaryOf(await handle.describe(), issuerId, issuerRequestId), 'searchAttributes');
    if (!(await quietForQuery(handle, description, { waitMs: this.pendingTaskWaitMs }))) return summary();
    const queried = await queryWithin(this.temporal, this.queryWaitMs, () =>
      queryThroughFailover(() => handle.query(orderStateQuery)),
    );
    return queried ? read(queried.answer, 'query') : summary();
  }

  /**
   * One issuer's orders (default: the configured one) as Temporal visibility sees them (eventually consistent),
   * newest first, optionally by status or by the card they replace, both workflow generations, one entry per order:
   * its current run (an order that continued as new is listed once, with its current status). Nothing the caller
   * passes reaches the query unchecked: the issuer id must be in D1's format and the status one of
   * {@link cardOrderStatuses} (and both are quoted as literals all the same), so no filter can widen the query to
   * another issuer's orders.
   *
   * @throws {OrderValidationError} naming the filter field that is invalid (its value is not echoed).
   */
  async listOrders(
    filter: { status?: CardOrderStatus; issuerId?: string; replacesCardId?: string; limit?: number } = {},
  ): Promise<OrderSummary[]> {
    const issuerId = filter.issuerId ?? this.config.d1.issuerId;
    const issues = idIssues([{ field: 'issuerId', kind: 'issuer', value: issuerId }]);
    if (filter.status !== undefined && !cardOrderStatuses.includes(filter.status))
      issues.push({ field: 'status', reason: `must be one of ${cardOrderStatuses.join(', ')}` });
    issues.push(...idIssues([{ field: 'replacesCardId', kind: 'card', value: filter.replacesCardId }]));
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1)
      issues.push({ field: 'limit', reason: 'must be a positive whole number' });
    if (issues.length > 0) throw new OrderValidationError(issues);

    const clauses = [
      `WorkflowType IN (${CARD_ORDER_WORKFLOW_TYPES.map(visibilityLiteral).join(', ')})`,
      `${issuerIdKey.name} = ${visibilityLiteral(issuerId)}`,
      // Each run is its own execution in visibility, and a run that continued as new keeps the search attributes
      // (status) it had then. Leaving those out keeps the current run only, on SQLite and PostgreSQL alike: one
      // more condition on a column of the same table, no second query.
      `ExecutionStatus != ${visibilityLiteral('ContinuedAsNew')}`,
    ];
    if (filter.status) clauses.push(`${cardOrderStatusKey.name} = ${visibilityLiteral(filter.status)}`);
    if (filter.replacesCardId) {
      clauses.push(`${replacesCardIdKey.name} = ${visibilityLiteral(filter.replacesCardId)}`);
    }
    const orders: OrderSummary[] = [];
    /** Where each workflow id is in `orders`. */
    const listed = new Map<string, number>();
    for await (const execution of this.temporal.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
      // Visibility records a run's close and its successor's start apart: for a moment both runs show as running.
      const seen = listed.get(execution.workflowId);
      if (seen !== undefined && (orders[seen] as OrderSummary).startTime >= execution.startTime) continue;
      const attrs = execution.typedSearchAttributes;
      const summary: OrderSummary = {
        workflowId: execution.workflowId,
        workflowType: execution.type,
        issuerId: attrs.get(issuerIdKey),
        cardId: attrs.get(cardIdKey),
        issuerRequestId: attrs.get(issuerRequestIdKey),
        replacesCardId: attrs.get(replacesCardIdKey),
        status: attrs.get(cardOrderStatusKey) as CardOrderStatus | undefined,
        stage: attrs.get(productionStageKey),
        execution: execution.status.name,
        startTime: execution.startTime,
        closeTime: execution.closeTime,
      };
      if (seen !== undefined) {
        orders[seen] = summary;
        continue;
      }
      listed.set(execution.workflowId, orders.length);
      orders.push(summary);
      if (orders.length >= limit) break;
    }
    return orders;
  }

  /**
   * Asks D1 to cancel the order; resolves once D1 confirmed (`CANCELLED`) or refused (`REJECTED`, with why, e.g.
   * ORDER_ALREADY_SHIPPED). An order that already ended is refused without asking D1, and without a trace in its
   * history (the update's validator refuses it). The request goes as an update whose id is `requestId`: sending
   * the same `requestId` again (a retry after a lost answer) does not make a second request, it gets the first
   * one's outcome.
   *
   * @throws {OrderNotFoundError} when there is no such order.
   */
  async cancelOrder(issuerRequestId: string, options: OrderRequestOptions = {}): Promise<CancelResult> {
    const issuerId = options.issuerId ?? this.config.d1.issuerId;
    const outcome = await this.sendOrderUpdate(issuerId, issuerRequestId, options.requestId, (handle, updateId) =>
      handle.executeUpdate(cancelOrderUpdate, { updateId }),
    );
    return 'refusal' in outcome ? { outcome: 'REJECTED', reason: outcome.refusal } : outcome.result;
  }

  /**
   * Pull & change: asks D1 to accelerate the order, redirect it to `newDeliveryAddress`, or both; resolves with the
   * personalization center's verdict (`ACCEPTED`, or `REJECTED` with its reason, e.g. ADDRESS_LOCKED). The address
   * is checked first against D1's schema and the order's program (its countries). A change that cannot succeed is
   * refused at once, without asking D1: `REJECTED` with ORDER_ALREADY_SHIPPED, ORDER_ALREADY_CANCELLED,
   * ORDER_ALREADY_FAILED, ORDER_CANCELLING or ORDER_NOT_AT_D1. Changes to one order are carried out one at a time.
   * `requestId` works as for {@link cancelOrder}.
   *
   * @throws {OrderValidationError} naming each invalid field of the request (never its value).
   * @throws {OrderNotFoundError} when there is no such order.
   */
  async changeOrder(
    issuerRequestId: string,
    request: ChangeRequest,
    options: OrderRequestOptions = {},
  ): Promise<ChangeResult> {
    const issuerId = options.issuerId ?? this.config.d1.issuerId;
    const parsed = updateOrderRequestSchema.safeParse(request);
    if (!parsed.success || !(changeTypes as readonly string[]).includes(parsed.data.type)) {
      throw new OrderValidationError(
        parsed.success
          ? [{ field: 'type', reason: `must be one of ${changeTypes.join(', ')}` }]
          : describeIssues(parsed.error),
      );
    }
    const change = parsed.data as ChangeRequest;
    if (change.newDeliveryAddress) await this.checkDestination(issuerId, issuerRequestId, change.newDeliveryAddress);
    const outcome = await this.sendOrderUpdate(issuerId, issuerRequestId, options.requestId, (handle, updateId) =>
      handle.executeUpdate(changeOrderUpdate, { args: [change], updateId }),
    );
    return 'refusal' in outcome ? { outcome: 'REJECTED', reason: outcome.refusal } : outcome.result;
  }

  /** Speeds the order up (produce at once, express carrier); see {@link changeOrder}. */
  accelerateOrder(issuerRequestId: string, options?: OrderRequestOptions): Promise<ChangeResult> {
    return this.changeOrder(issuerRequestId, { type: 'ACCELERATE' }, options);
  }

  /** Sends the card to a new address; see {@link changeOrder}. */
  redirectOrder(
    issuerRequestId: string,
    newDeliveryAddress: Address,
    options?: OrderRequestOptions,
  ): Promise<ChangeResult> {
    return this.changeOrder(issuerRequestId, { type: 'REDIRECT', newDeliveryAddress }, options);
  }

  /** Both at once; see {@link changeOrder}. */
  accelerateAndRedirectOrder(
    issuerRequestId: string,
    newDeliveryAddress: Address,
    options?: OrderRequestOptions,
  ): Promise<ChangeResult> {
    return this.changeOrder(issuerRequestId, { type: 'ACCELERATE_AND_REDIRECT', newDeliveryAddress }, options);
  }

  /**
   * Ships a returned card again, to the corrected `newDeliveryAddress`: the order re-orders it from D1 (under
   * `{issuerRequestId}--r{n}`) and tracks it as before. Resolves once D1 accepted the new order (`RESHIPPED`, with
   * its issuerRequestId), or `REJECTED` with the reason: the validator's (ORDER_NOT_RETURNED, RESHIP_NOT_ALLOWED when
   * the program ends orders at a return, RESHIP_LIMIT_REACHED, RESHIP_IN_PROGRESS, ORDER_ALREADY_*) or D1's.
   * `requestId` works as for {@link cancelOrder}.
   *
   * @throws {OrderValidationError} naming each invalid field of the address (never its value).
   * @throws {OrderNotFoundError} when there is no such order.
   */
  async reshipOrder(
    issuerRequestId: string,
    newDeliveryAddress: Address,
    options: OrderRequestOptions = {},
  ): Promise<ReshipResult> {
    const issuerId = options.issuerId ?? this.config.d1.issuerId;
    const parsed = addressSchema.safeParse(newDeliveryAddress);
    if (!parsed.success) {
      throw new OrderValidationError(
        describeIssues(parsed.error).map((issue) => ({
          ...issue,
          field: issue.field === '(body)' ? 'newDeliveryAddress' : `newDeliveryAddress.${issue.field}`,
        })),
      );
    }
    await this.checkDestination(issuerId, issuerRequestId, parsed.data);
    const outcome = await this.sendOrderUpdate(issuerId, issuerRequestId, options.requestId, (handle, updateId) =>
      handle.executeUpdate(reshipOrderUpdate, { args: [{ newDeliveryAddress: parsed.data }], updateId }),
    );
    return 'refusal' in outcome ? { outcome: 'REJECTED', reason: outcome.refusal } : outcome.result;
  }

  /**
   * Waits until the order ends: for a shipped order, when its delivery window closes (or the card came back and
   * was not re-shipped).
   *
   * @throws {OrderNotFoundError} when there is no such order.
   * @throws {OrderFailedError} with the failure type (e.g. PRODUCTION_FAILED) and D1's error code (e.g.
   *   OUT_OF_STOCK), from the failure details of either workflow generation; where D1 gave no code of its own, our
   *   code behind the refusal (e.g. ERR_D1_CONFLICT).
   */
  async waitForOrder(issuerRequestId: string, issuerId = this.config.d1.issuerId): Promise<CardOrderResult> {
    try {
      return await this.orderHandle(issuerId, issuerRequestId).result();
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) {
        throw new OrderFailedError(err.cause.type ?? 'UNKNOWN', err.cause.message, d1ErrorCodeOf(err.cause), {
          cause: err,
        });
      }
      return orderNotFound(issuerId, issuerRequestId)(err);
    }
  }

  /**
   * Waits until the order's run closes, however it closes (a shipped order: when its delivery window ends), and
   * reads it then, as {@link getOrder} does. The server answers when the run closes (the workflow's result, through
   * any continue-as-new): nothing polls. A failed, terminated or timed-out run is read like any other, not thrown.
   *
   * @throws {OrderNotFoundError} when there is no such order.
   */
  async waitForClose(issuerRequestId: string, issuerId = this.config.d1.issuerId): Promise<OrderReading> {
    try {
      await this.orderHandle(issuerId, issuerRequestId).result();
    } catch (err) {
      // How it closed is for the reading to say.
      if (!(err instanceof WorkflowFailedError)) orderNotFound(issuerId, issuerRequestId)(err);
    }
    return this.getOrder(issuerRequestId, issuerId);
  }

  /**
   * Starts a reconciliation of the task queue's open orders with D1 now, whether its Schedule (RECONCILE_SCHEDULE)
   * exists or not, and returns its workflow id, `reconcile-orders:{taskQueue}:manual-{ISO time}`: its result is the
   * {@link ReconcileSummary}, its current details in Web UI the progress. A worker must run it. It may overlap a
   * scheduled run: the orders drop the D1 reports they already have (each run's events carry the run's own ids).
   */
  async reconcileNow(): Promise<string> {
    const { taskQueue } = this.config.temporal;
    const workflowId = `${reconcileScheduleId(taskQueue)}:manual-${new Date().toISOString()}`;
    await this.temporal.workflow.start<(input: ReconcileOrdersInput) => Promise<ReconcileSummary>>(
      RECONCILE_ORDERS_WORKFLOW,
      {
        taskQueue,
        workflowId,
        args: [{}],
        workflowExecutionTimeout: '23h',
        staticSummary: `Reconciliation of the open card orders of task queue ${taskQueue} with D1 (on demand)`,
      },
    );
    return workflowId;
  }

  /**
   * The issuer's open records of unmatched notifications (D1 reports for cards with no order of ours), newest first.
   * A worker must be up.
   */
  listUnmatched(options: { issuerId?: string; limit?: number } = {}): Promise<UnmatchedRecord[]> {
    const { taskQueue } = this.config.temporal;
    return listUnmatched(this.temporal, taskQueue, options.issuerId ?? this.config.d1.issuerId, options.limit);
  }

  /**
   * Hands a card's unmatched notifications to its order, once the order exists; see {@link redeliverUnmatched}.
   *
   * @throws {UnmatchedNotFoundError} when the card has no open record.
   */
  redeliverUnmatched(cardId: string, issuerId = this.config.d1.issuerId): Promise<UnmatchedRedelivery> {
    return redeliverUnmatched(this.temporal, this.config, issuerId, cardId);
  }

  /**
   * Orders whose issuer events were not delivered when they closed (their dead-letter records), of one issuer
   * (default: the configured one), optionally one card, newest first: per order its workflow id, ids, how many
   * events, the oldest one's date and the last failure's code. A worker must be up.
   *
   * @throws {OrderValidationError} naming an invalid issuer or card id (never echoed, never in the query).
   */
  listFailedIssuerEvents(
    filter: { issuerId?: string; cardId?: string; limit?: number } = {},
  ): Promise<FailedIssuerEvents[]> {
    return listFailedIssuerEvents(this.temporal, this.config.temporal.taskQueue, {
      ...filter,
      issuerId: filter.issuerId ?? this.config.d1.issuerId,
    });
  }

  /**
   * Posts an order's undelivered issuer events again, in order; see {@link redeliverIssuerEvents}. A worker must be
   * up (it posts them).
   *
   * @throws {IssuerEventsNotFoundError} when the order has no open record.
   */
  redeliverIssuerEvents(orderWorkflowId: string): Promise<IssuerEventsRedelivery> {
    return redeliverIssuerEvents(this.temporal, orderWorkflowId);
  }

  /**
   * Checks a campaign file (CSV or JSONL, one card per line, see `campaigns/campaign-file.ts`) line by line against the
   * order schema and the program catalog, and stores its valid cards in pages of `D1_BATCH_SIZE`, card data
   * encrypted to D1's key and each page with the payload codec's key (`CAMPAIGN_STORE_DIR`). The file is streamed.
   * Ingesting the same file under the same id again resumes a cut-off ingestion, or returns the finished one as it is.
   *
   * @throws {CampaignFileError} naming each bad line and field (never a value), when `skipInvalid` is not set.
   * @throws {CampaignConflictError} when `campaignId` was ingested from another file.
   */
  ingestCampaign(options: {
    file: string;
    campaignId: string;
    skipInvalid?: boolean;
    issuerId?: string;
    onPage?: (manifest: CampaignManifest) => void;
  }): Promise<CampaignManifest> {
    const issuerId = options.issuerId ?? this.config.d1.issuerId;
    const issues = idIssues([
      { field: 'issuerId', kind: 'issuer', value: issuerId },
      { field: 'campaignId', kind: 'campaign', value: options.campaignId },
    ]);
    const format = formatOfFile(options.file);
    if (!format) issues.push({ field: 'file', reason: 'must end in .csv, .jsonl or .ndjson' });
    if (issues.length > 0 || !format) return Promise.reject(new OrderValidationError(issues));
    return ingestCampaignFile({
      file: options.file,
      format,
      issuerId,
      campaignId: options.campaignId,
      skipInvalid: options.skipInvalid ?? false,
      pageSize: this.config.campaigns.batchSize,
      store: this.campaignStore(),
      cards: {
        issues: (record) => this.campaignCardIssues(record, issuerId),
        prepare: (record) => this.prepare(record as CardOrderRequest),
      },
      openOrders: (cardIds) => findOpenCardOrders(this.temporal, this.config.temporal.taskQueue, issuerId, cardIds),
      ...(options.onPage && { onPage: options.onPage }),
    });
  }

  /**
   * Starts a bulk campaign from a file: checks and stores it (see {@link ingestCampaign}), then starts the campaign
   * workflow, which submits the cards in D1 batches of `D1_BATCH_SIZE`, each card its own order. Starting the same
   * file under the same id again resumes or changes nothing.
   *
   * @throws {CampaignFileError} naming the bad lines, unless `skipInvalid`.
   * @throws {CampaignConflictError} for another file under the same id.
   */
  startCampaign(options: CampaignStartOptions): Promise<CampaignStatus> {
    return startCampaign(this.campaignContext(), options);
  }

  /** Where the campaign stands, its cards counted by status; see {@link getCampaign} in `client/campaigns.ts`. */
  getCampaign(campaignId: string, issuerId?: string): Promise<CampaignStatus> {
    return getCampaign(this.campaignContext(), campaignId, issuerId);
  }

  /** Stops new submissions within seconds (the page under way is interrupted and sent again on resume). */
  pauseCampaign(campaignId: string, issuerId?: string): Promise<CampaignControlResult> {
    return controlCampaign(this.campaignContext(), campaignId, { kind: 'pause' }, issuerId);
  }

  resumeCampaign(campaignId: string, issuerId?: string): Promise<CampaignControlResult> {
    return controlCampaign(this.campaignContext(), campaignId, { kind: 'resume' }, issuerId);
  }

  /** Stops submitting; with `pull`, asks D1 to cancel the campaign's cards not yet shipped. */
  cancelCampaign(campaignId: string, options: { pull?: boolean; issuerId?: string } = {}) {
    const action = { kind: 'cancel', pull: options.pull ?? false } as const;
    return controlCampaign(this.campaignContext(), campaignId, action, options.issuerId);
  }

  /** Every card of the campaign that failed, with its reason. */
  campaignFailures(campaignId: string, issuerId = this.config.d1.issuerId): Promise<CampaignFailure[]> {
    const readOrderFailure = async (issuerRequestId: string) => {
      const state = await this.getOrder(issuerRequestId, issuerId);
      if (state.execution === 'FAILED') {
        try {
          await this.waitForOrder(issuerRequestId, issuerId);
        } catch (err) {
          if (err instanceof OrderFailedError)
            return { errorCode: err.d1ErrorCode ?? err.failureType, reason: err.message };
          throw err;
        }
      }
      const reason = state.status === 'RETURNED' ? 'the card came back undelivered' : `the order is ${state.status}`;
      return { errorCode: state.failure?.errorCode ?? state.status, reason };
    };
    return campaignFailures(this.campaignContext(), campaignId, readOrderFailure, issuerId);
  }

  private campaignContext(): CampaignContext {
    return {
      temporal: this.temporal,
      config: this.config,
      store: this.campaignStore(),
      ingest: (options) => this.ingestCampaign(options),
      cardDefaults: {
        timings: this.config.orderDefaults,
        publishEvents: this.config.issuerEvents.url !== undefined,
      },
    };
  }

  /** The store of campaign pages (CAMPAIGN_STORE), with this client's codec keys; opened once, closed with the client. */
  campaignStore(): CampaignPageStore {
    this.store ??= openCampaignStore(this.config.campaigns, this.codecs);
    return this.store;
  }

  /** Closes the connection, when the client opened it, and the campaign store. */
  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await store?.close();
    if (this.ownsConnection) await this.temporal.connection.close();
  }

  /**
   * Refuses an address outside the order's program's destination countries. The program is read from the order's
   * first event, not by a query: a query to an order whose worker just died waits for another worker, and sdk-core
   * 1.24 then runs the order's code for the events that came meanwhile and sends what it made ahead of this very
   * update, an order its replay does not make; the order wedges (`npm run chaos`, seed 11).
   */
  private async checkDestination(issuerId: string, issuerRequestId: string, address: Address): Promise<void> {
    const workflowId = cardOrderWorkflowId(issuerId, issuerRequestId);
    const placed = await placedInput(this.temporal, this.config.temporal.namespace, this.codecs, workflowId).catch(
      (err: unknown) => {
        if (isGrpcServiceError(err) && Number(err.code) === Number(grpcStatus.NOT_FOUND))
          throw new OrderNotFoundError(issuerId, issuerRequestId, { cause: err });
        throw err;
      },
    );
    const cardProductId = placed?.order?.cardProductId;
    const program = cardProductId === undefined ? undefined : this.catalog.programs[cardProductId];
    if (program && !program.destinationCountries.includes(address.countryCode)) {
      throw new OrderValidationError([
        {
          field: 'newDeliveryAddress.countryCode',
          reason: `is not a country program ${cardProductId} ships to (${program.destinationCountries.join(', ')})`,
        },
      ]);
    }
  }

  /**
   * Sends an update to the order: its result, or why it was refused without being run (the validator's reason, or
   * the reason a closed order would have been refused for).
   */
  private async sendOrderUpdate<R>(
    issuerId: string,
    issuerRequestId: string,
    requestId: string | undefined,
    send: (handle: WorkflowHandle, updateId: string) => Promise<R>,
  ): Promise<{ result: R } | { refusal: string }> {
    const handle = this.orderHandle(issuerId, issuerRequestId);
    const updateId = requestId ?? randomUUID();
    try {
      // The server may drop an update in flight (under load, on a shard move): ask again under the same id, which
      // it deduplicates, so the request is made once and every attempt gets the one answer.
      for (let attempt = 1; ; attempt++) {
        try {
          return { result: await send(handle, updateId) };
        } catch (err) {
          const transient = err instanceof ServiceError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
          if (!transient || attempt >= UPDATE_ATTEMPTS) throw err;
          await delay(UPDATE_RETRY_DELAY_MS * attempt);
        }
      }
    } catch (err) {
      // The validator refused: the failure's type is the reason (ORDER_ALREADY_SHIPPED...).
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type) {
        return { refusal: err.cause.type };
      }
      // The workflow has closed: the order ended, as its last indexed status says, with the validator's reasons.
      if (err instanceof WorkflowNotFoundError) {
        const { status, typedSearchAttributes } = await handle
          .describe()
          .catch(orderNotFound(issuerId, issuerRequestId));
        if (status.name !== 'RUNNING')
          return { refusal: refusalOfEnded(typedSearchAttributes.get(cardOrderStatusKey)) };
      }
      throw err;
    }
  }

  private orderHandle(
    issuerId: string,
    issuerRequestId: string,
  ): WorkflowHandle<(input: CardOrderInput) => Promise<CardOrderResult>> {
    return this.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, issuerRequestId));
  }

  /**
   * Every way a campaign line is not a valid order: its schema, its program, then what D1's batch needs of a card that goes in one (its page's
   * submission applies the same rule; found here, the line is refused before anything is stored).
   */
  private campaignCardIssues(request: unknown, issuerId: string): { field: string; reason: string }[] {
    const parsed = cardOrderRequestSchema.safeParse(request);
    if (!parsed.success) return describeIssues(parsed.error);
    const issues = checkOrderAgainstCatalog(parsed.data, this.catalog);
    const submission = this.config.campaigns.singleOrderIssuers.includes(issuerId) ? 'SINGLE' : 'BATCH';
    if (
      goesInBatch(submission, this.config.d1.replacesCardIdField, parsed.data) &&
      !batchPaymentApplication(parsed.data, this.catalog)
    ) {
      issues.push({ field: 'paymentApplication', reason: `is missing: ${missingPaymentApplicationReason}` });
    }
    return issues;
  }

  /** Validates the request and turns clear card data into D1's JWE; the workflow never sees clear values. */
  private async prepare(
    request: CardOrderRequest,
  ): Promise<{ order: CardOrder; timings: ParsedTimings; fingerprint: OrderFingerprint }> {
    const parsed = cardOrderRequestSchema.safeParse(request);
    if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
    const { sensitiveData, encryptedData, timings, ...rest } = parsed.data;
    const issues = checkOrderAgainstCatalog(rest, this.catalog);
    if (issues.length > 0) throw new OrderValidationError(issues);
    // Clear card data is fingerprinted as given (each JWE of it differs); a ready JWE, as that JWE.
    const fingerprint = this.fingerprintKey.fingerprint({ ...rest, sensitiveData, encryptedData });
    const jwe = encryptedData ?? (await encryptSensitiveData(sensitiveData, this.encryptionKey));
    return { order: { ...rest, encryptedData: jwe }, timings, fingerprint };
  }
}

/** A rejection handler that turns Temporal's "no such workflow" into our ORDER_NOT_FOUND, and rethrows the rest. */
function orderNotFound(issuerId: string, issuerRequestId: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof WorkflowNotFoundError) throw new OrderNotFoundError(issuerId, issuerRequestId, { cause: err });
    throw err;
  };
}

/** The state of an order whose run closed without an outcome, from its search attributes (a summary). */
function summaryOf(
  { typedSearchAttributes: attrs }: WorkflowExecutionDescription,
  issuerId: string,
  issuerRequestId: string,
): OrderState {
  const stage = attrs.get(productionStageKey);
  return {
    issuerId: attrs.get(issuerIdKey) ?? issuerId,
    cardId: attrs.get(cardIdKey) ?? '',
    issuerRequestId: attrs.get(issuerRequestIdKey) ?? issuerRequestId,
    status: (attrs.get(cardOrderStatusKey) as CardOrderStatus | undefined) ?? 'SUBMITTING',
    stage: stage === 'NONE' ? undefined : stage,
    operationId: undefined,
    dueDate: undefined,
    shipment: undefined,
    failure: undefined,
    timeline: [],
    attempts: { submissions: 0, reorders: 0, polls: 0, pollFailures: 0 },
    lastPollAt: undefined,
    nextPollAt: undefined,
    compensations: [],
  };
}
