/**
 * Bulk campaigns from the client library (and the CLI): what they share, where one stands, and the cards that failed.
 * Starting one is in `campaign-start.ts`; pausing, resuming and cancelling in `campaign-control.ts`. Each card is its
 * own card-order workflow, tagged `CampaignId`; the campaign is a workflow of its own,
 * `campaign:{issuerId}:{campaignId}`.
 *
 * @module
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { CampaignCardFailure, CampaignManifest, CampaignPageStore } from '../campaigns/page-store.js';
import type { Config } from '../config/config.js';
import { CampaignNotFoundError } from '../campaigns/errors.js';
import { OrderValidationError } from '../orders/errors.js';
import { runOf, writeRun } from '../campaigns/campaign-run.js';
import { campaignCardsQuery, openCardOrdersQuery } from '../temporal/campaign-query.js';
import type { OpenCardOrder } from '../campaigns/ingest.js';
import { allOf, fieldEquals, fieldIn } from '../temporal/visibility-query.js';
import {
  campaignStateQuery,
  type CampaignInput,
  type CampaignStateName,
  type CampaignView,
} from '../rules/contracts/campaign.js';
import { cardOrderStatuses, type CardOrderStatus } from '../rules/contracts/card-order.js';
import { cardIdKey, cardOrderStatusKey, issuerRequestIdKey } from '../rules/contracts/search-attributes.js';
import { idIssues } from './id-issues.js';
import { queryAnswer } from '../temporal/query-through-failover.js';
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

/** Refuses ids not in D1's formats before they reach a workflow id or a visibility query. */
export function checkIds(issuerId: string, campaignId: string): void {
  const issues = idIssues([
    { field: 'issuerId', kind: 'issuer', value: issuerId },
    { field: 'campaignId', kind: 'campaign', value: campaignId },
  ]);
  if (issues.length > 0) throw new OrderValidationError(issues);
}

/** Records in the manifest how the campaign's run ended, once a client sees it closed (no write when known). */
export async function recordEnd(ctx: CampaignContext, manifest: CampaignManifest, view: CampaignView): Promise<void> {
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

/** The campaign workflow's view: its result once completed, its query while running; undefined when unknown. */
export async function campaignView(ctx: CampaignContext, issuerId: string, campaignId: string) {
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
      const { count } = await ctx.temporal.workflow.count(allOf(base, fieldEquals(cardOrderStatusKey, status)));
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
  const query = allOf(
    campaignCardsQuery(ctx.config.temporal.taskQueue, issuerId, campaignId),
    fieldIn(cardOrderStatusKey, ['FAILED', 'COMPENSATED', 'COMPENSATION_FAILED', 'RETURNED']),
  );
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
