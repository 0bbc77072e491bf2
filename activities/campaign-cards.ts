import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError, WorkflowUpdateStage, WorkflowNotFoundError } from '@temporalio/client';
import { forEachBounded } from '../common/bounded-concurrency.js';
import { campaignCardsQuery, openCampaignCardsQuery } from '../temporal/campaign-query.js';
import { allOf, fieldIn, fieldNotIn } from '../temporal/visibility-query.js';
import { cancelOrderUpdate } from '../rules/contracts/card-order.js';
import { cardOrderStatusKey } from '../rules/contracts/search-attributes.js';
import { cardOrderWorkflowId } from '../orders/workflow-id.js';
import { CAMPAIGN_UNAVAILABLE, notStartedCodes, type CampaignTargets } from './submit-campaign-page.js';
import { withTypedFailures } from './failures.js';

/** Card-order statuses after which a card is no longer in flight: it shipped, came back, or ended. */
const notInFlight = ['SHIPPED', 'RETURNED'];
/** Cancel updates sent at once while a campaign is pulled. */
const PULLS_AT_ONCE = 16;
/** Statuses of cards D1 may still cancel. */
const cancellable = ['SUBMITTING', 'SUBMITTED', 'IN_PRODUCTION', 'AWAITING_STOCK'];

function required(targets: CampaignTargets | undefined): CampaignTargets {
  if (!targets) throw ApplicationFailure.nonRetryable('This worker has no campaign store', CAMPAIGN_UNAVAILABLE);
  return targets;
}

/**
 * How many of the campaign's card orders are open, and how many of those are still in flight (not yet shipped):
 * two visibility counts, eventually consistent, which is all the campaign needs to pace itself and to end.
 */
export function createCountCampaignCards(targets: CampaignTargets | undefined) {
  return function countCampaignCards(input: { issuerId: string; campaignId: string }) {
    return withTypedFailures(async () => {
      const t = required(targets);
      const open = openCampaignCardsQuery(t.taskQueue, input.issuerId, input.campaignId);
      const [total, running, inFlight] = await Promise.all([
        t.temporal.workflow.count(campaignCardsQuery(t.taskQueue, input.issuerId, input.campaignId)),
        t.temporal.workflow.count(open),
        t.temporal.workflow.count(allOf(open, fieldNotIn(cardOrderStatusKey, notInFlight))),
      ]);
      return { total: total.count, open: running.count, inFlight: inFlight.count };
    });
  };
}

/**
 * Asks each of the campaign's cards that D1 may still cancel to cancel (their `cancelOrder` update, accepted, not
 * awaited: each order then waits for D1's verdict on its own). Cards that shipped meanwhile refuse, which is fine.
 * Repeated, the update id makes it the same request. With `pages`, the cards are those of the stored pages
 * `[0, pages)`, less those the pages did not start (another order has them): visibility may not list the newest cards
 * yet. Without (campaigns from before), the campaign's open cards as visibility lists them.
 */
export function createPullCampaignCards(targets: CampaignTargets | undefined) {
  return function pullCampaignCards(input: { issuerId: string; campaignId: string; pages?: number }) {
    return withTypedFailures(async () => {
      const t = required(targets);
      const context = Context.current();
      let sent = 0;
      const ask = async (workflowId: string) => {
        try {
          // Accepted, not awaited: each order then waits for D1's verdict on its own.
          await t.temporal.workflow.getHandle(workflowId).startUpdate(cancelOrderUpdate, {
            waitForStage: WorkflowUpdateStage.ACCEPTED,
            updateId: `campaign-pull:${input.campaignId}`,
          });
        } catch (err) {
          // Refused by its validator (it shipped meanwhile, or is past cancelling), or not there: nothing to cancel.
          if (!(err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError)) throw err;
        }
        sent += 1;
        context.heartbeat(sent);
      };
      const ids =
        input.pages === undefined ? openCardIds(t, input) : storedCardIds(t, { ...input, pages: input.pages });
      await forEachBounded(ids, PULLS_AT_ONCE, ask);
      return { sent };
    });
  };
}

async function* openCardIds(t: CampaignTargets, input: { issuerId: string; campaignId: string }) {
  const query = allOf(
    openCampaignCardsQuery(t.taskQueue, input.issuerId, input.campaignId),
    fieldIn(cardOrderStatusKey, cancellable),
  );
  for await (const order of t.temporal.workflow.list({ query })) yield order.workflowId;
}

async function* storedCardIds(t: CampaignTargets, input: { issuerId: string; campaignId: string; pages: number }) {
  const { issuerId, campaignId } = input;
  for (let page = 0; page < input.pages; page += 1) {
    const [cards, failures] = await Promise.all([
      t.store.readPage(issuerId, campaignId, page),
      t.store.readPageFailures(issuerId, campaignId, page),
    ]);
    const others = new Set(failures.filter((f) => notStartedCodes.includes(f.errorCode)).map((f) => f.issuerRequestId));
    for (const { order } of cards) {
      if (!others.has(order.issuerRequestId)) yield cardOrderWorkflowId(issuerId, order.issuerRequestId);
    }
  }
}
