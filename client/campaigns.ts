/**
 * Bulk campaigns from the client library (and the CLI): start one from a file, read where it stands, pause, resume
 * or cancel it, and list the cards that failed. Each card is its own card-order workflow, tagged `CampaignId`; the
 * campaign is a workflow of its own, `campaign:{issuerId}:{campaignId}`.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { CampaignCardFailure, CampaignManifest, CampaignPageStore } from '../campaigns/page-store.js';
import type { Config } from '../config/config.js';
import { CampaignAlreadyRanError, CampaignConflictError, CampaignNotFoundError } from '../campaigns/errors.js';
import { OrderValidationError } from '../orders/errors.js';
import { runOf, writeRun, type CampaignRun } from '../campaigns/campaign-run.js';
import { campaignCardsQuery, openCardOrdersQuery } from '../common/campaign-query.js';
import type { OpenCardOrder } from '../campaigns/ingest.js';
import { visibilityLiteral } from '../common/visibility-query.js';
import {
  CAMPAIGN_WORKFLOW,
  campaignStateQuery,
  cancelCampaignUpdate,
  cardOrderStatuses,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
  type CampaignInput,
  type CampaignStateName,
  type CampaignView,
  type CardOrderStatus,
} from '../workflows/definitions.js';
import {
  campaignIdKey,
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
} from '../workflows/search-attributes.js';
import { idIssues } from './id-issues.js';
import { queryAnswer } from '../common/query-through-failover.js';
import { campaignWorkflowId } from '../orders/workflow-id.js';

export { campaignWorkflowId };

/**
 * The issuer's open card orders on this task queue for any of `cardIds` (one visibility listing): what ingestion
 * refuses a campaign line for, since a second order of a card makes a second physical card.
 */
export async function findOpenCardOrders(
  temporal: Client,
  taskQueue: string,
  issuerId: string,
  cardIds: readonly string[],
): Promise<OpenCardOrder[]> {
  const found: OpenCardOrder[] = [];
  const query = openCardOrdersQuery(taskQueue, issuerId, cardIds);
  for await (const order of temporal.workflow.list({ query, pageSize: cardIds.length })) {
    const cardId = order.typedSearchAttributes.get(cardIdKey);
    if (cardId === undefined) continue;
    const issuerRequestId =
      order.typedSearchAttributes.get(issuerRequestIdKey) ?? order.workflowId.split(':').slice(2).join(':');
    found.push({ cardId, workflowId: order.workflowId, issuerRequestId });
  }
  return found;
}

/** Where a campaign stands, with its cards counted by card-order status. */
export interface CampaignStatus {
  campaignId: string;
  issuerId: string;
  state: CampaignStateName;
  total: number;
  valid: number;
  invalid: number;
  /**
   * Cards per card-order status they settled in (`SHIPPED`, `FAILED`, ...) and `IN_FLIGHT` (started, not yet settled),
   * from the campaign's own records; `PENDING`: valid cards whose order is not started yet; `CONFLICT`: cards not
   * ordered because their issuerRequestId has another order; `ALREADY_ORDERED`: cards whose order a single order or
   * another campaign had placed. Campaigns started before the records count by status from visibility instead.
   */
  counts: Record<string, number>;
  /** The campaign workflow's own view (absent while the file is still being stored). */
  campaign: CampaignView | undefined;
  /** Why a FAILED campaign failed: the stable type of the failure that ended it (e.g. CAMPAIGN_PAGE_MISSING). */
  failure?: { type: string; message: string } | undefined;
}

export interface CampaignControlResult {
  outcome: 'DONE' | 'REFUSED';
  /** Why it was refused, e.g. CAMPAIGN_ALREADY_COMPLETED. */
  reason?: string | undefined;
  campaign?: CampaignView | undefined;
}

/** A card that did not make it: refused by D1 or our checks, or its order failed later. */
export interface CampaignFailure {
  cardId: string;
  issuerRequestId: string;
  /** The file's line, for cards refused before their order started. */
  line?: number | undefined;
  /** The order's status for cards whose order failed; absent for cards never ordered. */
  status?: string | undefined;
  errorCode: string;
  reason: string;
}

export interface CampaignStartOptions {
  file: string;
  campaignId: string;
  skipInvalid?: boolean | undefined;
  issuerId?: string | undefined;
  /** Progress of the file's storing: each page as it is stored. */
  onPage?: ((manifest: CampaignManifest) => void) | undefined;
}

/** What the campaign functions need of the client. */
export interface CampaignContext {
  temporal: Client;
  config: Config;
  store: CampaignPageStore;
  ingest: (options: CampaignStartOptions & { issuerId: string }) => Promise<CampaignManifest>;
  /** The card orders' input defaults, as `orderCard` resolves them. */
  cardDefaults: CampaignInput['cardDefaults'];
}

function checkIds(issuerId: string, campaignId: string): void {
  const issues = idIssues([
    { field: 'issuerId', kind: 'issuer', value: issuerId },
    { field: 'campaignId', kind: 'campaign', value: campaignId },
  ]);
  if (issues.length > 0) throw new OrderValidationError(issues);
}

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

/** Records in the manifest how the campaign's run ended, once a client sees it closed (no write when known). */
async function recordEnd(ctx: CampaignContext, manifest: CampaignManifest, view: CampaignView): Promise<void> {
  const run = runOf(manifest);
  const ended = view.state;
  if (ended !== 'COMPLETED' && ended !== 'CANCELLED' && ended !== 'FAILED') return;
  if (run?.ended === ended) return;
  await writeRun(ctx.store, manifest, {
    startedAt: run?.startedAt ?? view.startedAt ?? 'unknown',
    ended,
    endedAt: view.endedAt ?? new Date().toISOString(),
  });
}

async function campaignView(ctx: CampaignContext, issuerId: string, campaignId: string) {
  const handle = ctx.temporal.workflow.getHandle(campaignWorkflowId(issuerId, campaignId));
  try {
    const { status } = await handle.describe();
    if (status.name === 'COMPLETED') return (await handle.result()) as CampaignView;
    if (status.name === 'RUNNING') return await queryAnswer(handle, (h) => h.query(campaignStateQuery));
    return { state: 'FAILED' as const } as CampaignView;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The campaign's cards of this task queue, by card-order status (one visibility count per status). */
async function countCards(ctx: CampaignContext, issuerId: string, campaignId: string): Promise<Record<string, number>> {
  const base = campaignCardsQuery(ctx.config.temporal.taskQueue, issuerId, campaignId);
  const counts: Record<string, number> = {};
  await Promise.all(
    cardOrderStatuses.map(async (status: CardOrderStatus) => {
      const { count } = await ctx.temporal.workflow.count(
        `${base} AND ${cardOrderStatusKey.name} = ${visibilityLiteral(status)}`,
      );
      if (count > 0) counts[status] = count;
    }),
  );
  return counts;
}

/** The cards by the status they settled in, and those still in flight, as the campaign recorded them. */
function recordedCounts(view: CampaignView): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [status, n] of Object.entries(view.settled ?? {})) if (n) counts[status] = n;
  if (view.inFlight) counts.IN_FLIGHT = view.inFlight;
  return counts;
}

/**
 * Where the campaign stands: its state, totals, and its cards counted by the status they settled in, from the
 * campaign's own records (one describe and one query; campaigns from before the records: visibility counts). While
 * the file is still being stored (no workflow yet), VALIDATING with the stored counts.
 *
 * @throws {CampaignNotFoundError} when there is no such campaign.
 */
export async function getCampaign(
  ctx: CampaignContext,
  campaignId: string,
  issuerId = ctx.config.d1.issuerId,
): Promise<CampaignStatus> {
  checkIds(issuerId, campaignId);
  const campaign = await campaignView(ctx, issuerId, campaignId);
  // A running campaign's view says all: the store (a shared database) is read for one Temporal no longer has, one
  // still being stored, or to record how one ended. A watch refreshing every second never touches it.
  const running = campaign?.state === 'RUNNING' || campaign?.state === 'PAUSED';
  const manifest = running ? undefined : await ctx.store.readManifest(issuerId, campaignId);
  if (!campaign && !manifest) throw new CampaignNotFoundError(issuerId, campaignId);
  if (campaign && manifest) await recordEnd(ctx, manifest, campaign);
  // Gone from Temporal (retention): the manifest still says how it ended, when a client saw it.
  const recorded = manifest && !campaign ? runOf(manifest)?.ended : undefined;
  const valid = campaign?.valid ?? manifest?.valid ?? 0;
  const conflicts = campaign?.conflicts ?? 0;
  const alreadyOrdered = campaign?.alreadyOrdered ?? 0;
  // The campaign's own records when it keeps them: no visibility count, whatever the campaign's size.
  const counts: Record<string, number> = campaign?.settled
    ? recordedCounts(campaign)
    : await countCards(ctx, issuerId, campaignId);
  const started = campaign?.settled ? (campaign.started ?? 0) : Object.values(counts).reduce((sum, n) => sum + n, 0);
  const pending = Math.max(valid - started - conflicts - alreadyOrdered, 0);
  const failure = campaign?.state === 'FAILED' ? await campaignFailureOf(ctx, issuerId, campaignId) : undefined;
  return {
    campaignId,
    issuerId,
    state: campaign?.state ?? recorded ?? 'VALIDATING',
    total: campaign?.total ?? manifest?.total ?? 0,
    valid,
    invalid: campaign?.invalid ?? manifest?.invalid ?? 0,
    counts: {
      ...counts,
      ...(pending > 0 && { PENDING: pending }),
      ...(conflicts > 0 && { CONFLICT: conflicts }),
      ...(alreadyOrdered > 0 && { ALREADY_ORDERED: alreadyOrdered }),
    },
    campaign,
    ...(failure && { failure }),
  };
}

/**
 * The innermost typed failure under a failed campaign run (a page's activity failure, say CAMPAIGN_PAGE_MISSING):
 * what an operator has to act on. Undefined for a run that failed without one (terminated).
 */
async function campaignFailureOf(ctx: CampaignContext, issuerId: string, campaignId: string) {
  try {
    await ctx.temporal.workflow.getHandle(campaignWorkflowId(issuerId, campaignId)).result();
    return undefined;
  } catch (err) {
    let typed: { type: string; message: string } | undefined;
    for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
      if (cause instanceof ApplicationFailure && cause.type) typed = { type: cause.type, message: cause.message };
    }
    return typed;
  }
}

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

/**
 * Every card of the campaign that failed: those never ordered (refused by D1 in its batch, or ORDER_CONFLICT), from
 * the campaign's store, then those whose order failed later, from visibility and each order's end.
 */
export async function campaignFailures(
  ctx: CampaignContext,
  campaignId: string,
  readOrderFailure: (issuerRequestId: string) => Promise<{ errorCode: string; reason: string }>,
  issuerId = ctx.config.d1.issuerId,
): Promise<CampaignFailure[]> {
  checkIds(issuerId, campaignId);
  const refused = (await ctx.store.readFailures(issuerId, campaignId)).map((f: CampaignCardFailure) => ({
    cardId: f.cardId,
    issuerRequestId: f.issuerRequestId,
    line: f.line,
    errorCode: f.errorCode,
    reason: f.fields?.length ? `${f.reason} (${f.fields.map((x) => x.field).join(', ')})` : f.reason,
  }));
  const failedStatuses = ['FAILED', 'COMPENSATED', 'COMPENSATION_FAILED', 'RETURNED'].map(visibilityLiteral);
  const query = `${campaignCardsQuery(ctx.config.temporal.taskQueue, issuerId, campaignId)} AND ${cardOrderStatusKey.name} IN (${failedStatuses.join(', ')})`;
  const neverStarted = new Set(refused.map((f) => f.issuerRequestId));
  const later: CampaignFailure[] = [];
  for await (const order of ctx.temporal.workflow.list({ query })) {
    const attrs = order.typedSearchAttributes;
    const issuerRequestId = order.workflowId.split(':').slice(2).join(':');
    // A card refused in its batch also has an order that ended FAILED: listed once, with D1's reason.
    if (neverStarted.has(issuerRequestId)) continue;
    const { errorCode, reason } = await readOrderFailure(issuerRequestId);
    later.push({
      cardId: attrs.get(cardIdKey) ?? '',
      issuerRequestId,
      status: attrs.get(cardOrderStatusKey),
      errorCode,
      reason,
    });
  }
  return [...refused, ...later];
}
