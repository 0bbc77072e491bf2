/**
 * Requests to a running order, sent as workflow updates: cancel, change (Pull & change: accelerate, redirect) and
 * re-ship. Each is refused at once, without asking D1, when the order cannot take it.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  isGrpcServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { OrderNotFoundError, OrderValidationError } from '../orders/errors.js';
import { placedInput } from '../temporal/placed-fingerprint.js';
import { executeUpdateResent } from '../temporal/update-resent.js';
import { addressSchema, updateOrderRequestSchema, type Address } from '../d1/schemas.js';
import { describeIssues } from '../common/zod-issues.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import {
  cancelOrderUpdate,
  changeOrderUpdate,
  changeTypes,
  finalCardOrderStatuses,
  reshipOrderUpdate,
  type CancelResult,
  type ChangeRequest,
  type ChangeResult,
  type ReshipResult,
} from '../rules/contracts/card-order.js';
import { cardOrderStatusKey } from '../rules/contracts/search-attributes.js';
import { orderHandle, orderNotFound, type ClientContext } from './client-context.js';

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

/**
 * Asks D1 to cancel the order; resolves once D1 confirmed (`CANCELLED`) or refused (`REJECTED`, with why, e.g.
 * ORDER_ALREADY_SHIPPED). An order that already ended is refused without asking D1, and without a trace in its
 * history (the update's validator refuses it). The request goes as an update whose id is `requestId`: sending
 * the same `requestId` again (a retry after a lost answer) does not make a second request, it gets the first
 * one's outcome.
 *
 * @throws {OrderNotFoundError} when there is no such order.
 */
export async function cancelOrder(
  ctx: ClientContext,
  issuerRequestId: string,
  options: OrderRequestOptions,
): Promise<CancelResult> {
  const issuerId = options.issuerId ?? ctx.config.d1.issuerId;
  const outcome = await sendOrderUpdate(ctx, issuerId, issuerRequestId, options.requestId, (handle, updateId) =>
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
export async function changeOrder(
  ctx: ClientContext,
  issuerRequestId: string,
  request: ChangeRequest,
  options: OrderRequestOptions,
): Promise<ChangeResult> {
  const issuerId = options.issuerId ?? ctx.config.d1.issuerId;
  const parsed = updateOrderRequestSchema.safeParse(request);
  if (!parsed.success || !(changeTypes as readonly string[]).includes(parsed.data.type)) {
    throw new OrderValidationError(
      parsed.success
        ? [{ field: 'type', reason: `must be one of ${changeTypes.join(', ')}` }]
        : describeIssues(parsed.error),
    );
  }
  const change = parsed.data as ChangeRequest;
  if (change.newDeliveryAddress) await checkDestination(ctx, issuerId, issuerRequestId, change.newDeliveryAddress);
  const outcome = await sendOrderUpdate(ctx, issuerId, issuerRequestId, options.requestId, (handle, updateId) =>
    handle.executeUpdate(changeOrderUpdate, { args: [change], updateId }),
  );
  return 'refusal' in outcome ? { outcome: 'REJECTED', reason: outcome.refusal } : outcome.result;
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
export async function reshipOrder(
  ctx: ClientContext,
  issuerRequestId: string,
  newDeliveryAddress: Address,
  options: OrderRequestOptions,
): Promise<ReshipResult> {
  const issuerId = options.issuerId ?? ctx.config.d1.issuerId;
  const parsed = addressSchema.safeParse(newDeliveryAddress);
  if (!parsed.success) {
    throw new OrderValidationError(
      describeIssues(parsed.error).map((issue) => ({
        ...issue,
        field: issue.field === '(body)' ? 'newDeliveryAddress' : `newDeliveryAddress.${issue.field}`,
      })),
    );
  }
  await checkDestination(ctx, issuerId, issuerRequestId, parsed.data);
  const outcome = await sendOrderUpdate(ctx, issuerId, issuerRequestId, options.requestId, (handle, updateId) =>
    handle.executeUpdate(reshipOrderUpdate, { args: [{ newDeliveryAddress: parsed.data }], updateId }),
  );
  return 'refusal' in outcome ? { outcome: 'REJECTED', reason: outcome.refusal } : outcome.result;
}

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

/**
 * Refuses an address outside the order's program's destination countries. The program is read from the order's
 * first event, not by a query: a query to an order whose worker just died waits for another worker, and sdk-core
 * 1.24 then runs the order's code for the events that came meanwhile and sends what it made ahead of this very
 * update, an order its replay does not make; the order wedges (`npm run chaos`, seed 11).
 */
async function checkDestination(
  ctx: ClientContext,
  issuerId: string,
  issuerRequestId: string,
  address: Address,
): Promise<void> {
  const workflowId = cardOrderWorkflowId(issuerId, issuerRequestId);
  const placed = await placedInput(ctx.temporal, ctx.config.temporal.namespace, ctx.codecs, workflowId).catch(
    (err: unknown) => {
      if (isGrpcServiceError(err) && Number(err.code) === Number(grpcStatus.NOT_FOUND))
        throw new OrderNotFoundError(issuerId, issuerRequestId, { cause: err });
      throw err;
    },
  );
  const cardProductId = placed?.order?.cardProductId;
  const program = cardProductId === undefined ? undefined : ctx.catalog.programs[cardProductId];
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
async function sendOrderUpdate<R>(
  ctx: ClientContext,
  issuerId: string,
  issuerRequestId: string,
  requestId: string | undefined,
  send: (handle: WorkflowHandle, updateId: string) => Promise<R>,
): Promise<{ result: R } | { refusal: string }> {
  const handle = orderHandle(ctx, issuerId, issuerRequestId);
  const updateId = requestId ?? randomUUID();
  try {
    return { result: await executeUpdateResent(updateId, (id) => send(handle, id)) };
  } catch (err) {
    // The validator refused: the failure's type is the reason (ORDER_ALREADY_SHIPPED...).
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type) {
      return { refusal: err.cause.type };
    }
    // The workflow has closed: the order ended, as its last indexed status says, with the validator's reasons.
    if (err instanceof WorkflowNotFoundError) {
      const { status, typedSearchAttributes } = await handle.describe().catch(orderNotFound(issuerId, issuerRequestId));
      if (status.name !== 'RUNNING') return { refusal: refusalOfEnded(typedSearchAttributes.get(cardOrderStatusKey)) };
    }
    throw err;
  }
}
