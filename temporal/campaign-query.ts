/**
 * The visibility queries of a campaign's card orders, shared by the campaign's own counts and the client's.
 *
 * @module
 */
import { CARD_ORDER_WORKFLOW, CARD_ORDER_WORKFLOW_TYPES } from '../rules/contracts/card-order.js';
import { campaignIdKey, cardIdKey, issuerIdKey } from '../rules/contracts/search-attributes.js';
import { allOf, fieldEquals, fieldIn, fieldIsNull, type VisibilityClause } from './visibility-query.js';

/** The campaign's card orders on this task queue (a campaign id is the issuer's own: another may use the same). */
export function campaignCardsQuery(taskQueue: string, issuerId: string, campaignId: string): VisibilityClause {
  return allOf(
    fieldEquals('WorkflowType', CARD_ORDER_WORKFLOW),
    fieldEquals('TaskQueue', taskQueue),
    fieldEquals(issuerIdKey, issuerId),
    fieldEquals(campaignIdKey, campaignId),
  );
}

/**
 * Those still open. `CloseTime IS NULL` means the same as `ExecutionStatus = 'Running'`, but SQL visibility then
 * keeps to the campaign's index: on the dev server's SQLite, with 11,500 orders of which 1,500 in the campaign, the
 * count costs the server 5 ms of CPU instead of 30 ms, and a campaign counts every few seconds while cards move.
 */
export function openCampaignCardsQuery(taskQueue: string, issuerId: string, campaignId: string): VisibilityClause {
  return allOf(campaignCardsQuery(taskQueue, issuerId, campaignId), fieldIsNull('CloseTime'));
}

/**
 * The issuer's open card orders (of any campaign, or single orders, under either card-order workflow type) on this
 * task queue whose card is one of `cardIds`: one query for a whole batch of a campaign file's lines.
 */
export function openCardOrdersQuery(taskQueue: string, issuerId: string, cardIds: readonly string[]): VisibilityClause {
  return allOf(
    fieldIn('WorkflowType', CARD_ORDER_WORKFLOW_TYPES),
    fieldEquals('TaskQueue', taskQueue),
    fieldEquals(issuerIdKey, issuerId),
    fieldIn(cardIdKey, cardIds),
    fieldIsNull('CloseTime'),
  );
}
