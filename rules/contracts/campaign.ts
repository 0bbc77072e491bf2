/**
 * What a campaign shares with its callers: states, timings, input, counters, its view, and the updates it answers.
 *
 * @module
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CardOrderStatus, OrderTimings } from './card-order.js';

export const CAMPAIGN_WORKFLOW = 'campaign';

/**
 * Where a campaign stands. VALIDATING: its file is being checked and stored (the workflow starts after); the rest as
 * named.
 */
export const campaignStates = ['VALIDATING', 'RUNNING', 'PAUSED', 'COMPLETED', 'CANCELLED', 'FAILED'] as const;
export type CampaignStateName = (typeof campaignStates)[number];

export interface CampaignTimings {
  /** Cards per page (and per D1 batch call). */
  pageSize: number;
  /** The most cards of the campaign in flight (submitted, not yet shipped or ended) before the next page waits. */
  maxInFlight: number;
  /** The first wait between two readings of the campaign's cards; it doubles while nothing moves. */
  checkIntervalMs: number;
  /** The longest wait between two readings. */
  checkMaxIntervalMs: number;
  /** How long a card waits for the campaign's batch before it submits on its own. */
  cardSubmitTimeoutMs: number;
  /** How soon a worker lost mid-page is noticed (the page activity's heartbeat timeout). */
  pageHeartbeatTimeoutMs: number;
  /**
   * The most card-order workflow tasks waiting for a worker before the next page waits: pages go no faster than the
   * workers take their cards. Absent in campaigns started before pages were paced.
   */
  maxCardBacklog?: number | undefined;
}

/** What ingestion stored (the campaign starts once every page is). */
export interface CampaignIngestion {
  pages: number;
  total: number;
  valid: number;
  invalid: number;
}

export interface CampaignInput {
  issuerId: string;
  campaignId: string;
  /** SHA-256 of the campaign file: the same id with another file is refused (CAMPAIGN_CONFLICT). */
  fileDigest: string;
  ingestion: CampaignIngestion;
  timings: CampaignTimings;
  /** Submission: D1's batch API, or single-order calls for issuers without it (each card submits itself). */
  submission: 'BATCH' | 'SINGLE';
  /** The card orders' own input, shared by every card of the campaign. */
  cardDefaults: { timings: OrderTimings; publishEvents: boolean };
  /** The previous run's state (continue-as-new). */
  carried?: unknown;
}

export interface CampaignCounters {
  /** Cards D1 took (or, in single-order mode, card orders started). */
  accepted: number;
  /** Cards D1 refused in a batch, each with its reason among the campaign's failures. */
  refused: number;
  /** Cards whose issuerRequestId was already used for a different order (ORDER_CONFLICT): not ordered. */
  conflicts: number;
  /**
   * Cards whose order a single order or another campaign had already placed (ALREADY_ORDERED): not ordered again,
   * done for this campaign. Absent from campaigns started before it was counted.
   */
  alreadyOrdered?: number | undefined;
}

/** The campaign as its query and result show it: ids and counts only. */
export interface CampaignView extends CampaignCounters {
  issuerId: string;
  campaignId: string;
  fileDigest: string;
  state: CampaignStateName;
  total: number;
  valid: number;
  invalid: number;
  pages: number;
  pagesSubmitted: number;
  /** Card orders not yet shipped or ended (from the campaign's records, else its last visibility reading). */
  inFlight: number | undefined;
  /** Open card orders at the last visibility reading (campaigns started before the campaign kept records). */
  open: number | undefined;
  /** Card orders the submitted pages started for this campaign (campaigns that keep records). */
  started?: number | undefined;
  /** The cards that settled, by the status they reported, each counted once (campaigns that keep records). */
  settled?: Partial<Record<CardOrderStatus, number>> | undefined;
  /** The page whose last attempts failed (transient), and when it goes again; pause and cancel act meanwhile. */
  pageFailure?: { page: number; failures: number; code: string | undefined; retryAt: string } | undefined;
  /** Card-order tasks waiting for a worker, when that holds the next page back (the workers are behind). */
  heldByBacklog?: number | undefined;
  startedAt: string;
  endedAt: string | undefined;
}

export const campaignStateQuery = defineQuery<CampaignView>('campaignState');
/** Stops new submissions (the page under way is interrupted and sent again on resume). */
export const pauseCampaignUpdate = defineUpdate<CampaignView>('pauseCampaign');
export const resumeCampaignUpdate = defineUpdate<CampaignView>('resumeCampaign');
/** Stops submitting; with `pull`, asks D1 to cancel the campaign's cards not yet shipped. */
export const cancelCampaignUpdate = defineUpdate<CampaignView, [{ pull: boolean }]>('cancelCampaign');
