/**
 * Hands each D1 operation to the workflow it belongs to, as a `d1Notification` signal: the order named by its
 * `issuerRequestId`, else the running order of its card, else the card's record of unmatched notifications
 * (signal-with-start, so nothing is dropped). Throws when Temporal does not take a signal, so the webhook answers
 * 503 and D1 retries; the workflows' deduplication makes the retry harmless.
 *
 * @module
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Operation } from '../d1/schemas.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import { d1NotificationSignal, type UnmatchedNotificationsInput } from '../workflows/definitions.js';

export type Delivery = 'order' | 'order-by-card' | 'unmatched';

/** The workflow id that keeps unmatched notifications for one card. */
export function unmatchedWorkflowId(issuerId: string, cardId: string): string {
  return `card-notifications:${issuerId}:${cardId}`;
}

export class NotificationRouter {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly unmatchedRetentionMs: number,
  ) {}

  /** Signals `operation` to its workflow; resolves with where it went. */
  async deliver(issuerId: string, operation: Operation): Promise<Delivery> {
    const payload = { operations: [operation] };
    if (
      operation.issuerRequestId &&
      (await this.signal(cardOrderWorkflowId(issuerId, operation.issuerRequestId), payload))
    ) {
      return 'order';
    }
    const running = await this.runningOrderOf(issuerId, operation.cardId);
    if (running && (await this.signal(running, payload))) return 'order-by-card';
    const input: UnmatchedNotificationsInput = {
      issuerId,
      cardId: operation.cardId,
      retentionMs: this.unmatchedRetentionMs,
    };
    await this.client.workflow.signalWithStart('unmatchedNotifications', {
      workflowId: unmatchedWorkflowId(issuerId, operation.cardId),
      taskQueue: this.taskQueue,
      args: [input],
      signal: d1NotificationSignal,
      signalArgs: [payload],
    });
    return 'unmatched';
  }

  /** False when no running workflow has this id. */
  private async signal(workflowId: string, payload: { operations: Operation[] }): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(workflowId).signal(d1NotificationSignal, payload);
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** The running order of a card (a re-order, or a notification without issuerRequestId). */
  private async runningOrderOf(issuerId: string, cardId: string): Promise<string | undefined> {
    const query = `WorkflowType = 'cardOrder' AND ExecutionStatus = 'Running' AND IssuerId = '${issuerId}' AND CardId = '${cardId}'`;
    for await (const execution of this.client.workflow.list({ query, pageSize: 1 })) return execution.workflowId;
    return undefined;
  }
}
