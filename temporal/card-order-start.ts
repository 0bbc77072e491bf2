/**
 * How every card order starts, whoever places it (the client library for a single order, a campaign's page for its
 * cards): its workflow id, the search attributes operators filter by, the policies that make a second start of the
 * same id fail rather than order a second card, and how a second start tells the same order from a different one.
 *
 * @module
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { differingFields } from '../orders/fingerprint.js';
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
import { placedFingerprint } from './placed-fingerprint.js';

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

/** Where the order's workflow runs, and the codecs its first event was written through. */
export interface CardOrderTarget {
  temporal: Client;
  namespace: string;
  taskQueue: string;
  codecs: readonly PayloadCodec[];
}

/**
 * How a placement went: STARTED (this call started the order), EXISTING (an execution of its id was there already,
 * the same order by its fingerprint, or one placed before fingerprints), or CONFLICT (a different order holds the
 * issuerRequestId: the fields that differ, by name only).
 */
export type CardOrderPlacement =
  | { workflowId: string; placement: 'STARTED' | 'EXISTING' }
  | { workflowId: string; placement: 'CONFLICT'; differing: string[] };

/** Starts the order, or, when its id is taken, compares the order placed there with this one by fingerprint. */
export async function placeCardOrder(
  target: CardOrderTarget,
  input: CardOrderInput,
  staticSummary: string,
): Promise<CardOrderPlacement> {
  try {
    return {
      workflowId: await startCardOrder(target.temporal, target.taskQueue, input, staticSummary),
      placement: 'STARTED',
    };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const workflowId = cardOrderWorkflowId(input.order.issuerId, input.order.issuerRequestId);
  const placed = await placedFingerprint(target.temporal, target.namespace, target.codecs, workflowId);
  const differing = input.fingerprint && differingFields(placed, input.fingerprint);
  return differing && differing.length > 0
    ? { workflowId, placement: 'CONFLICT', differing }
    : { workflowId, placement: 'EXISTING' };
}
