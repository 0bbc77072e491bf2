/**
 * What only an operator does, through `CardOrdersClient`: run a reconciliation with D1 now, and hand on what was
 * kept aside (notifications for cards with no order of ours, issuer events not delivered). The records themselves
 * are read and redelivered by `unmatched-notifications.ts` and `issuer-events-dead-letter.ts`; here they get the
 * client's issuer and task queue.
 *
 * @module
 */
import {
  RECONCILE_ORDERS_WORKFLOW,
  reconcileScheduleId,
  type ReconcileOrdersInput,
  type ReconcileSummary,
} from '../rules/contracts/reconcile.js';
import type { ClientContext } from './client-context.js';
import * as deadLetter from './issuer-events-dead-letter.js';
import type { FailedIssuerEvents, IssuerEventsRedelivery } from './issuer-events-dead-letter.js';
import * as unmatched from './unmatched-notifications.js';
import type { UnmatchedRecord, UnmatchedRedelivery } from './unmatched-notifications.js';

/**
 * Starts a reconciliation of the task queue's open orders with D1 now, whether its Schedule (RECONCILE_SCHEDULE)
 * exists or not, and returns its workflow id, `reconcile-orders:{taskQueue}:manual-{ISO time}`: its result is the
 * {@link ReconcileSummary}, its current details in Web UI the progress. A worker must run it. It may overlap a
 * scheduled run: the orders drop the D1 reports they already have (each run's events carry the run's own ids).
 */
export async function reconcileNow(ctx: ClientContext): Promise<string> {
  const { taskQueue } = ctx.config.temporal;
  const workflowId = `${reconcileScheduleId(taskQueue)}:manual-${new Date().toISOString()}`;
  await ctx.temporal.workflow.start<(input: ReconcileOrdersInput) => Promise<ReconcileSummary>>(
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
export function listUnmatched(
  ctx: ClientContext,
  options: { issuerId?: string; limit?: number },
): Promise<UnmatchedRecord[]> {
  const { taskQueue } = ctx.config.temporal;
  return unmatched.listUnmatched(ctx.temporal, taskQueue, options.issuerId ?? ctx.config.d1.issuerId, options.limit);
}

/**
 * Hands a card's unmatched notifications to its order, once the order exists; see `redeliverUnmatched` in `unmatched-notifications.ts`.
 *
 * @throws {UnmatchedNotFoundError} when the card has no open record.
 */
export function redeliverUnmatched(ctx: ClientContext, cardId: string, issuerId: string): Promise<UnmatchedRedelivery> {
  return unmatched.redeliverUnmatched(ctx.temporal, ctx.config, issuerId, cardId);
}

/**
 * Orders whose issuer events were not delivered when they closed (their dead-letter records), of one issuer
 * (default: the configured one), optionally one card, newest first: per order its workflow id, ids, how many
 * events, the oldest one's date and the last failure's code. A worker must be up.
 *
 * @throws {OrderValidationError} naming an invalid issuer or card id (never echoed, never in the query).
 */
export function listFailedIssuerEvents(
  ctx: ClientContext,
  filter: { issuerId?: string; cardId?: string; limit?: number },
): Promise<FailedIssuerEvents[]> {
  return deadLetter.listFailedIssuerEvents(ctx.temporal, ctx.config.temporal.taskQueue, {
    ...filter,
    issuerId: filter.issuerId ?? ctx.config.d1.issuerId,
  });
}

/**
 * Posts an order's undelivered issuer events again, in order; see `redeliverIssuerEvents` in
 * `issuer-events-dead-letter.ts`. A worker must be
 * up (it posts them).
 *
 * @throws {IssuerEventsNotFoundError} when the order has no open record.
 */
export function redeliverIssuerEvents(ctx: ClientContext, orderWorkflowId: string): Promise<IssuerEventsRedelivery> {
  return deadLetter.redeliverIssuerEvents(ctx.temporal, orderWorkflowId);
}
