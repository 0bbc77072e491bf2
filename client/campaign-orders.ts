/**
 * Where campaigns meet orders in `CardOrdersClient`: a campaign file's lines checked and prepared as orders are, the
 * campaign functions' context, and why a campaign card's order failed.
 *
 * @module
 */
import { formatOfFile } from '../campaigns/campaign-file.js';
import { batchPaymentApplication, goesInBatch, missingPaymentApplicationReason } from '../campaigns/batch-rules.js';
import { ingestCampaignFile } from '../campaigns/ingest.js';
import type { CampaignManifest, CampaignPageStore } from '../campaigns/page-store.js';
import { OrderFailedError, OrderValidationError } from '../orders/errors.js';
import { describeIssues } from '../common/zod-issues.js';
import { checkOrderAgainstCatalog } from '../orders/program-catalog.js';
import { cardOrderRequestSchema, type CardOrderRequest } from '../orders/schema.js';
import type { ClientContext } from './client-context.js';
import { findOpenCardOrders, type CampaignContext, type CampaignStartOptions } from './campaigns.js';
import { idIssues } from './id-issues.js';
import { getOrder, waitForOrder } from './orders.js';
import { prepareOrder } from './prepare-order.js';

/**
 * Checks a campaign file (CSV or JSONL, one card per line, see `campaigns/campaign-file.ts`) line by line against the
 * order schema and the program catalog, and stores its valid cards in pages of `D1_BATCH_SIZE`, card data
 * encrypted to D1's key and each page with the payload codec's key (`CAMPAIGN_STORE_DIR`). The file is streamed.
 * Ingesting the same file under the same id again resumes a cut-off ingestion, or returns the finished one as it is.
 *
 * @throws {CampaignFileError} naming each bad line and field (never a value), when `skipInvalid` is not set.
 * @throws {CampaignConflictError} when `campaignId` was ingested from another file.
 */
export function ingestCampaign(
  ctx: ClientContext,
  store: CampaignPageStore,
  options: CampaignStartOptions,
): Promise<CampaignManifest> {
  const issuerId = options.issuerId ?? ctx.config.d1.issuerId;
  const issues = idIssues([
    { field: 'issuerId', kind: 'issuer', value: issuerId },
    { field: 'campaignId', kind: 'campaign', value: options.campaignId },
  ]);
  const format = formatOfFile(options.file);
  if (!format) issues.push({ field: 'file', reason: 'must end in .csv, .jsonl or .ndjson' });
  if (issues.length > 0 || !format) return Promise.reject(new OrderValidationError(issues));
  return ingestCampaignFile({
    file: options.file,
    format,
    issuerId,
    campaignId: options.campaignId,
    skipInvalid: options.skipInvalid ?? false,
    pageSize: ctx.config.campaigns.batchSize,
    store,
    cards: {
      issues: (record) => campaignCardIssues(ctx, record, issuerId),
      prepare: (record) => prepareOrder(ctx, record as CardOrderRequest),
    },
    openOrders: (cardIds) => findOpenCardOrders(ctx.temporal, ctx.config.temporal.taskQueue, issuerId, cardIds),
    ...(options.onPage && { onPage: options.onPage }),
  });
}

/** What the campaign functions of `campaigns.ts` need: this client's connection, store and order defaults. */
export function campaignContext(ctx: ClientContext, store: CampaignPageStore): CampaignContext {
  return {
    temporal: ctx.temporal,
    config: ctx.config,
    store,
    ingest: (options) => ingestCampaign(ctx, store, options),
    cardDefaults: {
      timings: ctx.config.orderDefaults,
      publishEvents: ctx.config.issuerEvents.url !== undefined,
    },
  };
}

/** Why a campaign card's order failed, for `campaignFailures`: D1's code or the failure's type, else its status. */
export function orderFailureReader(
  ctx: ClientContext,
  issuerId: string,
): (issuerRequestId: string) => Promise<{ errorCode: string; reason: string }> {
  return async (issuerRequestId) => {
    const state = await getOrder(ctx, issuerRequestId, issuerId);
    if (state.execution === 'FAILED') {
      try {
        await waitForOrder(ctx, issuerRequestId, issuerId);
      } catch (err) {
        if (err instanceof OrderFailedError)
          return { errorCode: err.d1ErrorCode ?? err.failureType, reason: err.message };
        throw err;
      }
    }
    const reason = state.status === 'RETURNED' ? 'the card came back undelivered' : `the order is ${state.status}`;
    return { errorCode: state.failure?.errorCode ?? state.status, reason };
  };
}

/**
 * Every way a campaign line is not a valid order: its schema, its program, then what D1's batch needs of a card that
 * goes in one (its page's submission applies the same rule; found here, the line is refused before anything is
 * stored).
 */
function campaignCardIssues(
  ctx: ClientContext,
  request: unknown,
  issuerId: string,
): { field: string; reason: string }[] {
  const parsed = cardOrderRequestSchema.safeParse(request);
  if (!parsed.success) return describeIssues(parsed.error);
  const issues = checkOrderAgainstCatalog(parsed.data, ctx.catalog);
  const submission = ctx.config.campaigns.singleOrderIssuers.includes(issuerId) ? 'SINGLE' : 'BATCH';
  if (
    goesInBatch(submission, ctx.config.d1.replacesCardIdField, parsed.data) &&
    !batchPaymentApplication(parsed.data, ctx.catalog)
  ) {
    issues.push({ field: 'paymentApplication', reason: `is missing: ${missingPaymentApplicationReason}` });
  }
  return issues;
}
