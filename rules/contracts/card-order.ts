/**
 * What the card-order workflows share with their callers (client library, webhook, campaign, tests): inputs,
 * results, the order's one status field, and the signals, queries and updates it answers. Callers import this file,
 * never a workflow body.
 *
 * @module
 */
import type { Address } from '../../d1/schemas.js';
import type { Operation, ShipmentTracking } from '../../d1/report-schemas.js';
import type { OrderFingerprint } from '../../orders/fingerprint.js';
import type { ReturnPolicy } from '../../orders/program-catalog.js';
import type { CardOrder } from '../../orders/schema.js';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

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

/**
 * A card order's input. `Carried` is the state a run hands to the next (continue-as-new): the order machine's, set by
 * the workflow alone, so callers' inputs carry none (`never`) and this contract needs nothing of the machine.
 */
export interface CardOrderInput<Carried = never> {
  order: CardOrder;
  timings: OrderTimings;
  /** Whether lifecycle events go to the issuer (ISSUER_EVENTS_URL is set). */
  publishEvents: boolean;
  /** The whole state of the previous run, when this run continues it (continue-as-new). */
  carried?: Carried;
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
