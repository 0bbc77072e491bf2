import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { CampaignCard, CampaignCardFailure, CampaignPageStore } from '../campaigns/page-store.js';
import { placedFingerprint } from '../common/placed-fingerprint.js';
import type { D1Client } from '../d1/client.js';
import type { BatchCardItem } from '../d1/schemas.js';
import { differingFields } from '../orders/fingerprint.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import {
  CARD_ORDER_WORKFLOW,
  campaignSubmissionSignal,
  type CampaignInput,
  type CampaignSubmission,
  type CardOrderInput,
} from '../workflows/definitions.js';
import {
  campaignIdKey,
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  replacesCardIdKey,
} from '../workflows/search-attributes.js';
import { toD1OrderRequest } from './submit-order.js';
import { withTypedFailures } from './failures.js';

/** What campaign activities reach: the worker's Temporal client (with its codecs), task queue and page store. */
export interface CampaignTargets {
  temporal: Client;
  namespace: string;
  taskQueue: string;
  codecs: readonly PayloadCodec[];
  store: CampaignPageStore;
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

/** Card orders started (or signalled) at once while a page is handled. */
const CARDS_AT_ONCE = 16;

async function eachCard<T>(items: readonly T[], body: (item: T) => Promise<void>): Promise<void> {
  const context = Context.current();
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      // A pause or cancel of the campaign cancels the page: stop between cards, the retry starts over.
      if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
      await body(item);
      context.heartbeat(next);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CARDS_AT_ONCE, items.length) }, lane));
}

/**
 * Submits one stored page of a campaign. Each card becomes its own card-order workflow (started here, with the
 * campaign's id as a search attribute); with D1's batch API the page then goes to D1 in one call and each card is
 * told how D1 took it; in single-order mode each card submits itself. A card whose issuerRequestId already has a
 * different order is not ordered (ORDER_CONFLICT). Idempotent: done again (a retry, a resume) it starts nothing
 * twice, and D1 returns the same operations for the same issuerRequestIds.
 */
export function createSubmitCampaignPage(d1: D1Client, catalog: ProgramCatalog, targets: CampaignTargets | undefined) {
  return function submitCampaignPage(
    input: CampaignPageInput,
  ): Promise<{ accepted: number; refused: number; conflicts: number }> {
    return withTypedFailures(async () => {
      if (!targets) throw ApplicationFailure.nonRetryable('This worker has no campaign store', CAMPAIGN_UNAVAILABLE);
      const { issuerId, campaignId, page } = input;
      const cards = await targets.store.readPage(issuerId, campaignId, page);
      const failures: CampaignCardFailure[] = [];
      const toOrder: CampaignCard[] = [];

      await eachCard(cards, async (card) => {
        const conflict = await startCardOrder(targets, catalog, input, card);
        if (conflict) failures.push(conflict);
        else toOrder.push(card);
      });
      let accepted = toOrder.length;
      if (input.submission === 'BATCH' && toOrder.length > 0) {
        accepted = 0;
        const told: { card: CampaignCard; submission: CampaignSubmission }[] = [];
        const batch: { card: CampaignCard; item: BatchCardItem }[] = [];
        for (const card of toOrder) {
          const item = batchItem(card, catalog);
          if (item) {
            batch.push({ card, item });
            continue;
          }
          const reason = "D1's batch API needs it: give it per card or in the card's program (catalog)";
          failures.push({
            line: card.line,
            cardId: card.order.cardId,
            issuerRequestId: card.order.issuerRequestId,
            errorCode: 'INVALID_FIELD',
            reason: 'paymentApplication is missing',
            fields: [{ field: 'paymentApplication', reason }],
          });
          const { issuerRequestId } = card.order;
          told.push({ card, submission: { issuerRequestId, outcome: 'REFUSED', errorCode: 'INVALID_FIELD', reason } });
        }
        const results =
          batch.length === 0
            ? []
            : await d1.orderCards(
                issuerId,
                batch.map((b) => b.item),
                { signal: Context.current().cancellationSignal },
              );
        results.forEach((result, i) => {
          const card = (batch[i] as { card: CampaignCard }).card;
          const issuerRequestId = card.order.issuerRequestId;
          if (result.status === 'ACCEPTED') {
            accepted += 1;
            told.push({ card, submission: { issuerRequestId, outcome: 'ACCEPTED', operationId: result.operationId } });
            return;
          }
          failures.push({
            line: card.line,
            cardId: card.order.cardId,
            issuerRequestId,
            errorCode: result.errorCode,
            reason: result.error,
            ...(result.fields && { fields: result.fields }),
          });
          const submission: CampaignSubmission = {
            issuerRequestId,
            outcome: 'REFUSED',
            errorCode: result.errorCode,
            reason: result.error,
          };
          told.push({ card, submission });
        });
        await eachCard(told, ({ card, submission }) =>
          targets.temporal.workflow
            .getHandle(cardOrderWorkflowId(issuerId, card.order.issuerRequestId))
            .signal(campaignSubmissionSignal, submission),
        );
      }
      failures.sort((a, b) => a.line - b.line);
      await targets.store.writeFailures(issuerId, campaignId, page, failures);
      const conflicts = failures.filter((f) => f.errorCode === 'ORDER_CONFLICT').length;
      return { accepted, refused: failures.length - conflicts, conflicts };
    });
  };
}

/** Starts the card's order; its failure record when the issuerRequestId already has a different order. */
async function startCardOrder(
  targets: CampaignTargets,
  catalog: ProgramCatalog,
  input: CampaignPageInput,
  { line, order, fingerprint }: CampaignCard,
): Promise<CampaignCardFailure | undefined> {
  const workflowId = cardOrderWorkflowId(order.issuerId, order.issuerRequestId);
  const cardInput: CardOrderInput = {
    order,
    timings: input.cardDefaults.timings,
    publishEvents: input.cardDefaults.publishEvents,
    fingerprint,
    returnPolicy: catalog.programs[order.cardProductId]?.returns,
    ...(input.submission === 'BATCH' && {
      campaign: { campaignId: input.campaignId, submitTimeoutMs: input.cardSubmitTimeoutMs },
    }),
  };
  try {
    await targets.temporal.workflow.start(CARD_ORDER_WORKFLOW, {
      taskQueue: targets.taskQueue,
      workflowId,
      args: [cardInput],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: issuerIdKey, value: order.issuerId },
        { key: cardIdKey, value: order.cardId },
        { key: issuerRequestIdKey, value: order.issuerRequestId },
        { key: cardOrderStatusKey, value: 'SUBMITTING' },
        { key: campaignIdKey, value: input.campaignId },
        ...(order.replacesCardId === undefined ? [] : [{ key: replacesCardIdKey, value: order.replacesCardId }]),
      ],
      staticSummary: `Card order ${order.issuerRequestId} (card ${order.cardId}) of campaign ${input.campaignId}`,
    });
    return undefined;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  // Started by an earlier attempt at this page (the same fingerprint), or an order of its own: compare.
  const placed = await placedFingerprint(targets.temporal, targets.namespace, targets.codecs, workflowId);
  const differing = differingFields(placed, fingerprint);
  if (!differing || differing.length === 0) return undefined;
  return {
    line,
    cardId: order.cardId,
    issuerRequestId: order.issuerRequestId,
    errorCode: 'ORDER_CONFLICT',
    reason: `the issuerRequestId is already used by a different order (differing: ${differing.join(', ')})`,
  };
}

/**
 * The card as an item of D1's batch: the single order's body, its cardId, and its payment data (its own, else its
 * program's); undefined without payment data, which D1's batch requires. The batch item is strict, so a replaced
 * card's field (D1_REPLACES_CARD_ID_FIELD) goes with single orders only.
 */
function batchItem({ order }: CampaignCard, catalog: ProgramCatalog): BatchCardItem | undefined {
  const paymentApplication = order.paymentApplication ?? catalog.programs[order.cardProductId]?.paymentApplication;
  if (!paymentApplication) return undefined;
  const { distributionChannel: _channel, ...body } = toD1OrderRequest(order, order.issuerRequestId);
  return { ...body, distributionChannel: 'THALES', shipment: order.shipment, cardId: order.cardId, paymentApplication };
}
