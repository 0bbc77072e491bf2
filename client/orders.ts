/**
 * Placing an order and reading it back: `orderCard`, `getOrder`, `waitForOrder` and `waitForClose` of
 * `CardOrdersClient`.
 *
 * @module
 */
import {
  WorkflowFailedError,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { placeCardOrder } from '../temporal/card-order-start.js';
import { OrderConflictError, OrderFailedError } from '../orders/errors.js';
import { queryThroughFailover, queryWithin, quietForQuery } from '../temporal/query-through-failover.js';
import type { CardOrderRequest } from '../orders/schema.js';
import {
  orderStateQuery,
  type CardOrderFailureDetails,
  type CardOrderInput,
  type CardOrderResult,
  type CardOrderStatus,
  type OrderState,
} from '../rules/contracts/card-order.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  productionStageKey,
} from '../rules/contracts/search-attributes.js';
import { orderHandle, orderNotFound, type ClientContext } from './client-context.js';
import { prepareOrder } from './prepare-order.js';

export interface PlacedOrder {
  workflowId: string;
  /** `STARTED` for a new order; `EXISTING` when this order (same issuer and issuerRequestId) was already placed. */
  placement: 'STARTED' | 'EXISTING';
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

/** Execution statuses in which the workflow's last run ended with neither a result nor a failure of ours. */
const closedWithoutOutcome: readonly WorkflowExecutionStatusName[] = ['CANCELLED', 'TERMINATED', 'TIMED_OUT'];

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

/**
 * Places an order. Placing the same order again (same issuer and issuerRequestId) returns the existing one,
 * running or finished, and never orders a second card. The comparison covers every field but `timings`, card
 * data included (by keyed hash); an order placed before fingerprints existed, or under another
 * ORDER_FINGERPRINT_KEY, cannot be compared and counts as the same.
 *
 * @throws {OrderValidationError} naming every invalid field, before anything reaches Temporal or D1.
 * @throws {OrderConflictError} when the issuerRequestId was used for a different order, naming the fields.
 */
export async function orderCard(ctx: ClientContext, request: CardOrderRequest): Promise<PlacedOrder> {
  const { order, timings, fingerprint } = await prepareOrder(ctx, request);
  const { orderDefaults } = ctx.config;
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
    returnPolicy: ctx.catalog.programs[order.cardProductId]?.returns,
    publishEvents: ctx.config.issuerEvents.url !== undefined,
    fingerprint,
  };
  // Any execution of this id, running or closed, is this order already: the start fails and we say so.
  const summary = `Card order ${order.issuerRequestId} (card ${order.cardId}, product ${order.cardProductId})`;
  const { temporal, codecs } = ctx;
  const { namespace, taskQueue } = ctx.config.temporal;
  const placed = await placeCardOrder({ temporal, namespace, taskQueue, codecs }, input, summary);
  if (placed.placement === 'CONFLICT') throw new OrderConflictError(placed.workflowId, placed.differing);
  return { workflowId: placed.workflowId, placement: placed.placement };
}

/**
 * The order's state. A running order answers the `orderState` query (a worker must be up). A closed one is read
 * without a worker: a completed order from its result, a failed one from its failure details; one cancelled as a
 * workflow, terminated or timed out from its search attributes (`source: 'searchAttributes'`, a summary). Only a
 * first-generation order that ended needs a worker still: its result and failures do not hold its state.
 *
 * @throws {OrderNotFoundError} when there is no such order.
 */
export async function getOrder(ctx: ClientContext, issuerRequestId: string, issuerId: string): Promise<OrderReading> {
  const handle = orderHandle(ctx, issuerId, issuerRequestId);
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
  if (!(await quietForQuery(handle, description, { waitMs: ctx.pendingTaskWaitMs }))) return summary();
  const queried = await queryWithin(ctx.temporal, ctx.queryWaitMs, () =>
    queryThroughFailover(() => handle.query(orderStateQuery)),
  );
  return queried ? read(queried.answer, 'query') : summary();
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
export async function waitForOrder(
  ctx: ClientContext,
  issuerRequestId: string,
  issuerId: string,
): Promise<CardOrderResult> {
  try {
    return await orderHandle(ctx, issuerId, issuerRequestId).result();
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
export async function waitForClose(
  ctx: ClientContext,
  issuerRequestId: string,
  issuerId: string,
): Promise<OrderReading> {
  try {
    await orderHandle(ctx, issuerId, issuerRequestId).result();
  } catch (err) {
    // How it closed is for the reading to say.
    if (!(err instanceof WorkflowFailedError)) orderNotFound(issuerId, issuerRequestId)(err);
  }
  return getOrder(ctx, issuerRequestId, issuerId);
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
