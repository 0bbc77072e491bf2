import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { batchPaymentApplication, goesInBatch, missingPaymentApplicationReason } from '../campaigns/batch-rules.js';
import type { CampaignCard, CampaignCardFailure, CampaignPageStore } from '../campaigns/page-store.js';
import { placedFingerprint } from '../common/placed-fingerprint.js';
import type { D1Client } from '../d1/client.js';
import type { BatchCardItem } from '../d1/schemas.js';
import { differingFields } from '../orders/fingerprint.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import {
  campaignSubmissionSignal,
  type CampaignInput,
  type CampaignSubmission,
  type CardOrderInput,
} from '../workflows/definitions.js';
import { startCardOrder } from '../common/card-order-start.js';
import { cardOrderStatusKey } from '../workflows/search-attributes.js';
import { withHeartbeat } from './heartbeat.js';
import { toD1OrderRequest } from './submit-order.js';
import { withTypedFailures } from './failures.js';

/** What campaign activities reach: the worker's Temporal client (with its codecs), task queue and page store. */
export interface CampaignTargets {
  temporal: Client;
  namespace: string;
  taskQueue: string;
  codecs: readonly PayloadCodec[];
  store: CampaignPageStore;
  /** Timeout of one D1 batch call. */
  batchRequestTimeoutMs: number;
  /** D1_REPLACES_CARD_ID_FIELD: a card naming the card it replaces then orders itself (the batch item is strict). */
  replacesCardIdField?: string | undefined;
}

/** The failure type of a campaign activity on a worker built without what campaigns need. */
export const CAMPAIGN_UNAVAILABLE = 'ERR_CAMPAIGN_UNAVAILABLE';

export interface CampaignPageInput {
  issuerId: string;
  campaignId: string;
  page: number;
  submission: CampaignInput['submission'];
  cardDefaults: CampaignInput['cardDefaults'];
  cardSubmitTimeoutMs: number;
}

export interface CampaignPageResult {
  /** Card orders of the campaign this page has (started now or before): what visibility must count once it caught up. */
  started: number;
  accepted: number;
  refused: number;
  conflicts: number;
}

/** Card orders started (or signalled) at once while a page is handled. */
const CARDS_AT_ONCE = 16;

async function eachCard<T>(items: readonly T[], body: (item: T) => Promise<void>): Promise<void> {
  const context = Context.current();
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await body(item);
      context.heartbeat(next);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CARDS_AT_ONCE, items.length) }, lane));
}

/** How a card's order stands once this page tried to start it. */
type CardStart =
  | { kind: 'started' }
  /** Its order exists and still waits to be submitted: started by an earlier attempt at this page. */
  | { kind: 'waiting' }
  /** Its order exists and is past submission, or closed: nothing more to do for it here. */
  | { kind: 'done' }
  | { kind: 'conflict'; failure: CampaignCardFailure };

/**
 * Submits one stored page of a campaign. Each card becomes its own card-order workflow (started here, with the
 * campaign's id as a search attribute); with D1's batch API the page's new cards then go to D1 in one call and each
 * is told how D1 took it; in single-order mode each card submits itself. A card whose issuerRequestId already has a
 * different order is not ordered (ORDER_CONFLICT). Idempotent: done again (a retry after a lost worker) it starts
 * nothing twice, sends D1 only the cards still waiting (D1 returns the same operations for the same
 * issuerRequestIds), and leaves cards that already moved on alone.
 */
export function createSubmitCampaignPage(d1: D1Client, catalog: ProgramCatalog, targets: CampaignTargets | undefined) {
  return function submitCampaignPage(input: CampaignPageInput): Promise<CampaignPageResult> {
    return withTypedFailures(async () => {
      if (!targets) throw ApplicationFailure.nonRetryable('This worker has no campaign store', CAMPAIGN_UNAVAILABLE);
      const { issuerId, campaignId, page } = input;
      const cards = await targets.store.readPage(issuerId, campaignId, page);
      const failures: CampaignCardFailure[] = [];
      const toBatch: CampaignCard[] = [];
      let moved = 0;

      await eachCard(cards, async (card) => {
        const start = await startCampaignCard(targets, catalog, input, card);
        if (start.kind === 'conflict') failures.push(start.failure);
        else if (start.kind === 'done' || !batched(input, targets, card)) moved += 1;
        else toBatch.push(card);
      });
      const told: { card: CampaignCard; submission: CampaignSubmission }[] = [];
      const batch: { card: CampaignCard; item: BatchCardItem }[] = [];
      for (const card of toBatch) {
        const item = batchItem(card, catalog);
        if (item) {
          batch.push({ card, item });
          continue;
        }
        const reason = missingPaymentApplicationReason;
        failures.push(
          failureOf(card, 'INVALID_FIELD', 'paymentApplication is missing', [{ field: 'paymentApplication', reason }]),
        );
        told.push({ card, submission: refusal(card, 'INVALID_FIELD', reason) });
      }
      let accepted = moved;
      if (batch.length > 0) {
        const results = await withHeartbeat((signal) =>
          d1.orderCards(
            issuerId,
            batch.map((b) => b.item),
            { signal, timeoutMs: targets.batchRequestTimeoutMs },
          ),
        );
        results.forEach((result, i) => {
          const { card } = batch[i] as { card: CampaignCard };
          if (result.status === 'ACCEPTED') {
            accepted += 1;
            const { issuerRequestId } = card.order;
            told.push({ card, submission: { issuerRequestId, outcome: 'ACCEPTED', operationId: result.operationId } });
            return;
          }
          failures.push(failureOf(card, result.errorCode, result.error, result.fields));
          told.push({ card, submission: refusal(card, result.errorCode, result.error) });
        });
      }
      await eachCard(told, async ({ card, submission }) => {
        const handle = targets.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, card.order.issuerRequestId));
        // A card that closed meanwhile (cancelled, terminated) has nothing left to hear.
        await handle.signal(campaignSubmissionSignal, submission).catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
      });
      failures.sort((a, b) => a.line - b.line);
      await targets.store.writeFailures(issuerId, campaignId, page, failures);
      const conflicts = failures.filter((f) => f.errorCode === 'ORDER_CONFLICT').length;
      return { started: cards.length - conflicts, accepted, refused: failures.length - conflicts, conflicts };
    });
  };
}

/** Whether the card goes to D1 in the page's batch; else it submits itself (single-order issuers, see below). */
function batched(input: CampaignPageInput, targets: CampaignTargets, card: CampaignCard): boolean {
  return goesInBatch(input.submission, targets.replacesCardIdField, card.order);
}

function failureOf(
  { line, order }: CampaignCard,
  errorCode: string,
  reason: string,
  fields?: { field: string; reason: string }[],
): CampaignCardFailure {
  return {
    line,
    cardId: order.cardId,
    issuerRequestId: order.issuerRequestId,
    errorCode,
    reason,
    ...(fields && { fields }),
  };
}

function refusal({ order }: CampaignCard, errorCode: string, reason: string): CampaignSubmission {
  return { issuerRequestId: order.issuerRequestId, outcome: 'REFUSED', errorCode, reason };
}

/** Starts the card's order, or says how the order an earlier attempt (or someone else) started stands. */
async function startCampaignCard(
  targets: CampaignTargets,
  catalog: ProgramCatalog,
  input: CampaignPageInput,
  card: CampaignCard,
): Promise<CardStart> {
  const { order, fingerprint } = card;
  const workflowId = cardOrderWorkflowId(order.issuerId, order.issuerRequestId);
  const cardInput: CardOrderInput = {
    order,
    timings: input.cardDefaults.timings,
    publishEvents: input.cardDefaults.publishEvents,
    fingerprint,
    returnPolicy: catalog.programs[order.cardProductId]?.returns,
    // A card that is not in the batch (single-order issuers, a replaced card's field) submits itself at once.
    campaign: {
      campaignId: input.campaignId,
      submitTimeoutMs: batched(input, targets, card) ? input.cardSubmitTimeoutMs : 0,
    },
  };
  try {
    const summary = `Card order ${order.issuerRequestId} (card ${order.cardId}) of campaign ${input.campaignId}`;
    await startCardOrder(targets.temporal, targets.taskQueue, cardInput, summary);
    return { kind: 'started' };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const placed = await placedFingerprint(targets.temporal, targets.namespace, targets.codecs, workflowId);
  const differing = differingFields(placed, fingerprint);
  if (differing && differing.length > 0) {
    const reason = `the issuerRequestId is already used by a different order (differing: ${differing.join(', ')})`;
    return { kind: 'conflict', failure: failureOf(card, 'ORDER_CONFLICT', reason) };
  }
  // The same card, started before: only an order still waiting for its submission goes in the batch again.
  const { status, typedSearchAttributes } = await targets.temporal.workflow.getHandle(workflowId).describe();
  const waiting = status.name === 'RUNNING' && typedSearchAttributes.get(cardOrderStatusKey) === 'SUBMITTING';
  return waiting ? { kind: 'waiting' } : { kind: 'done' };
}

/**
 * The card as an item of D1's batch: the single order's body, its cardId, and its payment data (its own, else its
 * program's); undefined without payment data, which D1's batch requires.
 */
function batchItem({ order }: CampaignCard, catalog: ProgramCatalog): BatchCardItem | undefined {
  const paymentApplication = batchPaymentApplication(order, catalog);
  if (!paymentApplication) return undefined;
  const { distributionChannel: _channel, ...body } = toD1OrderRequest(order, order.issuerRequestId);
  return { ...body, distributionChannel: 'THALES', shipment: order.shipment, cardId: order.cardId, paymentApplication };
}
