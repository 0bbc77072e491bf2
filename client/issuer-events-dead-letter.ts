/**
 * Operator tools over the dead-letter records of issuer events, one per order that closed with events its outbox
 * had not delivered: list them, and post an order's events to the issuer again.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { IssuerEventsNotFoundError, OrderValidationError } from '../orders/errors.js';
import { allOf, fieldEquals, running } from '../temporal/visibility-query.js';
import {
  ISSUER_EVENTS_DEAD_LETTER_WORKFLOW,
  issuerEventsDeadLetterId,
  issuerEventsDeadLetterQuery,
  redeliverIssuerEventsRefusals,
  redeliverIssuerEventsUpdate,
  type IssuerEventsDeadLetterView,
  type RedeliverIssuerEventsResult,
} from '../rules/contracts/issuer-events-dead-letter.js';
import { cardIdKey, issuerIdKey } from '../rules/contracts/search-attributes.js';
import { idIssues } from './id-issues.js';
import { queryAnswer } from '../temporal/query-through-failover.js';
import { executeUpdateResent } from '../temporal/update-resent.js';

/** One order's undelivered events, as `listFailedIssuerEvents` sums them up: ids, counts, dates, codes. */
export interface FailedIssuerEvents {
  orderWorkflowId: string;
  issuerId: string;
  cardId: string;
  /** Events still undelivered. */
  count: number;
  /** When the oldest of them happened (ISO 8601). */
  oldestOccurredAt: string | undefined;
  /** The code of the last delivery failure (the outbox's, or the last redelivery's). */
  lastFailure: string | undefined;
  redeliveries: number;
  /** When the record ends if nobody redelivers them (ISO 8601). */
  retentionEndsAt: string;
}

export interface FailedIssuerEventsFilter {
  issuerId: string;
  cardId?: string | undefined;
  limit?: number | undefined;
}

/** What a redelivery did: DELIVERED when nothing is left (the record ended), REMAINING with why it stopped. */
export interface IssuerEventsRedelivery extends RedeliverIssuerEventsResult {
  orderWorkflowId: string;
  outcome: 'DELIVERED' | 'REMAINING';
}

/**
 * The issuer's records with undelivered events on the task queue (optionally one card's), newest first. Each is read
 * through its query, so a worker must be up.
 *
 * @throws {OrderValidationError} naming an id not in D1's format or a bad limit (they never reach the query).
 */
export async function listFailedIssuerEvents(
  temporal: Client,
  taskQueue: string,
  { issuerId, cardId, limit = 100 }: FailedIssuerEventsFilter,
): Promise<FailedIssuerEvents[]> {
  const issues = idIssues([
    { field: 'issuerId', kind: 'issuer', value: issuerId },
    { field: 'cardId', kind: 'card', value: cardId },
  ]);
  if (!Number.isInteger(limit) || limit < 1) issues.push({ field: 'limit', reason: 'must be a positive whole number' });
  if (issues.length > 0) throw new OrderValidationError(issues);
  const query = allOf(
    fieldEquals('WorkflowType', ISSUER_EVENTS_DEAD_LETTER_WORKFLOW),
    running,
    // This deployment's records: those its workers answer queries for.
    fieldEquals('TaskQueue', taskQueue),
    fieldEquals(issuerIdKey, issuerId),
    cardId !== undefined && fieldEquals(cardIdKey, cardId),
  );
  const records: FailedIssuerEvents[] = [];
  for await (const execution of temporal.workflow.list({ query, pageSize: limit })) {
    let view: IssuerEventsDeadLetterView;
    try {
      view = await queryAnswer(temporal.workflow.getHandle(execution.workflowId), (handle) =>
        handle.query(issuerEventsDeadLetterQuery),
      );
    } catch (err) {
      // Ended between the listing and the query: nothing kept any more.
      if (err instanceof WorkflowNotFoundError) continue;
      throw err;
    }
    if (view.events.length === 0) continue;
    records.push({
      orderWorkflowId: view.orderWorkflowId,
      issuerId: view.issuerId,
      cardId: view.cardId,
      count: view.events.length,
      oldestOccurredAt: view.events.map((event) => event.occurredAt).sort()[0],
      lastFailure: view.lastFailure,
      redeliveries: view.redeliveries,
      retentionEndsAt: view.retentionEndsAt,
    });
    if (records.length >= limit) break;
  }
  return records;
}

/**
 * Posts the order's undelivered events to the issuer again, oldest first, stopping at the first the endpoint does
 * not take (after a few tries); the record ends once none is left. Safe to repeat: the issuer deduplicates by
 * eventId, and the record drops each event it delivered. Waits for the posts (up to about half a minute per event
 * the endpoint refuses).
 *
 * @throws {OrderValidationError} when `orderWorkflowId` is not an order's workflow id.
 * @throws {IssuerEventsNotFoundError} when the order has no open record, or nothing left in it.
 */
export async function redeliverIssuerEvents(
  temporal: Client,
  orderWorkflowId: string,
): Promise<IssuerEventsRedelivery> {
  const issues = idIssues([{ field: 'orderWorkflowId', kind: 'orderWorkflow', value: orderWorkflowId }]);
  if (issues.length > 0) throw new OrderValidationError(issues);
  const handle = temporal.workflow.getHandle(issuerEventsDeadLetterId(orderWorkflowId));
  const notFound = (cause: unknown, reason?: string) =>
    new IssuerEventsNotFoundError(orderWorkflowId, { cause, ...(reason !== undefined && { reason }) });
  try {
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') throw notFound(undefined, `its record is ${status.name}`);
  } catch (err) {
    throw err instanceof WorkflowNotFoundError ? notFound(err) : err;
  }
  const updateId = randomUUID();
  const refusals: readonly string[] = Object.values(redeliverIssuerEventsRefusals);
  let result: RedeliverIssuerEventsResult;
  try {
    result = await executeUpdateResent(updateId, (id) =>
      handle.executeUpdate(redeliverIssuerEventsUpdate, { updateId: id }),
    );
  } catch (err) {
    // The validator refused (all delivered, or the retention ended), or the record closed meanwhile.
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const type = err.cause.type ?? '';
      if (refusals.includes(type)) throw notFound(err, type);
    }
    if (err instanceof WorkflowNotFoundError) throw notFound(err);
    throw err;
  }
  return { orderWorkflowId, outcome: result.remaining === 0 ? 'DELIVERED' : 'REMAINING', ...result };
}
