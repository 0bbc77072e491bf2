import { ApplicationFailure, log } from '@temporalio/activity';
import { workflowTaskBacklog } from '../temporal/connection.js';
import { CAMPAIGN_UNAVAILABLE, type CampaignTargets } from './submit-campaign-page.js';
import { withTypedFailures } from './failures.js';

/**
 * Workflow tasks of card orders waiting for a worker on the cards' task queue, as the server counts them (its
 * approximate backlog; sticky tasks, a few seconds old at most, are not in it). A campaign sends its next page only
 * while this is low, so a page never starts cards faster than the workers take them: the backlog stays bounded, and a
 * single order started meanwhile is not stuck behind thousands of campaign cards. Undefined when the server reports
 * no statistics (older than 1.27): the campaign then goes on unpaced.
 */
export function createReadCardBacklog(targets: CampaignTargets | undefined) {
  let unreported = false;
  return function readCardBacklog(): Promise<{ backlog: number | undefined }> {
    return withTypedFailures(async () => {
      if (!targets) throw ApplicationFailure.nonRetryable('This worker has no campaign store', CAMPAIGN_UNAVAILABLE);
      const backlog = await workflowTaskBacklog(targets.temporal, targets.namespace, targets.taskQueue);
      if (backlog === undefined && !unreported) {
        log.warn('The Temporal server reports no task queue statistics: campaign pages go unpaced');
      }
      unreported ||= backlog === undefined;
      return { backlog };
    });
  };
}
