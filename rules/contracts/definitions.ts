/**
 * What the card-order workflows share with their callers (client library, webhook, tests): inputs, results, the
 * order's one status field, and the signal, query and update they answer. Callers import this file, never a
 * workflow body.
 *
 * @module
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Address, Operation, ShipmentTracking } from '../../d1/schemas.js';
import type { OrderFingerprint } from '../../orders/fingerprint.js';
import type { ReturnPolicy } from '../../orders/program-catalog.js';
import type { CardOrder } from '../../orders/schema.js';
import type { OrderMachineState } from '../card-order/order-machine.js';

/** The workflow type new orders run as. */
export const CARD_ORDER_WORKFLOW = 'cardOrderV2';
/** Every card-order workflow type, the first one (`cardOrder`) included while its runs drain. */
export const CARD_ORDER_WORKFLOW_TYPES = ['cardOrder', CARD_ORDER_WORKFLOW] as const;

/**
 * The order's status, the one field operators filter by (`CardOrderStatus` search attribute). D1's own production
 * stage (e.g. `CARD_PROD_CANCELED`, D1's spelling) is a separate detail, `stage`.
 */
export const cardOrderStatuses = [
  /** First-generation orders only: the order is being checked against its program. */
  'VALIDATING',
  'SUBMITTING',
  'SUBMITTED',
  'IN_PRODUCTION',
  /** D1 reported OUT_OF_STOCK; the card is re-ordered after a delay. */
  'AWAITING_STOCK',
  'CANCELLING',
  /**
   * A D1 call the order needs (submit, cancel, compensation) got no answer for longer than ORDER_D1_RETRY_TIMEOUT:
   * the order keeps trying, backing off, until D1 answers or (for a submit) its production deadline passes.
   */
  'D1_UNREACHABLE',
  /** Handed to the carrier. The order listens for carrier updates and a return during its delivery window. */
  'SHIPPED',
  /** D1 reported the card returned (CARD_RETURNED); per its program it ends here or waits for a re-ship. */
  'RETURNED',
  'CANCELLED',
  'COMPENSATING',
  'COMPENSATED',
  /** Compensation itself failed: something may still be live at D1. An operator must look. */
  'COMPENSATION_FAILED',
  'FAILED',
] as const;
export type CardOrderStatus = (typeof cardOrderStatuses)[number];

/**
 * Statuses where the order's production story ends. Only a shipped card may still come back (SHIPPED to RETURNED,
 * within the delivery window), and a returned one be shipped again when its program allows it.
 */
export const finalCardOrderStatuses: readonly CardOrderStatus[] = [
  'SHIPPED',
  'RETURNED',
  'CANCELLED',
  'COMPENSATED',
  'COMPENSATION_FAILED',
  'FAILED',
];

/** Timings of one order, resolved from its overrides and the configured defaults, in ms. */
export interface OrderTimings {
  /** Quiet time after the last news from D1 (a notification, a poll that found a change) before the first poll. */
  notificationTimeoutMs: number;
  /** The poll interval after that first poll; it doubles with each poll that finds nothing new. */
  pollIntervalMs: number;
  /** The most time between two polls: how late, at worst, the order learns of a lost notification. */
  pollMaxIntervalMs: number;
  /** Quiet time after a Pull & change request (a cancel) before polling for D1's verdict; it doubles after. */
  changeVerdictTimeoutMs: number;
  /** The overall limit: past it the order is compensated. */
  productionDeadlineMs: number;
  /** Wait before re-ordering a card D1 reported OUT_OF_STOCK. */
  outOfStockReorderDelayMs: number;
  /** How many times an OUT_OF_STOCK order is re-ordered before it is compensated. */
  outOfStockMaxReorders: number;
  /**
   * How long the transient failures (5xx, 429, timeouts, auth) of one D1 call that must succeed are retried in one
   * go. Past it the order waits as D1_UNREACHABLE and tries again, backing off to `d1OutageMaxIntervalMs`.
   */
  d1RetryTimeoutMs: number;
  /**
   * The most time between two tries of a D1 call while D1 is unreachable. Absent in inputs from before it:
   * {@link DEFAULT_D1_OUTAGE_MAX_INTERVAL_MS}.
   */
  d1OutageMaxIntervalMs?: number | undefined;
  /**
   * How long a shipped order listens for carrier updates and a return before it completes; 0 ends it at shipment.
   * Absent in inputs from before the delivery window: {@link DEFAULT_DELIVERY_WINDOW_MS}.
   */
  deliveryWindowMs?: number | undefined;
  /** How long a returned card waits for the issuer's corrected address (re-ship) before the order ends RETURNED. */
  reshipWaitMs?: number | undefined;
  /** The first wait after a failed delivery of issuer events; it doubles after each one. */
  issuerEventRetryMs?: number | undefined;
  /** The most time between two deliveries of issuer events while the issuer's endpoint fails. */
  issuerEventMaxIntervalMs?: number | undefined;
}

/** The delivery window and re-ship wait of orders whose input predates them (production defaults). */
export const DEFAULT_DELIVERY_WINDOW_MS = 30 * 86_400_000;
export const DEFAULT_RESHIP_WAIT_MS = 30 * 86_400_000;
export const DEFAULT_D1_OUTAGE_MAX_INTERVAL_MS = 6 * 3_600_000;
export const DEFAULT_ISSUER_EVENT_RETRY_MS = 60_000;
export const DEFAULT_ISSUER_EVENT_MAX_INTERVAL_MS = 6 * 3_600_000;

export interface CardOrderInput {
  order: CardOrder;
  timings: OrderTimings;
  /** Whether lifecycle events go to the issuer (ISSUER_EVENTS_URL is set). */
  publishEvents: boolean;
  /** The whole state of the previous run, when this run continues it (continue-as-new). */
  carried?: OrderMachineState;
  /**
   * The order's keyed fingerprint, for the client to tell the same order placed again from a different one under the
   * same issuerRequestId (ORDER_CONFLICT). The workflow only carries it along.
   */
  fingerprint?: OrderFingerprint | undefined;
  /** What the order's program does with a returned card, as the catalog said when the order was placed. */
  returnPolicy?: ReturnPolicy | undefined;
  /** A card of a campaign: the campaign submits it to D1 in a batch and says how it went (`campaignSubmission`). */
  campaign?: CampaignCardInput | undefined;
}

export interface CampaignCardInput {
  campaignId: string;
  /** How long the order waits for its campaign's word before it submits on its own (D1 dedupes by request id). */
  submitTimeoutMs: number;
  /**
   * The card's place in the campaign (its page, and its index in the page), from campaigns that keep their own
   * records: the order reports it to the campaign once it settles (`campaignCardSettled`).
   */
  page?: number | undefined;
  slot?: number | undefined;
}

/** A campaign card's word to its campaign, once: it shipped, came back, or ended, and is no longer in flight. */
export interface CampaignCardReport {
  page: number;
  slot: number;
  status: CardOrderStatus;
}
/** Sent by a card order to its campaign (`campaign:{issuerId}:{campaignId}`) when it settles; counted once per card. */
export const campaignCardSettledSignal = defineSignal<[CampaignCardReport]>('campaignCardSettled');

/** What a campaign's batch call to D1 did with one card. */
export type CampaignSubmission =
  | { issuerRequestId: string; outcome: 'ACCEPTED'; operationId: string }
  | { issuerRequestId: string; outcome: 'REFUSED'; errorCode: string; reason?: string | undefined };

/** A campaign tells its card how D1 took it in the batch; repeated (a retried page) it changes nothing. */
export const campaignSubmissionSignal = defineSignal<[CampaignSubmission]>('campaignSubmission');

/** One applied (or ignored) D1 report, as the order's timeline shows it. */
export interface TimelineEntry {
  /** Workflow time the report was applied (ISO 8601). */
  at: string;
  operationId: string;
  operation: string;
  status: string;
  stage: string;
  shipmentStatus?: string | undefined;
  errorCode?: string | undefined;
  /** `reconcile`: the nightly reconciliation found D1 ahead of the order and passed on D1's status. */
  source: 'notification' | 'poll' | 'reconcile';
  /** True when the report came after a later stage and changed nothing. */
  late?: boolean;
}

export interface ProductionFailure {
  errorCode: string;
  stage: string;
  error?: string | undefined;
  reason?: string | undefined;
}

/** The order as queries, results and failure details show it: identifiers and states only, no PII. */
export interface OrderState {
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  /** The order's program; absent on first-generation orders. */
  cardProductId?: string | undefined;
  status: CardOrderStatus;
  /** D1's production stage of the current D1 order (`details.status`), e.g. CARD_PROD_ONGOING. */
  stage: string | undefined;
  operationId: string | undefined;
  /** D1's estimated shipment date (YYYY-MM-DD), when D1 gave one. */
  dueDate: string | undefined;
  shipment: ShipmentTracking | undefined;
  failure: ProductionFailure | undefined;
  timeline: TimelineEntry[];
  attempts: { submissions: number; reorders: number; polls: number; pollFailures: number };
  lastPollAt: string | undefined;
  /** When the next status poll is planned (ISO 8601), while the order waits on D1. */
  nextPollAt: string | undefined;
  compensations: string[];
  /** While D1 does not answer a call the order needs: since when, how often it failed, when it tries again. */
  d1Unreachable?: { step: string; since: string; failures: number; nextTryAt: string } | undefined;
  /** Pull & change requests (accelerate, redirect) and their verdicts, oldest first; absent on older orders. */
  changes?: ChangeRecord[] | undefined;
  /** After shipment: the delivery window, returns and re-ships; absent until the order listens after shipment. */
  delivery?: DeliveryView | undefined;
}

export interface DeliveryView {
  /** When the order stops listening for carrier updates and completes (ISO 8601), while it is SHIPPED. */
  windowEndsAt: string | undefined;
  /** When D1 reported the card returned, while the order is RETURNED. */
  returnedAt: string | undefined;
  /** Until when a returned card waits for the issuer's re-ship, when its program re-ships. */
  reshipWaitEndsAt: string | undefined;
  returns: number;
  reships: ReshipRecord[];
}

/** Re-ship a returned card to a corrected address: D1 produces it again under a re-order id. */
export interface ReshipRequest {
  newDeliveryAddress: Address;
}

export interface ReshipResult {
  /** RESHIPPED once D1 accepted the new order; REJECTED with the reason otherwise. */
  outcome: 'RESHIPPED' | 'REJECTED';
  /** The new D1 order's issuerRequestId (`{issuerRequestId}--r{n}`). */
  issuerRequestId?: string | undefined;
  reason?: string | undefined;
}

/** A re-ship as the order's state lists it: no address (it is personal data). */
export interface ReshipRecord {
  requestedAt: string;
  outcome: ReshipResult['outcome'] | 'PENDING';
  issuerRequestId?: string | undefined;
  reason?: string | undefined;
}

/** Pull & change requests other than cancel (which has its own update). */
export const changeTypes = ['ACCELERATE', 'REDIRECT', 'ACCELERATE_AND_REDIRECT'] as const;
export type ChangeType = (typeof changeTypes)[number];

/** An accelerate, a redirect (with the new delivery address), or both. */
export interface ChangeRequest {
  type: ChangeType;
  /** Required for the REDIRECT kinds, absent otherwise. */
  newDeliveryAddress?: Address | undefined;
}

export interface ChangeResult {
  outcome: 'ACCEPTED' | 'REJECTED';
  /** Why the personalization center (or the workflow) refused, e.g. ADDRESS_LOCKED or ORDER_ALREADY_SHIPPED. */
  reason?: string | undefined;
}

/** A change as the order's state lists it: no address (it is personal data). */
export interface ChangeRecord extends ChangeResult {
  type: ChangeType;
  requestedAt: string;
}

export interface CardOrderResult {
  status: 'SHIPPED' | 'CANCELLED' | 'RETURNED';
  operationId: string | undefined;
  shipment: ShipmentTracking | undefined;
  timeline: TimelineEntry[];
  /** The order's final state (so a closed order reads without a worker). */
  state: OrderState;
}

/** `details[0]` of the `ApplicationFailure` a failed order ends with. */
export interface CardOrderFailureDetails {
  /** Our error code behind the failure (e.g. ERR_D1_BAD_REQUEST), when there is one. */
  code: string | undefined;
  /** D1's own error code (e.g. OUT_OF_STOCK, TEMPLATE_NOT_FOUND), when D1 gave one. */
  d1ErrorCode: string | undefined;
  stage: string | undefined;
  operationId: string | undefined;
  /** The order's final state. */
  state: OrderState;
}

export interface CancelResult {
  outcome: 'CANCELLED' | 'REJECTED';
  /** Why D1 (or the workflow) refused, e.g. ORDER_ALREADY_SHIPPED, or D1's error code. */
  reason?: string | undefined;
}

/** D1 operation reports, as the webhook received them (all of one batch's reports for this order). */
export const d1NotificationSignal = defineSignal<[{ operations: Operation[] }]>('d1Notification');
/**
 * D1's status of the card as the reconciliation read it (`GET .../productionStatus`), applied like a poll's answer:
 * deduplicated, never moving the order backwards.
 */
export const d1StatusReportSignal = defineSignal<[{ operations: Operation[] }]>('d1StatusReport');
export const orderStateQuery = defineQuery<OrderState>('orderState');
/**
 * Asks D1 to cancel the order; answers once D1 confirmed or refused. Its validator refuses at once (nothing written
 * to history) an order that already ended: the update then fails with an `ApplicationFailure` whose `type` is the
 * reason, e.g. ORDER_ALREADY_SHIPPED.
 */
export const cancelOrderUpdate = defineUpdate<CancelResult>('cancelOrder');
/**
 * Pull & change: asks D1 to accelerate the order, redirect it to a new address, or both; answers with the
 * personalization center's verdict (its UPDATE_ORDER report, or a poll when that report is lost). Changes are
 * carried out one at a time, in the order they came. The validator refuses at once what cannot succeed: the reason
 * is the failure's `type` (ORDER_ALREADY_SHIPPED, ORDER_ALREADY_CANCELLED, ORDER_ALREADY_FAILED, ORDER_CANCELLING,
 * ORDER_NOT_AT_D1, CHANGE_INVALID).
 */
export const changeOrderUpdate = defineUpdate<ChangeResult, [ChangeRequest]>('changeOrder');
/**
 * Ships a returned card again, to the corrected address given: the order re-orders the card at D1 and tracks it
 * as before. Answers once D1 accepted the new order. The validator refuses at once: RESHIP_INVALID,
 * ORDER_NOT_RETURNED, RESHIP_NOT_ALLOWED (the program ends orders at a return), RESHIP_LIMIT_REACHED,
 * RESHIP_IN_PROGRESS, or the reason of an order that ended.
 */
export const reshipOrderUpdate = defineUpdate<ReshipResult, [ReshipRequest]>('reshipOrder');

/** Failure types an order ends with (`ApplicationFailure.type`), for callers to switch on. */
export const cardOrderFailureTypes = {
  invalid: 'ORDER_INVALID',
  rejected: 'ORDER_REJECTED',
  productionFailed: 'PRODUCTION_FAILED',
  deadlineExceeded: 'PRODUCTION_DEADLINE_EXCEEDED',
  compensationFailed: 'COMPENSATION_FAILED',
} as const;

/** Notifications D1 sent for a card with no running order, kept for a retention period. */
export interface UnmatchedNotificationsInput {
  issuerId: string;
  cardId: string;
  /** How long the record lives after the last notification, in ms. */
  retentionMs: number;
  /** What a previous run kept (continue-as-new). */
  kept?: UnmatchedNotification[];
}

export interface UnmatchedNotification {
  /** Workflow time it arrived (ISO 8601). */
  receivedAt: string;
  operation: Operation;
}

export const unmatchedNotificationsQuery = defineQuery<UnmatchedNotification[]>('unmatchedNotifications');

/** What an operator's redelivery handed on: the dedupe keys of the operations its card's order now has. */
export interface ReleaseUnmatchedRequest {
  keys: string[];
}

/** How many notifications the record still keeps after a release; at 0 the record ends. */
export interface ReleaseUnmatchedResult {
  remaining: number;
}

/** Drops the notifications an operator redelivered to the card's order; the record ends once none remain. */
export const releaseUnmatchedUpdate = defineUpdate<ReleaseUnmatchedResult, [ReleaseUnmatchedRequest]>(
  'releaseUnmatched',
);

/** The reconciliation with D1: its Schedule (RECONCILE_SCHEDULE) or `reconcileNow` starts it on the task queue. */
export const RECONCILE_ORDERS_WORKFLOW = 'reconcileOrders';

/** The id of the task queue's reconciliation Schedule; the runs it starts have ids beginning with it. */
export function reconcileScheduleId(taskQueue: string): string {
  return `reconcile-orders:${taskQueue}`;
}

/**
 * What one reconciliation found, summed over its pages of open orders. Each order listed counts once in `checked`,
 * `failed` or `skipped`; `updated` and `unknownAtD1` are the two kinds of `disagreements`, all among `checked`.
 */
export interface ReconcileCounts {
  /** Orders compared with D1's status of their card. */
  checked: number;
  /** Orders D1 was ahead of, sent D1's status (`d1StatusReport`). */
  updated: number;
  /** Orders whose D1 state disagreed: D1 ahead of them (updated), or D1 not knowing them (unknownAtD1). */
  disagreements: number;
  /** Orders at D1 by their own account that D1 does not know (404, or no operation under the order's id). */
  unknownAtD1: number;
  /** Orders that could not be checked (D1 failing, the order closed or not answering); the next run tries again. */
  failed: number;
  /** Orders not at D1 yet (no D1 operation): nothing to compare. */
  skipped: number;
}

/** An order whose D1 state disagreed with its own: identifiers and stages only, no personal or card data. */
export interface ReconcileDisagreement {
  workflowId: string;
  issuerRequestId: string;
  cardId: string;
  /** The order's tracked D1 PRODUCE operation. */
  operationId: string;
  orderStatus: CardOrderStatus;
  orderStage: string | undefined;
  /** D1's stage of that operation, or `UNKNOWN_AT_D1`. */
  d1Stage: string;
  /** D1's status of that operation (PENDING, SUCCESSFUL, FAILED); undefined when D1 does not know it. */
  d1Status: string | undefined;
  /** Whether D1's status was passed on to the order (`d1StatusReport`). */
  updated: boolean;
  /** When the reconciliation saw it (ISO 8601). */
  detectedAt: string;
}

/** Where a reconciliation stands; carried across continue-as-new. */
export interface ReconcileProgress {
  startedAt: string;
  /** Pages of open orders done so far. */
  pages: number;
  /** Visibility's token for the next page (base64); undefined before the first page and after the last. */
  pageToken: string | undefined;
  counts: ReconcileCounts;
  /** The latest disagreements, oldest first, at most 100 (all of them are counted in `counts`). */
  latestDisagreements: ReconcileDisagreement[];
  /** Disagreement events the issuer endpoint did not take within their retries. */
  undeliveredEvents: number;
}

export interface ReconcileOrdersInput {
  /** Where the previous run of this reconciliation stopped (continue-as-new). */
  carried?: ReconcileProgress | undefined;
}

/** A reconciliation's result: its counts and the latest disagreements. */
export interface ReconcileSummary extends Omit<ReconcileProgress, 'pageToken'> {
  finishedAt: string;
}

/** The campaign workflow type; its id is `campaign:{issuerId}:{campaignId}`. */
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

/**
 * The dead-letter record of one order's issuer events: what the order's outbox had not delivered when the order
 * closed. The order starts it (a child it abandons) under {@link issuerEventsDeadLetterId}; it keeps the events until an
 * operator redelivers them (`card-orders events redeliver`) or its retention ends.
 */
export const ISSUER_EVENTS_DEAD_LETTER_WORKFLOW = 'issuerEventsDeadLetter';

/** The dead-letter record's workflow id: one per order, a form no card-order id takes. */
export function issuerEventsDeadLetterId(orderWorkflowId: string): string {
  return `issuer-events-failed:${orderWorkflowId}`;
}

/** One undelivered issuer event, exactly as the outbox would have posted it (ids and statuses, no PII). */
export interface DeadLetterIssuerEvent {
  eventId: string;
  type: string;
  occurredAt: string;
  status?: string | undefined;
  order: Omit<OrderState, 'timeline'>;
}

export interface IssuerEventsDeadLetterInput {
  orderWorkflowId: string;
  issuerId: string;
  cardId: string;
  /** Oldest first: redelivery keeps the order's order. */
  events: DeadLetterIssuerEvent[];
  /** Why the outbox gave up on them (the last delivery failure's code), for the operator. */
  lastFailure?: string | undefined;
}

/** How long a dead-letter record keeps undelivered issuer events when its start does not say (90 days). */
export const DEFAULT_ISSUER_EVENTS_DEAD_LETTER_RETENTION_MS = 90 * 86_400_000;

/**
 * The dead-letter record's optional second argument. The order starts the record with its input alone (the
 * defaults); tests and operators starting one by hand may shorten its times. It also carries the record across
 * continue-as-new. A second argument rather than new fields of {@link IssuerEventsDeadLetterInput}, which is the
 * order's contract.
 */
export interface IssuerEventsDeadLetterOptions {
  /** How long the record keeps events nobody redelivered before it ends EXPIRED, from its first start. */
  retentionMs?: number | undefined;
  /** Each event's tries per redelivery (default 4 tries, 5 s apart and doubling: about 35 s). */
  redeliveryRetry?: { maximumAttempts: number; initialIntervalMs: number } | undefined;
  /** What the previous run of this record knew (continue-as-new). */
  carried?: IssuerEventsDeadLetterCarried | undefined;
}

export interface IssuerEventsDeadLetterCarried {
  /** When the record was first started (ISO 8601). */
  createdAt: string;
  /** When the retention ends (epoch ms): each run sleeps what is left of it. */
  retentionEndsAt: number;
  /** Events redelivered in earlier runs. */
  delivered: number;
  redeliveries: number;
  lastRedeliveryAt: string | undefined;
}

/**
 * Where the record stands: PENDING (events kept), REDELIVERING (a redelivery posts them now), DELIVERED (all
 * redelivered: the record ends), EXPIRED (the retention ended with events undelivered: the record ends, the events
 * are in its result).
 */
export type IssuerEventsDeadLetterStatus = 'PENDING' | 'REDELIVERING' | 'DELIVERED' | 'EXPIRED';

/** The record as its query and its result show it: ids, types, dates, statuses; the order snapshots hold no PII. */
export interface IssuerEventsDeadLetterView {
  orderWorkflowId: string;
  issuerId: string;
  cardId: string;
  status: IssuerEventsDeadLetterStatus;
  /** The events still undelivered, oldest first, as the order would have posted them. */
  events: DeadLetterIssuerEvent[];
  /** Events redelivered so far (every run). */
  delivered: number;
  redeliveries: number;
  /** The code of the last delivery failure: the outbox's, then the last redelivery's that failed. */
  lastFailure: string | undefined;
  lastRedeliveryAt: string | undefined;
  createdAt: string;
  retentionEndsAt: string;
}

/** The record's result: its last view, with status DELIVERED or EXPIRED. */
export type IssuerEventsDeadLetterResult = IssuerEventsDeadLetterView;

export const issuerEventsDeadLetterQuery = defineQuery<IssuerEventsDeadLetterView>('issuerEventsDeadLetter');

/** What one redelivery did: events posted now, events still kept, and why it stopped when some are. */
export interface RedeliverIssuerEventsResult {
  delivered: number;
  remaining: number;
  /** The failure's code (e.g. ERR_ISSUER_EVENT_DELIVERY) when `remaining` > 0. */
  lastFailure?: string | undefined;
}

/** Why the update's validator refuses a redelivery (the failure's `type`); nothing is written to history. */
export const redeliverIssuerEventsRefusals = {
  /** Every event was redelivered: the record is ending. */
  nothingLeft: 'NOTHING_TO_REDELIVER',
  /** The retention ended: the record is ending with its events in its result. */
  expired: 'DEAD_LETTER_EXPIRED',
} as const;

/**
 * Posts the kept events to the issuer, oldest first, each one once the one before it was taken, stopping at the
 * first the endpoint does not take; answers what it delivered and what is left. Redeliveries run one at a time. Once
 * nothing is left the record completes DELIVERED.
 */
export const redeliverIssuerEventsUpdate = defineUpdate<RedeliverIssuerEventsResult>('redeliverIssuerEvents');
