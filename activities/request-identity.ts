/**
 * The identity of a Pull & change request to D1. A slow answer, a lost worker or a timeout retries the activity, and
 * the retry must be the same request to D1, not a second cancel or change: every attempt of one scheduled activity
 * sends the same identity.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { OrderValidationError } from '../orders/errors.js';
import { describeIssues } from '../common/zod-issues.js';
import { updateOrderRequestIdSchema } from '../d1/schemas.js';

/**
 * The request id of this activity's Pull & change call: `explicit` when the caller gives one (a workflow that names
 * its own requests), else derived from the scheduled activity (its workflow id, run id and activity id), which every
 * retry of it shares and no other activity has. The hash fits D1's id charset and length (43 characters).
 *
 * @throws {OrderValidationError} when `explicit` breaks D1's id pattern (`requestId`).
 */
export function updateOrderRequestId(explicit: string | undefined): string {
  if (explicit !== undefined) {
    const parsed = updateOrderRequestIdSchema.safeParse(explicit);
    if (!parsed.success) {
      throw new OrderValidationError(
        describeIssues(parsed.error).map(({ reason }) => ({ field: 'requestId', reason })),
      );
    }
    return parsed.data;
  }
  const { workflowExecution, activityId, activityRunId, namespace } = Context.current().info;
  // A standalone activity (no workflow) is identified by its namespace, id and run instead.
  const parts = workflowExecution
    ? ['workflow', workflowExecution.workflowId, workflowExecution.runId, activityId]
    : ['standalone', namespace, activityId, activityRunId ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}
