/**
 * `listOrders` of `CardOrdersClient`: one issuer's orders as Temporal visibility sees them, through a query built
 * only from checked values.
 *
 * @module
 */
import type { WorkflowExecutionStatusName } from '@temporalio/client';
import { OrderValidationError } from '../orders/errors.js';
import { allOf, fieldDiffers, fieldEquals, fieldIn } from '../temporal/visibility-query.js';
import { CARD_ORDER_WORKFLOW_TYPES, cardOrderStatuses, type CardOrderStatus } from '../rules/contracts/card-order.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  productionStageKey,
  replacesCardIdKey,
} from '../rules/contracts/search-attributes.js';
import type { ClientContext } from './client-context.js';
import { idIssues } from './id-issues.js';

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

export interface OrderListFilter {
  status?: CardOrderStatus;
  issuerId?: string;
  replacesCardId?: string;
  limit?: number;
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
export async function listOrders(ctx: ClientContext, filter: OrderListFilter): Promise<OrderSummary[]> {
  const issuerId = filter.issuerId ?? ctx.config.d1.issuerId;
  const issues = idIssues([{ field: 'issuerId', kind: 'issuer', value: issuerId }]);
  if (filter.status !== undefined && !cardOrderStatuses.includes(filter.status))
    issues.push({ field: 'status', reason: `must be one of ${cardOrderStatuses.join(', ')}` });
  issues.push(...idIssues([{ field: 'replacesCardId', kind: 'card', value: filter.replacesCardId }]));
  const limit = filter.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) issues.push({ field: 'limit', reason: 'must be a positive whole number' });
  if (issues.length > 0) throw new OrderValidationError(issues);

  const query = allOf(
    fieldIn('WorkflowType', CARD_ORDER_WORKFLOW_TYPES),
    fieldEquals(issuerIdKey, issuerId),
    // Each run is its own execution in visibility, and a run that continued as new keeps the search attributes
    // (status) it had then. Leaving those out keeps the current run only, on SQLite and PostgreSQL alike: one
    // more condition on a column of the same table, no second query.
    fieldDiffers('ExecutionStatus', 'ContinuedAsNew'),
    filter.status !== undefined && fieldEquals(cardOrderStatusKey, filter.status),
    filter.replacesCardId !== undefined && fieldEquals(replacesCardIdKey, filter.replacesCardId),
  );
  const orders: OrderSummary[] = [];
  /** Where each workflow id is in `orders`. */
  const listed = new Map<string, number>();
  for await (const execution of ctx.temporal.workflow.list({ query, pageSize: limit })) {
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
