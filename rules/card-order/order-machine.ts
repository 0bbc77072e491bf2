/**
 * The card order's decisions, as a pure state machine. Events go in (a D1 report, a poll's answer, a cancel
 * request, an activity's outcome, the passing of time); {@link decide} says the one thing to do next (submit,
 * request a cancel, poll, compensate, wait until a time, finish). The state is one plain object, so the workflow
 * carries all of it across continue-as-new, and tests drive days-long timelines without Temporal.
 *
 * Rules that keep replays deterministic: nothing here reads a clock (`now` is passed in), and event functions only
 * mutate the state; the workflow issues every command from its main loop, never from a handler.
 *
 * @module
 */
import type { Address, Operation } from '../../d1/schemas.js';
import type { ReturnPolicy } from '../../orders/program-catalog.js';
import { MAX_REORDERS, reorderRequestId } from '../../orders/reorder-id.js';
import {
  DEFAULT_D1_OUTAGE_MAX_INTERVAL_MS,
  DEFAULT_DELIVERY_WINDOW_MS,
  DEFAULT_RESHIP_WAIT_MS,
  cardOrderFailureTypes,
  changeTypes,
  finalCardOrderStatuses,
  type CampaignCardReport,
  type CampaignSubmission,
  type CancelResult,
  type ChangeRecord,
  type ChangeRequest,
  type ChangeResult,
  type CardOrderStatus,
  type DeliveryView,
  type OrderState,
  type ReshipResult,
  type OrderTimings,
  type TimelineEntry,
} from '../contracts/card-order.js';
import { behaves } from './behaviour.js';
import type { OutboxState } from './issuer-outbox.js';
import { dueDateMs, nextPollAt } from './poll-schedule.js';
import {
  applyReport,
  isKnownStage,
  newProductionState,
  takeEarlyReports,
  trackOperation,
  type ProductionState,
} from './production-tracking.js';

/** Lifecycle events the issuer hears about (one per status change). */
export type IssuerEventType =
  | 'submitted'
  | 'status-changed'
  | 'shipped'
  | 'shipment-updated'
  | 'returned'
  /** A D1 call the order needs went unanswered past ORDER_D1_RETRY_TIMEOUT; once per outage. */
  | 'd1-unreachable'
  /** D1 refused to cancel a card the order was undoing: the card is made after all and tracked to its door. */
  | 'compensation-refused'
  /** A shipped or returned order closed when its delivery window or re-ship wait ran out. */
  | 'completed'
  | 'failed'
  | 'compensated'
  | 'cancelled';

/** An issuer event not yet confirmed delivered; its id is stable across redeliveries and runs. */
export interface PendingIssuerEvent {
  eventId: string;
  type: IssuerEventType;
  status: CardOrderStatus;
  occurredAt: string;
}

/** How the order ended, once it did. */
export interface OrderEnd {
  status: 'SHIPPED' | 'RETURNED' | 'CANCELLED' | 'COMPENSATED' | 'FAILED';
  /** For failed orders: the `ApplicationFailure` the workflow ends with. */
  failure?: { type: string; message: string; code?: string | undefined; d1ErrorCode?: string | undefined };
  /** Whether D1 may still hold something of this order that must be cancelled first. */
  compensate: boolean;
}

export interface OrderMachineState {
  /**
   * The behaviour version the workflow settled for this run (`behaviour.ts`); absent in states carried from runs
   * before versioning, which decide as version 1.
   */
  behaviour?: number | undefined;
  workflowId: string;
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  /** The program the order belongs to (absent in states carried from older runs until the workflow sets it). */
  cardProductId?: string | undefined;
  timings: OrderTimings;
  status: CardOrderStatus;
  startedAt: number;
  submission: {
    /** Every D1 request id sent (or being sent): what compensation must look for at D1. */
    requestIds: string[];
    /** Whether the current D1 order still has to be sent. */
    needed: boolean;
    reorders: number;
    /** When an OUT_OF_STOCK card is re-ordered. */
    reorderAt: number | undefined;
  };
  production: ProductionState;
  poll: { lastNewsAt: number; quietPolls: number; lastPollAt: number | undefined; count: number; failures: number };
  cancel: {
    /** Cancel requests so far; each waits for `results[attempt - 1]`. */
    attempts: number;
    phase: 'IDLE' | 'WANTED' | 'SENT';
    operationId: string | undefined;
    /** A workflow cancel asked for it: the run ends as cancelled if D1 agrees. */
    byWorkflow: boolean;
    results: CancelResult[];
  };
  /** Pull & change requests other than cancel; absent until the first one (and in states carried from older runs). */
  change?: ChangeState | undefined;
  /**
   * Whether the order listens after shipment (delivery window, returns), decided once per run by the workflow: false
   * for runs from before it existed, which end at shipment as they did.
   */
  listensAfterShipment?: boolean | undefined;
  /** What its program does with a returned card; absent: the order ends RETURNED. */
  returnPolicy?: ReturnPolicy | undefined;
  /** After the first shipment: the delivery window, returns and re-ships. */
  delivery?: DeliveryState | undefined;
  /** A campaign card: until `submitBy` its campaign submits it (in a D1 batch); then it submits on its own. */
  campaign?:
    | {
        campaignId: string;
        submitBy: number;
        /** Its place in the campaign, when the campaign keeps records: it reports there once settled. */
        page?: number | undefined;
        slot?: number | undefined;
        reported?: boolean | undefined;
      }
    | undefined;
  end: OrderEnd | undefined;
  compensation: {
    done: boolean;
    failedCode: string | undefined;
    log: string[];
    /** Behaviour `weeks`: the cancel compensation sent, until D1's verdict on it. */
    sent?: { operationId: string; produceOperationId: string | undefined } | undefined;
    /** Behaviour `weeks`: D1 refused the compensation's cancel; the order tracks the card it made after all. */
    refused?: { errorCode: string } | undefined;
  };
  /** Behaviour `weeks`: a D1 call the order needs is unanswered; the order tries it again at `retryAt`. */
  d1Outage?: D1Outage | undefined;
  events: {
    publish: boolean;
    sequence: number;
    pending: PendingIssuerEvent[];
    /** Behaviour `weeks`: the outbox's back-off while the issuer's endpoint fails (`issuer-outbox.ts`). */
    outbox?: OutboxState | undefined;
  };
  /** The search attributes last written, so the workflow upserts only changes. */
  indexed: { status: string; stage: string };
}

/** Accelerate and redirect requests: carried out one at a time, in the order they came. */
export interface ChangeState {
  /** Requests not yet answered, oldest first; the first is the one under way. */
  queue: { id: number; request: ChangeRequest; requestedAt: number }[];
  phase: 'IDLE' | 'WANTED' | 'SENT';
  /** D1's operation id of the request under way, once sent. */
  operationId: string | undefined;
  nextId: number;
  /** Each request's answer, by the id {@link onChangeRequested} gave it. */
  results: Record<number, ChangeResult>;
  log: ChangeRecord[];
  /** The delivery address D1 accepted last; the order's own until then. */
  deliveryAddress: Address | undefined;
}

/** After shipment: the delivery window, a return, re-ships. */
export interface DeliveryState {
  /** When the delivery window of the current shipment closes. */
  windowEndsAt: number | undefined;
  /** When the card came back, while the order is RETURNED. */
  returnedAt: number | undefined;
  returns: number;
  /** Re-ship requests, oldest first; the last one is under way until it has a result. */
  reships: { id: number; requestedAt: number; issuerRequestId: string | undefined; result: ReshipResult | undefined }[];
  /** The corrected address of the last re-ship: where the card goes from then on. */
  address: Address | undefined;
  /** When the current production began: the production deadline counts from the last re-ship. */
  productionStartedAt: number | undefined;
}

/** A D1 outage as one order sees it: the call it cannot get through, since when, and its next try. */
export interface D1Outage {
  step: 'submit' | 'requestCancel' | 'compensate';
  since: number;
  failures: number;
  retryAt: number;
}

export type Step =
  | { kind: 'submit'; issuerRequestId: string }
  | { kind: 'requestCancel'; requestId?: string | undefined }
  | { kind: 'requestChange'; request: ChangeRequest; requestId?: string | undefined }
  | { kind: 'poll'; operationId: string; changeIds: string[] }
  | { kind: 'compensate'; issuerRequestIds: string[]; requestId?: string | undefined }
  | { kind: 'wait'; until: number | undefined }
  | { kind: 'finish' };

/** What an activity's failure tells the machine: our stable code and, when D1 gave one, D1's own. */
export interface StepFailure {
  code: string | undefined;
  d1ErrorCode?: string | undefined;
  /**
   * Whether D1 may answer differently later: the call timed out after retrying its transient failures (5xx, 429,
   * network, auth), as opposed to a permanent answer (a 4xx refusal, our own check). Absent: permanent.
   */
  transient?: boolean | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function newOrderMachine(
  order: { workflowId: string; issuerId: string; cardId: string; issuerRequestId: string },
  timings: OrderTimings,
  publishEvents: boolean,
  now: number,
): OrderMachineState {
  return {
    ...order,
    timings,
    status: 'SUBMITTING',
    startedAt: now,
    submission: { requestIds: [], needed: true, reorders: 0, reorderAt: undefined },
    production: newProductionState(),
    poll: { lastNewsAt: now, quietPolls: 0, lastPollAt: undefined, count: 0, failures: 0 },
    cancel: { attempts: 0, phase: 'IDLE', operationId: undefined, byWorkflow: false, results: [] },
    end: undefined,
    compensation: { done: false, failedCode: undefined, log: [] },
    events: { publish: publishEvents, sequence: 0, pending: [] },
    // The client sets these at start.
    indexed: { status: 'SUBMITTING', stage: 'NONE' },
  };
}

const eventTypes: Partial<Record<CardOrderStatus, IssuerEventType>> = {
  SUBMITTED: 'submitted',
  SHIPPED: 'shipped',
  D1_UNREACHABLE: 'd1-unreachable',
  CANCELLED: 'cancelled',
  COMPENSATED: 'compensated',
  FAILED: 'failed',
  RETURNED: 'returned',
};

function setStatus(s: OrderMachineState, status: CardOrderStatus, now: number): void {
  if (s.status === status) return;
  s.status = status;
  publish(s, eventTypes[status] ?? 'status-changed', now);
}

function publish(s: OrderMachineState, type: IssuerEventType, now: number): void {
  if (!s.events.publish) return;
  s.events.sequence += 1;
  s.events.pending.push({
    eventId: `${s.workflowId}:${s.events.sequence}`,
    type,
    status: s.status,
    occurredAt: iso(now),
  });
}

/** Shipped or returned, the order still open: D1 has nothing left to produce, so nothing to cancel or poll. */
function afterShipment(s: OrderMachineState): boolean {
  return s.end === undefined && (s.status === 'SHIPPED' || s.status === 'RETURNED');
}

function deliveryOf(s: OrderMachineState): DeliveryState {
  return (s.delivery ??= {
    windowEndsAt: undefined,
    returnedAt: undefined,
    returns: 0,
    reships: [],
    address: undefined,
    productionStartedAt: undefined,
  });
}

const deliveryWindowMs = (s: OrderMachineState) => s.timings.deliveryWindowMs ?? DEFAULT_DELIVERY_WINDOW_MS;
/** Whether the order listens after shipment; runs from before the delivery window end at shipment. */
const listens = (s: OrderMachineState) => s.listensAfterShipment === true && deliveryWindowMs(s) > 0;
const reshipWaitMs = (s: OrderMachineState) => s.timings.reshipWaitMs ?? DEFAULT_RESHIP_WAIT_MS;

/** Where the card goes: the last re-ship's address, else the last one D1 accepted in a redirect, else the order's. */
export function currentDeliveryAddress(s: OrderMachineState): Address | undefined {
  return s.delivery?.address ?? s.change?.deliveryAddress;
}

function resolveCancel(s: OrderMachineState, result: CancelResult): void {
  while (s.cancel.results.length < s.cancel.attempts) s.cancel.results.push(result);
  s.cancel.phase = 'IDLE';
  s.cancel.operationId = undefined;
}

/** Why a cancel cannot succeed now, as the update's refusal reason; undefined when it may. */
export function cancelRefusal(s: OrderMachineState): string | undefined {
  if (s.end?.status === 'SHIPPED' || s.status === 'SHIPPED') return 'ORDER_ALREADY_SHIPPED';
  if (s.end?.status === 'RETURNED' || s.status === 'RETURNED') return 'ORDER_ALREADY_RETURNED';
  if (s.end?.status === 'CANCELLED' || s.status === 'CANCELLED') return 'ORDER_ALREADY_CANCELLED';
  if (s.end !== undefined || finalCardOrderStatuses.includes(s.status)) return 'ORDER_ALREADY_FAILED';
  return undefined;
}

/** Why a change cannot succeed now, as the update's refusal reason; undefined when it may. */
export function changeRefusal(s: OrderMachineState, request: unknown): string | undefined {
  if (!isChangeRequest(request)) return 'CHANGE_INVALID';
  const ended = cancelRefusal(s);
  if (ended) return ended;
  if (s.cancel.phase !== 'IDLE') return 'ORDER_CANCELLING';
  const atD1 = s.status !== 'AWAITING_STOCK' && !s.submission.needed && s.production.operationId !== undefined;
  return atD1 ? undefined : 'ORDER_NOT_AT_D1';
}

/** The shape only: the client checked the address against D1's schema and the program's countries. */
function isChangeRequest(value: unknown): value is ChangeRequest {
  if (typeof value !== 'object' || value === null) return false;
  const { type, newDeliveryAddress } = value as Record<string, unknown>;
  if (!(changeTypes as readonly unknown[]).includes(type)) return false;
  const hasAddress = typeof newDeliveryAddress === 'object' && newDeliveryAddress !== null;
  return hasAddress === (type !== 'ACCELERATE');
}

function resolveChange(s: OrderMachineState, result: ChangeResult): void {
  const c = s.change;
  const current = c?.queue.shift();
  if (!c || !current) return;
  c.results[current.id] = result;
  c.log.push({ type: current.request.type, requestedAt: iso(current.requestedAt), ...result });
  if (result.outcome === 'ACCEPTED' && current.request.newDeliveryAddress) {
    c.deliveryAddress = current.request.newDeliveryAddress;
    // The newest address wins: a redirect of a re-shipped card replaces the re-ship's.
    if (s.delivery) s.delivery.address = undefined;
  }
  c.operationId = undefined;
  c.phase = c.queue.length > 0 ? 'WANTED' : 'IDLE';
}

/** Requests still waiting that the order can no longer carry out get `reason`; a cancel gets CANCELLED if it was. */
function answerWaitingRequests(s: OrderMachineState, reason: string, cancelled: boolean): void {
  while (s.change && s.change.queue.length > 0) resolveChange(s, { outcome: 'REJECTED', reason });
  if (s.cancel.attempts > s.cancel.results.length) {
    resolveCancel(s, cancelled ? { outcome: 'CANCELLED' } : { outcome: 'REJECTED', reason });
  }
  answerReship(s, { outcome: 'REJECTED', reason });
}

function endWith(s: OrderMachineState, end: OrderEnd, now: number): void {
  s.end = end;
  // The order is over: requests still waiting are refused for it, a cancel waiting gets how it ended.
  answerWaitingRequests(s, refusalAfterEnd(end.status), end.status === 'CANCELLED');
  s.compensation.done = !end.compensate;
  setStatus(s, end.compensate ? 'COMPENSATING' : end.status, now);
}

/** Why a request to an order that ended this way is refused. */
function refusalAfterEnd(status: OrderEnd['status']): string {
  if (status === 'SHIPPED' || status === 'CANCELLED' || status === 'RETURNED') return `ORDER_ALREADY_${status}`;
  return 'ORDER_ALREADY_FAILED';
}

/** Answers the re-ship under way, if any. */
function answerReship(s: OrderMachineState, result: ReshipResult): void {
  const current = s.delivery?.reships.at(-1);
  if (current && current.result === undefined) current.result = result;
}

/** D1 handed the card to the carrier: the order listens for carrier updates and a return until its window closes. */
function shipped(s: OrderMachineState, now: number): void {
  // An operator who cancelled the workflow before the shipment won the race wants the run to end: no window.
  if (!listens(s) || s.cancel.byWorkflow) return endWith(s, { status: 'SHIPPED', compensate: false }, now);
  if (s.status === 'SHIPPED') return;
  deliveryOf(s).windowEndsAt = now + deliveryWindowMs(s);
  answerWaitingRequests(s, 'ORDER_ALREADY_SHIPPED', false);
  setStatus(s, 'SHIPPED', now);
}

/** D1 reported the card returned: the order ends there, or waits for the issuer's corrected address. */
function returned(s: OrderMachineState, now: number): void {
  if (s.status === 'RETURNED') return;
  const d = deliveryOf(s);
  d.returnedAt = now;
  d.returns += 1;
  d.windowEndsAt = undefined;
  answerWaitingRequests(s, 'ORDER_ALREADY_SHIPPED', false);
  setStatus(s, 'RETURNED', now);
  if (reshipsLeft(s) <= 0 || s.cancel.byWorkflow) endWith(s, { status: 'RETURNED', compensate: false }, now);
}

/** Failures of a submit after which D1 holds no order: our own check refused it, or D1 did (400). */
const refusedBeforeD1Took: readonly string[] = ['ERR_ORDER_INVALID', 'ERR_D1_BAD_REQUEST'];

/** Re-ships the order's program still allows. */
function reshipsLeft(s: OrderMachineState): number {
  const policy = s.returnPolicy;
  if (policy?.action !== 'RESHIP') return 0;
  const done = s.delivery?.reships.filter((r) => r.result?.outcome === 'RESHIPPED').length ?? 0;
  return Math.min(policy.maxReships - done, MAX_REORDERS - s.submission.reorders);
}

/** News from D1 (or a request that D1 will answer): the quiet time before the next poll starts again. */
function restartPollClock(s: OrderMachineState, now: number): void {
  s.poll.lastNewsAt = now;
  s.poll.quietPolls = 0;
}

/**
 * Behaviour `weeks`: a call the order needs went unanswered for ORDER_D1_RETRY_TIMEOUT. That is no answer from D1,
 * so not the order's end: it waits as D1_UNREACHABLE (the issuer hears of it once) and tries again, each wait
 * twice the last, up to `d1OutageMaxIntervalMs`.
 */
function waitOutD1(s: OrderMachineState, step: D1Outage['step'], now: number): void {
  const failures = (s.d1Outage?.failures ?? 0) + 1;
  const cap = s.timings.d1OutageMaxIntervalMs ?? DEFAULT_D1_OUTAGE_MAX_INTERVAL_MS;
  const wait = Math.min(s.timings.d1RetryTimeoutMs * 2 ** Math.min(failures - 1, 30), cap);
  s.d1Outage = { step, since: s.d1Outage?.since ?? now, failures, retryAt: now + wait };
  setStatus(s, 'D1_UNREACHABLE', now);
}

/** When the order next tries `step` while D1 is unreachable; undefined when it may try now. */
function outageRetryAt(s: OrderMachineState, step: D1Outage['step'], now: number): number | undefined {
  const outage = s.d1Outage;
  return outage?.step === step && now < outage.retryAt ? outage.retryAt : undefined;
}

function productionFailed(s: OrderMachineState, now: number): void {
  const failure = s.production.failure;
  const canReorder =
    failure?.errorCode === 'OUT_OF_STOCK' &&
    s.submission.reorders < s.timings.outOfStockMaxReorders &&
    s.cancel.phase === 'IDLE';
  if (canReorder) {
    s.submission.reorderAt = now + s.timings.outOfStockReorderDelayMs;
    setStatus(s, 'AWAITING_STOCK', now);
    return;
  }
  endWith(
    s,
    {
      status: 'COMPENSATED',
      compensate: true,
      failure: {
        type: cardOrderFailureTypes.productionFailed,
        message: `Production failed at ${failure?.stage ?? 'an unknown stage'} with D1 error ${failure?.errorCode ?? 'unknown'}`,
        d1ErrorCode: failure?.errorCode,
      },
    },
    now,
  );
}

/** Brings status and end in line with what production and the cancel request say. */
function settle(s: OrderMachineState, now: number): void {
  settleCompensation(s, now);
  // Before the end: a verdict that came with the shipment report still counts.
  const changeVerdict = s.change?.operationId === undefined ? undefined : s.production.changes[s.change.operationId];
  if (changeVerdict) {
    resolveChange(
      s,
      changeVerdict.status === 'SUCCESSFUL'
        ? { outcome: 'ACCEPTED' }
        : { outcome: 'REJECTED', reason: changeVerdict.errorCode ?? 'CHANGE_REFUSED' },
    );
  }
  if (s.end !== undefined || s.status === 'AWAITING_STOCK') return;
  const p = s.production;
  const verdict = s.cancel.operationId === undefined ? undefined : p.changes[s.cancel.operationId];
  if (p.outcome === 'CANCELLED' || (verdict?.status === 'SUCCESSFUL' && p.outcome === 'IN_PROGRESS')) {
    endWith(s, { status: 'CANCELLED', compensate: false }, now);
    return;
  }
  if (p.outcome === 'SHIPPED') return shipped(s, now);
  if (p.outcome === 'RETURNED') return returned(s, now);
  if (p.outcome === 'FAILED') return productionFailed(s, now);
  if (verdict?.status === 'FAILED')
    resolveCancel(s, { outcome: 'REJECTED', reason: verdict.errorCode ?? 'CANCEL_REFUSED' });
  if (p.operationId === undefined) return;
  if (s.cancel.phase !== 'IDLE') return setStatus(s, 'CANCELLING', now);
  setStatus(s, p.stage !== undefined && p.stage !== 'CARD_PROD_REQUESTED' ? 'IN_PRODUCTION' : 'SUBMITTED', now);
}

/**
 * Behaviour `weeks`: the compensation's cancel counts once D1 says so (its UPDATE_ORDER verdict, or the card
 * reported cancelled). A refusal means the card is being made after all: the order goes on and tracks it to its door.
 */
function settleCompensation(s: OrderMachineState, now: number): void {
  const sent = s.compensation.sent;
  if (!sent || s.compensation.done || !s.end) return;
  const verdict = s.production.changes[sent.operationId];
  if (verdict?.status === 'SUCCESSFUL' || s.production.outcome === 'CANCELLED') {
    s.compensation.sent = undefined;
    s.compensation.done = true;
    s.compensation.log.push('cancelD1Order: cancelled (confirmed by D1)');
    setStatus(s, s.end.status, now);
    return;
  }
  if (verdict?.status !== 'FAILED') return;
  const errorCode = verdict.errorCode ?? 'CANCEL_REFUSED';
  s.compensation.sent = undefined;
  if (s.production.outcome !== 'IN_PROGRESS') {
    // Production had ended already: there is no card left to follow, only a refusal an operator must look at.
    return onCompensationFailed(s, { code: errorCode }, now);
  }
  s.compensation.refused = { errorCode };
  s.compensation.log.push(`cancelD1Order: refused by D1 (${errorCode}); the card is tracked to its door`);
  s.end = undefined;
  s.compensation.done = false;
  if (s.production.operationId === undefined && sent.produceOperationId !== undefined) {
    s.submission.needed = false;
    trackOperation(s.production, sent.produceOperationId);
  }
  publish(s, 'compensation-refused', now);
  restartPollClock(s, now);
}

function applyReports(
  s: OrderMachineState,
  operations: readonly Operation[],
  source: TimelineEntry['source'],
  now: number,
): boolean {
  let changed = false;
  const listening = afterShipment(s) && s.status === 'SHIPPED';
  const shipmentBefore = listening ? JSON.stringify(s.production.shipment) : undefined;
  const options = { strict: behaves(s, 'weeks') };
  for (const op of operations) {
    changed = applyReport(s.production, op, source, iso(now), listens(s), options) || changed;
  }
  adoptSubmission(s, operations, now);
  if (changed) restartPollClock(s, now);
  settle(s, now);
  // A carrier update during the delivery window (tracking, delivery attempts) is news for the issuer too.
  const updated = listening && s.status === 'SHIPPED' && JSON.stringify(s.production.shipment) !== shipmentBefore;
  if (updated) publish(s, 'shipment-updated', now);
  return changed;
}

/**
 * Behaviour `weeks`: while a submit waits out a D1 outage, a report of D1's order under the id we sent (a
 * notification, or the reconciliation's reading) is D1's answer to that submit: the card is at D1, tracked from now.
 */
function adoptSubmission(s: OrderMachineState, operations: readonly Operation[], now: number): void {
  if (s.d1Outage?.step !== 'submit' || !s.submission.needed || s.end !== undefined) return;
  const sent = s.submission.requestIds.at(-1);
  const taken = operations.find((op) => op.operation === 'PRODUCE' && op.issuerRequestId === sent);
  if (taken) onSubmitted(s, taken.operationId, now);
}

/** D1 notifications, as the webhook signalled them. */
export function onNotification(s: OrderMachineState, operations: readonly Operation[], now: number): void {
  applyReports(s, operations, 'notification', now);
}

/**
 * A cancel request (the update, or a workflow cancel). Returns the attempt whose result the caller waits for in
 * `cancel.results`; concurrent requests share one attempt. Call {@link cancelRefusal} first.
 */
export function onCancelRequested(s: OrderMachineState, byWorkflow: boolean, now: number): number {
  s.cancel.byWorkflow ||= byWorkflow;
  if (s.cancel.phase === 'IDLE') {
    s.cancel.attempts += 1;
    s.cancel.phase = 'WANTED';
  }
  const attempt = s.cancel.attempts;
  if (afterShipment(s)) {
    // D1 cannot cancel a card that left production. A workflow cancel stops the listening: the order ends as it is.
    resolveCancel(s, { outcome: 'REJECTED', reason: cancelRefusal(s) ?? 'ORDER_ALREADY_SHIPPED' });
    if (byWorkflow) endWith(s, { status: s.status === 'RETURNED' ? 'RETURNED' : 'SHIPPED', compensate: false }, now);
  } else if (s.end !== undefined) {
    resolveCancel(
      s,
      s.end.status === 'CANCELLED'
        ? { outcome: 'CANCELLED' }
        : { outcome: 'REJECTED', reason: refusalAfterEnd(s.end.status) },
    );
  } else if (s.status === 'AWAITING_STOCK' || (s.submission.requestIds.length === 0 && !s.campaign)) {
    // Nothing live at D1: the failed D1 order is over, or nothing was sent yet.
    endWith(s, { status: 'CANCELLED', compensate: false }, now);
  } else if (s.campaign && s.submission.needed && s.submission.reorders === 0) {
    // Its campaign's batch may have reached D1 or not: submit now (D1 returns the card if the batch made it), so
    // the cancel that follows finds the card wherever it is.
    s.campaign.submitBy = Math.min(s.campaign.submitBy, now);
  } else if (s.production.operationId !== undefined) {
    setStatus(s, 'CANCELLING', now);
  }
  return attempt;
}

export function onSubmitted(s: OrderMachineState, operationId: string, now: number): void {
  s.submission.needed = false;
  s.d1Outage = undefined;
  const reship = s.delivery?.reships.at(-1);
  if (s.delivery && reship?.result === undefined && reship?.issuerRequestId !== undefined) {
    answerReship(s, { outcome: 'RESHIPPED', issuerRequestId: reship.issuerRequestId });
    s.delivery.returnedAt = undefined;
  }
  trackOperation(s.production, operationId);
  restartPollClock(s, now);
  applyReports(s, takeEarlyReports(s.production, operationId), 'notification', now);
}

export function onSubmitFailed(s: OrderMachineState, failure: StepFailure, now: number): void {
  // D1 may hold the order or not: the submit is tried again under the same id, which D1 deduplicates.
  if (failure.transient && behaves(s, 'weeks')) return waitOutD1(s, 'submit', now);
  s.submission.needed = false;
  const reason = failure.d1ErrorCode ?? failure.code ?? 'SUBMIT_FAILED';
  const reship = s.delivery?.reships.at(-1);
  const reshipping = reship !== undefined && reship.result === undefined && reship.issuerRequestId !== undefined;
  if (reshipping && failure.code !== undefined && refusedBeforeD1Took.includes(failure.code)) {
    // The re-ship was refused (its address, most likely) and no D1 order exists: the card stays returned, and the
    // issuer may try another address while the re-ship wait lasts.
    answerReship(s, { outcome: 'REJECTED', reason });
    trackOperation(s.production, undefined);
    s.production.outcome = 'RETURNED';
    setStatus(s, 'RETURNED', now);
    return;
  }
  answerReship(s, { outcome: 'REJECTED', reason });
  const invalid = failure.code === 'ERR_ORDER_INVALID';
  endWith(
    s,
    {
      status: 'FAILED',
      // A submit that timed out may still have reached D1; an order refused as invalid never left us.
      compensate: !invalid,
      failure: {
        type: invalid ? cardOrderFailureTypes.invalid : cardOrderFailureTypes.rejected,
        message: invalid ? 'The order is invalid' : `D1 refused the order (${failure.code ?? 'unknown error'})`,
        code: failure.code,
        d1ErrorCode: failure.d1ErrorCode,
      },
    },
    now,
  );
}

export function onCancelSent(s: OrderMachineState, operationId: string, now: number): void {
  if (s.cancel.phase !== 'WANTED') return;
  s.d1Outage = undefined;
  s.cancel.phase = 'SENT';
  s.cancel.operationId = operationId;
  // D1 answers by notification; if that is lost, the poll clock starts now.
  restartPollClock(s, now);
  settle(s, now);
}

/**
 * An accelerate or redirect request (the update, after its validator: see {@link changeRefusal}). Returns the id
 * under which its answer appears in `change.results`.
 */
export function onChangeRequested(s: OrderMachineState, request: ChangeRequest, now: number): number {
  const c = (s.change ??= {
    queue: [],
    phase: 'IDLE',
    operationId: undefined,
    nextId: 1,
    results: {},
    log: [],
    deliveryAddress: undefined,
  });
  const id = c.nextId++;
  c.queue.push({ id, request, requestedAt: now });
  if (c.phase === 'IDLE') c.phase = 'WANTED';
  return id;
}

export function onChangeSent(s: OrderMachineState, operationId: string, now: number): void {
  if (s.change?.phase !== 'WANTED') return;
  s.change.phase = 'SENT';
  s.change.operationId = operationId;
  restartPollClock(s, now);
  settle(s, now);
}

export function onChangeFailed(s: OrderMachineState, failure: StepFailure, now: number): void {
  resolveChange(s, { outcome: 'REJECTED', reason: failureReason(s, failure, 'CHANGE_REQUEST_FAILED') });
  settle(s, now);
}

export function onCancelFailed(s: OrderMachineState, failure: StepFailure, now: number): void {
  if (failure.transient && s.cancel.byWorkflow && behaves(s, 'weeks')) {
    // An operator's workflow cancel is not dropped for an outage: it is sent again when D1 may answer.
    waitOutD1(s, 'requestCancel', now);
    return;
  }
  resolveCancel(s, { outcome: 'REJECTED', reason: failureReason(s, failure, 'CANCEL_REQUEST_FAILED') });
  settle(s, now);
}

/** The reason a request's caller hears: D1's code, ours, or (behaviour `weeks`) that D1 did not answer. */
function failureReason(s: OrderMachineState, failure: StepFailure, fallback: string): string {
  const unanswered = failure.transient && behaves(s, 'weeks') ? 'D1_UNREACHABLE' : undefined;
  if (unanswered && behaves(s, 'askAgain')) return unanswered;
  return failure.d1ErrorCode ?? unanswered ?? failure.code ?? fallback;
}

export function onPolled(s: OrderMachineState, operations: readonly Operation[], now: number): void {
  s.poll.count += 1;
  s.poll.lastPollAt = now;
  if (!applyReports(s, operations, 'poll', now)) s.poll.quietPolls += 1;
}

/**
 * What the campaign's batch call did with this card. Counts only while the first submission is still due: a word
 * repeated by a retried page, or late after the order submitted on its own, changes nothing.
 */
export function onCampaignSubmission(s: OrderMachineState, submission: CampaignSubmission, now: number): void {
  const due = s.submission.needed && s.submission.reorders === 0 && submission.issuerRequestId === s.issuerRequestId;
  if (!due || s.end !== undefined) return;
  // Ordering itself already (its call may be in flight): that call's answer decides, not a late batch.
  if (behaves(s, 'campaignRecords') && s.campaign && now >= s.campaign.submitBy) return;
  if (submission.outcome === 'ACCEPTED') return onSubmitted(s, submission.operationId, now);
  s.submission.needed = false;
  endWith(
    s,
    {
      status: 'FAILED',
      // D1 refused the card in the batch: nothing was created there.
      compensate: false,
      failure: {
        type: cardOrderFailureTypes.rejected,
        message: `D1 refused the card in its campaign batch (${submission.errorCode})`,
        code: 'ERR_D1_BAD_REQUEST',
        d1ErrorCode: submission.errorCode,
      },
    },
    now,
  );
}

/**
 * The campaign card's report to its campaign, due once, when the card settles (shipped, returned or ended); undefined
 * when none is due. Only cards that know their place report (campaigns that keep records).
 */
export function campaignReportDue(s: OrderMachineState): CampaignCardReport | undefined {
  const c = s.campaign;
  if (c?.page === undefined || c.slot === undefined || c.reported || !behaves(s, 'campaignRecords')) return undefined;
  const status = s.end?.status ?? s.status;
  if (s.end === undefined && status !== 'SHIPPED' && status !== 'RETURNED') return undefined;
  return { page: c.page, slot: c.slot, status };
}

export function onCampaignReported(s: OrderMachineState): void {
  if (s.campaign) s.campaign.reported = true;
}

/** Why a re-ship cannot be carried out now, as the update's refusal reason; undefined when it can. */
export function reshipRefusal(s: OrderMachineState, request: unknown): string | undefined {
  const address = (request as { newDeliveryAddress?: unknown } | null)?.newDeliveryAddress;
  if (typeof address !== 'object' || address === null) return 'RESHIP_INVALID';
  if (s.end !== undefined) return refusalAfterEnd(s.end.status);
  if (s.status !== 'RETURNED') return 'ORDER_NOT_RETURNED';
  if (s.returnPolicy?.action !== 'RESHIP') return 'RESHIP_NOT_ALLOWED';
  if (s.delivery?.reships.some((r) => r.result === undefined)) return 'RESHIP_IN_PROGRESS';
  return reshipsLeft(s) > 0 ? undefined : 'RESHIP_LIMIT_REACHED';
}

/**
 * A re-ship of a returned card (the update, after {@link reshipRefusal}): the card is ordered again from D1, to
 * `address`. Returns the id under which its answer appears in {@link reshipResult}.
 */
export function onReshipRequested(s: OrderMachineState, address: Address, now: number): number {
  const d = deliveryOf(s);
  const id = d.reships.length + 1;
  d.reships.push({ id, requestedAt: now, issuerRequestId: undefined, result: undefined });
  d.address = address;
  return id;
}

export function reshipResult(s: OrderMachineState, id: number): ReshipResult | undefined {
  return s.delivery?.reships.find((r) => r.id === id)?.result;
}

/** D1's status as the reconciliation read it: a poll's answer that the order did not ask for (not counted). */
export function onStatusReport(s: OrderMachineState, operations: readonly Operation[], now: number): void {
  applyReports(s, operations, 'reconcile', now);
}

/** A poll that failed is a fallback that failed: counted, retried later, never fatal. */
export function onPollFailed(s: OrderMachineState, now: number): void {
  s.poll.count += 1;
  s.poll.failures += 1;
  s.poll.lastPollAt = now;
  s.poll.quietPolls += 1;
}

export function onCompensated(
  s: OrderMachineState,
  cancelledAtD1: boolean,
  now: number,
  sent?: { operationId?: string | undefined; produceOperationId?: string | undefined },
): void {
  s.d1Outage = undefined;
  if (cancelledAtD1 && sent?.operationId !== undefined && behaves(s, 'weeks')) {
    // D1 took the cancel; whether the center could still stop the card, only its verdict says.
    s.compensation.sent = { operationId: sent.operationId, produceOperationId: sent.produceOperationId };
    s.compensation.log.push('cancelD1Order: cancel requested, waiting for D1 verdict');
    restartPollClock(s, now);
    settleCompensation(s, now);
    return;
  }
  s.compensation.done = true;
  s.compensation.log.push(cancelledAtD1 ? 'cancelD1Order: cancelled' : 'cancelD1Order: nothing live to cancel');
  if (s.end) setStatus(s, s.end.status, now);
}

export function onCompensationFailed(s: OrderMachineState, failure: StepFailure, now: number): void {
  // What was made at D1 must not go untracked for an outage: the compensation is tried again.
  if (failure.transient && behaves(s, 'weeks')) return waitOutD1(s, 'compensate', now);
  s.compensation.done = true;
  s.compensation.failedCode = failure.code ?? 'UNKNOWN';
  s.compensation.log.push(`cancelD1Order: failed (${s.compensation.failedCode})`);
  setStatus(s, 'COMPENSATION_FAILED', now);
}

export function onEventsPublished(s: OrderMachineState, eventIds: readonly string[]): void {
  s.events.pending = s.events.pending.filter((event) => !eventIds.includes(event.eventId));
}

/** When the order next polls D1, while it waits on D1 at all. */
export function plannedPollAt(s: OrderMachineState): number | undefined {
  const waitingOnD1 =
    s.end === undefined &&
    !afterShipment(s) &&
    s.status !== 'AWAITING_STOCK' &&
    !s.submission.needed &&
    s.production.operationId !== undefined;
  if (s.end !== undefined && s.compensation.sent && !s.compensation.done) return verdictPollAt(s);
  if (!waitingOnD1) return undefined;
  // Someone waits on D1's verdict: poll for it sooner, and regardless of D1's expected shipment date.
  if (s.cancel.phase === 'SENT' || s.change?.phase === 'SENT') return verdictPollAt(s);
  return nextPollAt(s.poll, s.timings, dueDateMs(s.production.dueDate));
}

/**
 * The one thing to do next at time `now`. Applies what the passing of time decides (the deadline, a re-order
 * that is due) before answering.
 */
export function decide(s: OrderMachineState, now: number): Step {
  if (s.end !== undefined) {
    if (s.compensation.done) return { kind: 'finish' };
    if (s.compensation.sent) return awaitCompensationVerdict(s, s.compensation.sent, now);
    const retryAt = outageRetryAt(s, 'compensate', now);
    if (retryAt !== undefined) return { kind: 'wait', until: retryAt };
    const requestId = updateRequestId(s, `x${s.compensation.log.length + 1}`);
    return { kind: 'compensate', issuerRequestIds: [...s.submission.requestIds], ...(requestId && { requestId }) };
  }
  if (afterShipment(s)) {
    const step = decideAfterShipment(s, now);
    if (step) return step;
  }
  // A card D1 would not cancel is followed to its door, however long that takes.
  const deadlineAt = s.compensation.refused
    ? Number.POSITIVE_INFINITY
    : (s.delivery?.productionStartedAt ?? s.startedAt) + s.timings.productionDeadlineMs;
  if (now >= deadlineAt) {
    endWith(
      s,
      {
        status: 'COMPENSATED',
        compensate: s.submission.requestIds.length > 0,
        failure: {
          type: cardOrderFailureTypes.deadlineExceeded,
          message: `No outcome from D1 within the production deadline of ${s.timings.productionDeadlineMs} ms`,
        },
      },
      now,
    );
    return decide(s, now);
  }
  if (s.status === 'AWAITING_STOCK') {
    const reorderAt = s.submission.reorderAt ?? now;
    if (now < reorderAt) return { kind: 'wait', until: Math.min(reorderAt, deadlineAt) };
    s.submission.reorders += 1;
    s.submission.reorderAt = undefined;
    s.submission.needed = true;
    trackOperation(s.production, undefined);
    setStatus(s, 'SUBMITTING', now);
  }
  if (s.submission.needed) {
    const { reorders } = s.submission;
    const issuerRequestId = reorders === 0 ? s.issuerRequestId : reorderRequestId(s.issuerRequestId, reorders);
    if (!s.submission.requestIds.includes(issuerRequestId)) s.submission.requestIds.push(issuerRequestId);
    // The campaign's batch carries the first submission; the order only waits for its word, for a while.
    if (reorders === 0 && s.campaign && now < s.campaign.submitBy) {
      return { kind: 'wait', until: Math.min(s.campaign.submitBy, deadlineAt) };
    }
    const retryAt = outageRetryAt(s, 'submit', now);
    if (retryAt !== undefined) return { kind: 'wait', until: Math.min(retryAt, deadlineAt) };
    return { kind: 'submit', issuerRequestId };
  }
  if (s.cancel.phase === 'WANTED') {
    const retryAt = outageRetryAt(s, 'requestCancel', now);
    if (retryAt !== undefined) return { kind: 'wait', until: Math.min(retryAt, deadlineAt) };
    const requestId = updateRequestId(s, `c${s.cancel.attempts}`);
    return { kind: 'requestCancel', ...(requestId && { requestId }) };
  }
  const change = s.change?.phase === 'WANTED' ? s.change.queue[0] : undefined;
  if (change) {
    const requestId = updateRequestId(s, `u${change.id}`);
    return { kind: 'requestChange', request: change.request, ...(requestId && { requestId }) };
  }
  const pollAt = plannedPollAt(s);
  if (pollAt !== undefined && now >= pollAt && s.production.operationId !== undefined) {
    return {
      kind: 'poll',
      operationId: s.production.operationId,
      changeIds: [s.cancel.operationId, s.change?.operationId].filter((id) => id !== undefined),
    };
  }
  const until = Math.min(pollAt ?? deadlineAt, deadlineAt);
  return { kind: 'wait', until: Number.isFinite(until) ? until : undefined };
}

/**
 * Behaviour `weeks`: the identity D1 deduplicates one Pull & change request on (a cancel, a change, a compensation),
 * the same however often the order sends it again, an outage included: `{issuerRequestId}-{what}`. Undefined for
 * older runs, and where it would not fit D1's 64 characters (the activity then derives one per scheduled call).
 */
function updateRequestId(s: OrderMachineState, what: string): string | undefined {
  const id = `${s.issuerRequestId}-${what}`;
  return behaves(s, 'weeks') && id.length <= 64 ? id : undefined;
}

/** Behaviour `weeks`: polls for D1's verdict on the compensation's cancel while its notification has not come. */
function awaitCompensationVerdict(
  s: OrderMachineState,
  sent: NonNullable<OrderMachineState['compensation']['sent']>,
  now: number,
): Step {
  const pollAt = verdictPollAt(s);
  const operationId = s.production.operationId ?? sent.produceOperationId ?? sent.operationId;
  if (now >= pollAt) return { kind: 'poll', operationId, changeIds: [sent.operationId] };
  return { kind: 'wait', until: pollAt };
}

/** Someone waits on D1's verdict (a cancel, a change, a compensation): poll for it sooner than production's back-off. */
function verdictPollAt(s: OrderMachineState): number {
  const { changeVerdictTimeoutMs: wait, pollMaxIntervalMs } = s.timings;
  return nextPollAt(s.poll, { notificationTimeoutMs: wait, pollIntervalMs: wait, pollMaxIntervalMs });
}

/**
 * The step of a shipped or returned order: wait out the delivery window (one timer, no polls), or the re-ship wait,
 * then end. Undefined once a re-ship turned it back into an order to submit.
 */
function decideAfterShipment(s: OrderMachineState, now: number): Step | undefined {
  const d = deliveryOf(s);
  if (s.status === 'SHIPPED') {
    const until = d.windowEndsAt ?? now;
    if (now < until) return { kind: 'wait', until };
    publish(s, 'completed', now);
    endWith(s, { status: 'SHIPPED', compensate: false }, now);
    return decide(s, now);
  }
  const reship = d.reships.at(-1);
  if (reship && reship.result === undefined && reship.issuerRequestId === undefined) {
    s.submission.reorders += 1;
    s.submission.needed = true;
    reship.issuerRequestId = reorderRequestId(s.issuerRequestId, s.submission.reorders);
    trackOperation(s.production, undefined);
    d.productionStartedAt = now;
    restartPollClock(s, now);
    setStatus(s, 'SUBMITTING', now);
    return undefined;
  }
  const until = (d.returnedAt ?? now) + reshipWaitMs(s);
  if (now < until) return { kind: 'wait', until };
  publish(s, 'completed', now);
  endWith(s, { status: 'RETURNED', compensate: false }, now);
  return decide(s, now);
}

function deliveryView(s: OrderMachineState): DeliveryView | undefined {
  const d = s.delivery;
  if (!d) return undefined;
  const waitsForReship = s.status === 'RETURNED' && s.end === undefined && d.returnedAt !== undefined;
  return {
    windowEndsAt: s.status === 'SHIPPED' && d.windowEndsAt !== undefined ? iso(d.windowEndsAt) : undefined,
    returnedAt: d.returnedAt === undefined ? undefined : iso(d.returnedAt),
    reshipWaitEndsAt: waitsForReship ? iso((d.returnedAt ?? 0) + reshipWaitMs(s)) : undefined,
    returns: d.returns,
    reships: d.reships.map((r) => ({
      requestedAt: iso(r.requestedAt),
      outcome: r.result?.outcome ?? 'PENDING',
      ...(r.issuerRequestId !== undefined && { issuerRequestId: r.issuerRequestId }),
      ...(r.result?.reason !== undefined && { reason: r.result.reason }),
    })),
  };
}

/** The order as queries, results and failure details show it. */
export function orderView(s: OrderMachineState): OrderState {
  const p = s.production;
  const pollAt = plannedPollAt(s);
  return {
    issuerId: s.issuerId,
    cardId: s.cardId,
    issuerRequestId: s.issuerRequestId,
    ...(s.cardProductId !== undefined && { cardProductId: s.cardProductId }),
    status: s.status,
    stage: p.stage,
    operationId: p.operationId,
    dueDate: p.dueDate,
    shipment: p.shipment,
    failure: p.failure,
    timeline: p.timeline,
    attempts: {
      submissions: s.submission.requestIds.length,
      reorders: s.submission.reorders,
      polls: s.poll.count,
      pollFailures: s.poll.failures,
    },
    lastPollAt: s.poll.lastPollAt === undefined ? undefined : iso(s.poll.lastPollAt),
    nextPollAt: pollAt === undefined ? undefined : iso(pollAt),
    compensations: s.compensation.log,
    ...(s.d1Outage && {
      d1Unreachable: {
        step: s.d1Outage.step,
        since: iso(s.d1Outage.since),
        failures: s.d1Outage.failures,
        nextTryAt: iso(s.d1Outage.retryAt),
      },
    }),
    ...(s.change && { changes: s.change.log }),
    ...(s.delivery && { delivery: deliveryView(s) }),
  };
}

/** A timer armed this recently is kept when the wake-up moves later: it was armed during a burst of news. */
export const TIMER_REARM_AFTER_MS = 60_000;

/**
 * Whether the workflow's one timer (firing at `timer.at`) must be replaced to wake at `at`. An earlier wake-up
 * always replaces it. A later one replaces it (cancel and start: 2 history events) unless the timer was armed
 * less than {@link TIMER_REARM_AFTER_MS} ago: notifications in a burst keep it, and when it fires early the loop
 * waits on (5 events, once for the whole burst).
 */
export function shouldRearm(timer: { at: number; armedAt: number }, at: number, now: number): boolean {
  if (at === timer.at) return false;
  return at < timer.at || now - timer.armedAt >= TIMER_REARM_AFTER_MS;
}

/** The search attributes the order should have now; the workflow upserts those that differ from `indexed`. */
export function searchAttributeValues(s: OrderMachineState): OrderMachineState['indexed'] {
  const stage = s.production.stage ?? 'NONE';
  // A stage D1 added later is text we do not know: visibility is not encrypted, so it is indexed as UNKNOWN only.
  const indexable = stage === 'NONE' || isKnownStage(stage) || !behaves(s, 'weeks');
  return { status: s.status, stage: indexable ? stage : 'UNKNOWN' };
}

/** The live "current details" line of Web UI (markdown). */
export function describeOrder(s: OrderMachineState): string {
  const words: Record<CardOrderStatus, string> = {
    VALIDATING: 'Checking the order against its program',
    SUBMITTING: 'Sending the order to D1',
    SUBMITTED: 'Accepted by D1, waiting for production to start',
    IN_PRODUCTION: 'In production',
    AWAITING_STOCK: 'D1 is out of stock; the card will be re-ordered',
    CANCELLING: 'Cancel requested from D1, waiting for its verdict',
    D1_UNREACHABLE: `D1 does not answer; the order tries again${
      s.d1Outage ? ` at ${iso(s.d1Outage.retryAt)} (unanswered since ${iso(s.d1Outage.since)})` : ''
    }`,
    SHIPPED: `Shipped${s.production.shipment?.carrier ? ` with ${s.production.shipment.carrier}` : ''}${
      afterShipment(s) && s.delivery?.windowEndsAt !== undefined
        ? `; listening for carrier updates until ${iso(s.delivery.windowEndsAt)}`
        : ''
    }`,
    RETURNED:
      afterShipment(s) && reshipsLeft(s) > 0
        ? 'The card came back undelivered; waiting for the issuer to re-ship it to a corrected address'
        : 'The card came back undelivered',
    CANCELLED: 'Cancelled at D1',
    COMPENSATING: 'Undoing the order at D1',
    COMPENSATED: 'The order failed; it was undone at D1 and the issuer told',
    COMPENSATION_FAILED: 'The order failed and could not be undone at D1: an operator must check it',
    FAILED: 'Failed',
  };
  const stage = s.production.stage ? ` (D1 stage ${s.production.stage})` : '';
  const failure = s.production.failure ? `, error ${s.production.failure.errorCode}` : '';
  const reorders = s.submission.reorders > 0 ? `, re-ordered ${s.submission.reorders}x` : '';
  return `**${s.status}**: ${words[s.status]}${stage}${failure}${reorders}`;
}
