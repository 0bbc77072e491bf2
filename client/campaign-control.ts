/**
 * Pausing, resuming and cancelling a running campaign, as updates to its workflow: the campaign's verdict, or why it
 * refused.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { CampaignNotFoundError } from '../campaigns/errors.js';
import { campaignWorkflowId } from '../orders/workflow-id.js';
import {
  cancelCampaignUpdate,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
  type CampaignView,
} from '../rules/contracts/campaign.js';
import { campaignView, checkIds, type CampaignContext, type CampaignControlResult } from './campaigns.js';

/** Tries of a pause, resume or cancel the server refused because the campaign's task failed just then. */
const CONTROL_ATTEMPTS = 3;
const CONTROL_RETRY_MS = 1_000;

/**
 * The server refused the update because the campaign's workflow task failed as it arrived (its worker had just gone,
 * say): nothing was applied, and a new try reaches the worker that took over.
 */
function taskFailedUnderUpdate(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : undefined;
  const { code, message } = (cause ?? {}) as { code?: unknown; message?: unknown };
  return code === GRPC_FAILED_PRECONDITION && typeof message === 'string' && /workflow task failure/.test(message);
}
const GRPC_FAILED_PRECONDITION = 9;

/** Pauses, resumes or cancels the campaign (`pull`: and asks D1 to cancel its cards not yet shipped). */
export async function controlCampaign(
  ctx: CampaignContext,
  campaignId: string,
  action: { kind: 'pause' } | { kind: 'resume' } | { kind: 'cancel'; pull: boolean },
  issuerId = ctx.config.d1.issuerId,
): Promise<CampaignControlResult> {
  checkIds(issuerId, campaignId);
  const handle = ctx.temporal.workflow.getHandle(campaignWorkflowId(issuerId, campaignId));
  const update = () =>
    action.kind === 'pause'
      ? handle.executeUpdate(pauseCampaignUpdate)
      : action.kind === 'resume'
        ? handle.executeUpdate(resumeCampaignUpdate)
        : handle.executeUpdate(cancelCampaignUpdate, { args: [{ pull: action.pull }] });
  try {
    let view: CampaignView;
    for (let attempt = 1; ; attempt += 1) {
      try {
        view = await update();
        break;
      } catch (err) {
        if (attempt >= CONTROL_ATTEMPTS || !taskFailedUnderUpdate(err)) throw err;
        await delay(CONTROL_RETRY_MS);
      }
    }
    return { outcome: 'DONE', campaign: view };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type) {
      return { outcome: 'REFUSED', reason: err.cause.type };
    }
    if (err instanceof WorkflowNotFoundError) {
      const closed = await campaignView(ctx, issuerId, campaignId);
      if (!closed) throw new CampaignNotFoundError(issuerId, campaignId, { cause: err });
      return { outcome: 'REFUSED', reason: `CAMPAIGN_ALREADY_${closed.state}`, campaign: closed };
    }
    throw err;
  }
}
