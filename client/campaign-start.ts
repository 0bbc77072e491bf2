/**
 * Starting a bulk campaign from a file (`startCampaign` of `CardOrdersClient`), and the rule that a campaign which
 * already ran is never run again, since a second run would order every card of it twice.
 *
 * @module
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { CampaignManifest } from '../campaigns/page-store.js';
import { runOf, writeRun, type CampaignRun } from '../campaigns/campaign-run.js';
import { CampaignAlreadyRanError, CampaignConflictError } from '../campaigns/errors.js';
import { campaignWorkflowId } from '../orders/workflow-id.js';
import { CAMPAIGN_WORKFLOW, type CampaignInput } from '../rules/contracts/campaign.js';
import { campaignIdKey, issuerIdKey } from '../rules/contracts/search-attributes.js';
import {
  campaignView,
  checkIds,
  getCampaign,
  recordEnd,
  type CampaignContext,
  type CampaignStartOptions,
  type CampaignStatus,
} from './campaigns.js';

/**
 * Starts a campaign: stores the file's valid cards (see `ingestCampaign`), then starts the campaign workflow. The
 * same file under the same id again resumes a cut-off storing, or, once the campaign runs, changes nothing and
 * returns where it stands.
 *
 * @throws {CampaignFileError} for bad lines, unless `skipInvalid`.
 * @throws {CampaignConflictError} for another file under the same id.
 * @throws {CampaignAlreadyRanError} when the campaign already ran (see `refuseARunAgain`).
 */
export async function startCampaign(ctx: CampaignContext, options: CampaignStartOptions): Promise<CampaignStatus> {
  const issuerId = options.issuerId ?? ctx.config.d1.issuerId;
  checkIds(issuerId, options.campaignId);
  const manifest = await ctx.ingest({ ...options, issuerId });
  const { campaigns } = ctx.config;
  const input: CampaignInput = {
    issuerId,
    campaignId: options.campaignId,
    fileDigest: manifest.fileDigest,
    ingestion: { pages: manifest.pages, total: manifest.total, valid: manifest.valid, invalid: manifest.invalid },
    timings: {
      pageSize: manifest.pageSize,
      maxInFlight: campaigns.maxInFlight,
      maxCardBacklog: campaigns.maxCardBacklog,
      checkIntervalMs: campaigns.checkIntervalMs,
      checkMaxIntervalMs: campaigns.checkMaxIntervalMs,
      cardSubmitTimeoutMs: campaigns.cardSubmitTimeoutMs,
      pageHeartbeatTimeoutMs: campaigns.pageHeartbeatTimeoutMs,
    },
    submission: campaigns.singleOrderIssuers.includes(issuerId) ? 'SINGLE' : 'BATCH',
    cardDefaults: ctx.cardDefaults,
  };
  const workflowId = campaignWorkflowId(issuerId, options.campaignId);
  await refuseARunAgain(ctx, manifest, workflowId);
  // Recorded before the workflow starts: a start cut off after it still counts as a run once Temporal forgets it.
  const run = runOf(manifest);
  if (!run || run.ended) await writeRun(ctx.store, manifest, { startedAt: run?.startedAt ?? new Date().toISOString() });
  try {
    await ctx.temporal.workflow.start(CAMPAIGN_WORKFLOW, {
      taskQueue: ctx.config.temporal.campaignTaskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      // A campaign whose run failed (a page refused for good, an operator's terminate) may be started again.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [
        { key: issuerIdKey, value: issuerId },
        { key: campaignIdKey, value: options.campaignId },
      ],
      staticSummary: `Campaign ${options.campaignId}: ${manifest.valid} cards in ${manifest.pages} pages`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // The store already refused another file under this id; a run knows its own file too.
    const existing = await campaignView(ctx, issuerId, options.campaignId);
    if (existing?.fileDigest !== undefined && existing.fileDigest !== manifest.fileDigest) {
      throw new CampaignConflictError(options.campaignId);
    }
  }
  return getCampaign(ctx, options.campaignId, issuerId);
}

/**
 * Refuses to start a campaign that already ran (CAMPAIGN_ALREADY_RAN): one whose last run COMPLETED or was
 * CANCELLED, or one that was started and that Temporal no longer knows (its retention ended: its cards' ids are free
 * again, so a new run would order them all twice), unless its first start is more recent than the retention, when no
 * run of it can have been deleted (a start cut off before the workflow began). A FAILED run, still known, may be
 * started again; a running one is left to the start, which changes nothing.
 *
 * The client decides, not the campaign workflow (unchanged): Temporal's own status while it knows the run, and the
 * manifest's record once it does not.
 */
async function refuseARunAgain(ctx: CampaignContext, manifest: CampaignManifest, workflowId: string): Promise<void> {
  const { issuerId, campaignId } = manifest;
  const run = runOf(manifest);
  let status: string;
  try {
    ({
      status: { name: status },
    } = await ctx.temporal.workflow.getHandle(workflowId).describe());
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    if (run && !(await noRunCanBeGone(ctx, run))) {
      throw new CampaignAlreadyRanError(campaignId, run.ended ?? 'UNKNOWN', run.startedAt);
    }
    return;
  }
  if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') return;
  const view = await campaignView(ctx, issuerId, campaignId);
  if (view?.state === 'COMPLETED' || view?.state === 'CANCELLED') {
    await recordEnd(ctx, manifest, view);
    throw new CampaignAlreadyRanError(campaignId, view.state, run?.startedAt);
  }
}

/** Whether the campaign's first start is younger than the namespace's retention: then no run of it was deleted yet. */
async function noRunCanBeGone(ctx: CampaignContext, run: CampaignRun): Promise<boolean> {
  if (run.ended) return false;
  const { config } = await ctx.temporal.workflowService.describeNamespace({
    namespace: ctx.temporal.options.namespace,
  });
  const retentionMs = Number(config?.workflowExecutionRetentionTtl?.seconds?.toString() ?? '0') * 1000;
  // An unreadable start time (NaN) compares false: the campaign counts as run.
  return Date.now() < Date.parse(run.startedAt) + retentionMs;
}
