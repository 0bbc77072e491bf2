/**
 * Operator tools over the unmatched notifications the webhook keeps, one record per card with no order of ours:
 * list an issuer's records, and hand a card's kept notifications to its order once that order exists.
 *
 * @module
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config/config.js';
import { OrderValidationError, UnmatchedNotFoundError } from '../orders/errors.js';
import { allOf, fieldEquals, running } from '../temporal/visibility-query.js';
import { NotificationRouter, unmatchedWorkflowId } from '../temporal/notification-router.js';
import { dedupeKey } from '../rules/card-order/production-tracking.js';
import {
  releaseUnmatchedUpdate,
  unmatchedNotificationsQuery,
  type UnmatchedNotification,
} from '../rules/contracts/unmatched-notifications.js';
import { issuerIdKey } from '../rules/contracts/search-attributes.js';
import { UNMATCHED_NOTIFICATIONS_WORKFLOW } from '../rules/contracts/unmatched-notifications.js';
import { idIssues } from './id-issues.js';
import { queryAnswer } from '../temporal/query-through-failover.js';

/** One card's record, as `listUnmatched` sums it up: identifiers, counts and states, no notification bodies. */
export interface UnmatchedRecord {
  cardId: string;
  workflowId: string;
  notifications: number;
  firstReceivedAt: string | undefined;
  lastReceivedAt: string | undefined;
  /** The issuerRequestIds the notifications name (an order placed elsewhere, or not yet placed). */
  issuerRequestIds: string[];
  /** `operation:status` of the newest notification, e.g. `PRODUCE:SUCCESSFUL`. */
  latest: string | undefined;
}

/**
 * What a redelivery did: `REDELIVERED` when every kept notification reached the card's order (or, for an order that
 * has ended, was acknowledged as late) and the record ended; `NO_ORDER` when the card still has no order, so the
 * record keeps them all.
 */
export interface UnmatchedRedelivery {
  cardId: string;
  outcome: 'REDELIVERED' | 'NO_ORDER';
  /** Notifications signalled to the card's running order. */
  delivered: number;
  /** Notifications for an order that has ended: acknowledged, not signalled. */
  late: number;
  /** Notifications the record still keeps. */
  remaining: number;
}

function checkIds(ids: { issuerId: string; cardId?: string }): void {
  const issues = idIssues([
    { field: 'issuerId', kind: 'issuer', value: ids.issuerId },
    { field: 'cardId', kind: 'card', value: ids.cardId },
  ]);
  if (issues.length > 0) throw new OrderValidationError(issues);
}

/**
 * The issuer's open records on the task queue, newest first. Each is read through its query, so a worker must be
 * up. Records the webhook made before it indexed them by issuer are not listed (they end with their retention
 * period).
 *
 * @throws {OrderValidationError} when the issuer id is not in D1's format (it never reaches the query unchecked).
 */
export async function listUnmatched(
  temporal: Client,
  taskQueue: string,
  issuerId: string,
  limit = 100,
): Promise<UnmatchedRecord[]> {
  checkIds({ issuerId });
  const query = allOf(
    fieldEquals('WorkflowType', UNMATCHED_NOTIFICATIONS_WORKFLOW),
    running,
    // This deployment's records: those its workers answer queries for.
    fieldEquals('TaskQueue', taskQueue),
    fieldEquals(issuerIdKey, issuerId),
  );
  const records: UnmatchedRecord[] = [];
  for await (const execution of temporal.workflow.list({ query, pageSize: limit })) {
    let kept: UnmatchedNotification[];
    try {
      kept = await queryAnswer(temporal.workflow.getHandle(execution.workflowId), (handle) =>
        handle.query(unmatchedNotificationsQuery),
      );
    } catch (err) {
      // Ended between the listing and the query: nothing kept any more.
      if (err instanceof WorkflowNotFoundError) continue;
      throw err;
    }
    const newest = kept.at(-1);
    records.push({
      cardId: newest?.operation.cardId ?? execution.workflowId.split(':').at(-1) ?? '',
      workflowId: execution.workflowId,
      notifications: kept.length,
      firstReceivedAt: kept[0]?.receivedAt,
      lastReceivedAt: newest?.receivedAt,
      issuerRequestIds: [
        ...new Set(kept.flatMap(({ operation }) => (operation.issuerRequestId ? [operation.issuerRequestId] : []))),
      ],
      latest: newest && `${newest.operation.operation}:${newest.operation.status}`,
    });
    if (records.length >= limit) break;
  }
  return records;
}

/**
 * Hands what the card's record keeps to the card's order, routed exactly as the webhook routes a notification (by
 * issuerRequestId, else the card's running order), then drops what was handed on; the record ends when nothing is
 * left. Safe to repeat: orders ignore a notification they already have.
 *
 * @throws {UnmatchedNotFoundError} when the card has no open record.
 */
export async function redeliverUnmatched(
  temporal: Client,
  config: Config,
  issuerId: string,
  cardId: string,
): Promise<UnmatchedRedelivery> {
  checkIds({ issuerId, cardId });
  const handle = temporal.workflow.getHandle(unmatchedWorkflowId(issuerId, cardId));
  const notFound = (cause?: unknown) => new UnmatchedNotFoundError(issuerId, cardId, { cause });
  let kept: UnmatchedNotification[];
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') throw notFound();
    // Bounded: the release update sent next must not meet a query that waited for a later worker.
    kept = await queryAnswer(handle, (h) => h.query(unmatchedNotificationsQuery));
  } catch (err) {
    throw err instanceof WorkflowNotFoundError ? notFound(err) : err;
  }
  const router = new NotificationRouter(temporal, config.temporal.taskQueue, {
    unmatchedRetentionMs: config.webhook.unmatchedRetentionMs,
  });
  const operations = kept.map((entry) => entry.operation);
  const { counts } = await router.deliverBatch(issuerId, operations);
  const delivered = counts.order + counts.order_by_card;
  if (counts.unmatched > 0) {
    return { cardId, outcome: 'NO_ORDER', delivered, late: counts.late, remaining: kept.length };
  }
  const { remaining } = await handle.executeUpdate(releaseUnmatchedUpdate, {
    args: [{ keys: operations.map(dedupeKey) }],
  });
  return { cardId, outcome: 'REDELIVERED', delivered, late: counts.late, remaining };
}
