/**
 * How every card order starts, whoever places it (the client library for a single order, a campaign's page for its
 * cards): its workflow id, the search attributes operators filter by, and the policies that make a second start of
 * the same id fail rather than order a second card.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import { cardOrderWorkflowId } from '../orders/schema.js';
import { CARD_ORDER_WORKFLOW, type CardOrderInput } from '../rules/contracts/card-order.js';
import {
  campaignIdKey,
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  replacesCardIdKey,
} from '../rules/contracts/search-attributes.js';

/**
 * Starts the order's workflow. @throws {WorkflowExecutionAlreadyStartedError} when any execution of its id exists,
 * running or closed: that is this order already (or a different one under the same issuerRequestId).
 */
export async function startCardOrder(
  temporal: Client,
  taskQueue: string,
  input: CardOrderInput,
  staticSummary: string,
): Promise<string> {
  const { order } = input;
  const workflowId = cardOrderWorkflowId(order.issuerId, order.issuerRequestId);
  await temporal.workflow.start(CARD_ORDER_WORKFLOW, {
    taskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: issuerIdKey, value: order.issuerId },
      { key: cardIdKey, value: order.cardId },
      { key: issuerRequestIdKey, value: order.issuerRequestId },
      { key: cardOrderStatusKey, value: 'SUBMITTING' },
      ...(order.replacesCardId === undefined ? [] : [{ key: replacesCardIdKey, value: order.replacesCardId }]),
      ...(input.campaign === undefined ? [] : [{ key: campaignIdKey, value: input.campaign.campaignId }]),
    ],
    staticSummary,
  });
  return workflowId;
}
