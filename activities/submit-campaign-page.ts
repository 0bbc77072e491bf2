import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { batchPaymentApplication, goesInBatch, missingPaymentApplicationReason } from '../campaigns/batch-rules.js';
import type { CampaignCard, CampaignCardFailure, CampaignPageStore } from '../campaigns/page-store.js';
import { forEachBounded } from '../common/bounded-concurrency.js';
import type { D1Client } from '../d1/client.js';
import type { BatchCardItem } from '../d1/schemas.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import {
  campaignSubmissionSignal,
  type CampaignSubmission,
  type CardOrderInput,
} from '../rules/contracts/card-order.js';
import type { CampaignInput } from '../rules/contracts/campaign.js';
import { placeCardOrder } from '../temporal/card-order-start.js';
import { campaignIdKey, cardOrderStatusKey } from '../rules/contracts/search-attributes.js';
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
  /**
   * Each card gets its place (page and slot) and reports to the campaign when it settles: campaigns that keep their
   * own records. Absent for campaigns from before them.
   */
  cardsReport?: boolean | undefined;
}

export interface CampaignPageResult {
  /** Card orders of this campaign the page has (started now or by an earlier attempt): each reports once settled. */
  started: number;
  accepted: number;
  refused: number;
  conflicts: number;
  /** Cards whose order was already placed by a single order or another campaign: done, not ordered again. */
  alreadyOrdered: number;
}

/** Failure codes of cards a page did not start: other orders have them, and nothing of the campaign touches them. */
export const notStartedCodes: readonly string[] = ['ORDER_CONFLICT', 'ALREADY_ORDERED'];

/** Card orders started (or signalled) at once while a page is handled. */
const CARDS_AT_ONCE = 16;

/** Runs `body` for each card, CARDS_AT_ONCE at a time, heartbeating the count of cards started after each one. */
async function eachCard<T>(items: readonly T[], body: (item: T, index: number) => Promise<void>): Promise<void> {
  const context = Context.current();
  let started = 0;
  await forEachBounded(items, CARDS_AT_ONCE, async (item, index) => {
    started += 1;
    await body(item, index);
    context.heartbeat(started);
  });
}

/** How a card's order stands once this page tried to start it. */
type CardStart =
  | { kind: 'started' }
  /** Its order exists and still waits to be submitted: started by an earlier attempt at this page. */
  | { kind: 'waiting' }
  /** Its order exists and is past submission, or closed: nothing more to do for it here. */
  | { kind: 'done' }
  /** Not ordered: a different order has its issuerRequestId (ORDER_CONFLICT), or the same order is another's. */
  | { kind: 'notStarted'; failure: CampaignCardFailure };

/**
 * Submits one stored page of a campaign. Each card becomes its own card-order workflow (started here, with the
 * campaign's id as a search attribute); with D1's batch API the page's new cards then go to D1 in one call and each
 * is told how D1 took it; in single-order mode each card submits itself. A card whose issuerRequestId already has a
 * different order is not ordered (ORDER_CONFLICT), nor one whose same order a single order or another campaign placed
 * (ALREADY_ORDERED, naming that order). Idempotent: done again (a retry after a lost worker) it starts
 * nothing twice, sends D1 only the cards still waiting (D1 returns the same operations for the same
 * issuerRequestIds), and leaves cards that already moved on alone.
 */
export function createSubmitCampaignPage(d1: D1Client, catalog: ProgramCatalog, targets: CampaignTargets | undefined) {
  return function submitCampaignPage(input: CampaignPageInput): Promise<CampaignPageResult> {
    return withTypedFailures(async () => {
      if (!targets) throw ApplicationFailure.nonRetryable('This worker has no campaign store', CAMPAIGN_UNAVAILABLE);
      const { issuerId, campaignId, page } = input;
      const [cards, earlier] = await Promise.all([
        targets.store.readPage(issuerId, campaignId, page),
        targets.store.readPageFailures(issuerId, campaignId, page),
      ]);
      // What an earlier attempt at this page learned stays: a card it saw refused is closed now, not "done".
      const failures = new Map(earlier.map((f) => [f.issuerRequestId, f]));
      const toBatch: CampaignCard[] = [];

      await eachCard(cards, async (card, slot) => {
        const start = await startCampaignCard(targets, catalog, input, card, slot);
        if (start.kind === 'notStarted') failures.set(card.order.issuerRequestId, start.failure);
        else if (start.kind !== 'done' && batched(input, targets, card)) toBatch.push(card);
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
        const failure = failureOf(card, 'INVALID_FIELD', 'paymentApplication is missing', [
          { field: 'paymentApplication', reason },
        ]);
        failures.set(card.order.issuerRequestId, failure);
        told.push({ card, submission: refusal(card, 'INVALID_FIELD', reason) });
      }
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
            const { issuerRequestId } = card.order;
            failures.delete(issuerRequestId);
            told.push({ card, submission: { issuerRequestId, outcome: 'ACCEPTED', operationId: result.operationId } });
            return;
          }
          failures.set(card.order.issuerRequestId, failureOf(card, result.errorCode, result.error, result.fields));
          told.push({ card, submission: refusal(card, result.errorCode, result.error) });
        });
      }
      // Recorded before any card is told: a worker lost in between leaves the record, and the retry keeps it.
      const recorded = [...failures.values()].sort((a, b) => a.line - b.line);
      await targets.store.writeFailures(issuerId, campaignId, page, recorded);
      await eachCard(told, async ({ card, submission }) => {
        const handle = targets.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, card.order.issuerRequestId));
        // A card that closed meanwhile (cancelled, terminated) has nothing left to hear.
        await handle.signal(campaignSubmissionSignal, submission).catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
      });
      // Counted from the record, card by card: a card is refused, not started, or accepted, once.
      const count = (code: (typeof notStartedCodes)[number]) => recorded.filter((f) => f.errorCode === code).length;
      const conflicts = count('ORDER_CONFLICT');
      const alreadyOrdered = count('ALREADY_ORDERED');
      const refused = recorded.length - conflicts - alreadyOrdered;
      return {
        started: cards.length - conflicts - alreadyOrdered,
        accepted: cards.length - recorded.length,
        refused,
        conflicts,
        alreadyOrdered,
      };
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
  slot: number,
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
      ...(input.cardsReport && { page: input.page, slot }),
    },
  };
  const summary = `Card order ${order.issuerRequestId} (card ${order.cardId}) of campaign ${input.campaignId}`;
  const placed = await placeCardOrder(targets, cardInput, summary);
  if (placed.placement === 'STARTED') return { kind: 'started' };
  if (placed.placement === 'CONFLICT') {
    const reason = `the issuerRequestId is already used by a different order (differing: ${placed.differing.join(', ')})`;
    return { kind: 'notStarted', failure: failureOf(card, 'ORDER_CONFLICT', reason) };
  }
  const { status, typedSearchAttributes } = await targets.temporal.workflow.getHandle(workflowId).describe();
  if (input.cardsReport && typedSearchAttributes.get(campaignIdKey) !== input.campaignId) {
    // Placed by a single order or another campaign: that order has the card, and this campaign leaves it alone.
    const reason = `already ordered by ${workflowId}`;
    return { kind: 'notStarted', failure: failureOf(card, 'ALREADY_ORDERED', reason) };
  }
  // The same card, started before: only an order still waiting for its submission goes in the batch again.
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
