/**
 * FROZEN: the first card-order workflow (type `cardOrder`). New orders run `cardOrderV2`; this code stays, unchanged,
 * so that orders started before it finish and their histories replay. Do not edit it: any change to the commands
 * it issues breaks running orders. Delete it once no `cardOrder` run is open (see docs/production.md, "Upgrading").
 *
 * One physical card order, from validation to the cardholder's door: a saga. It validates the order, submits it
 * to D1 (the compensation is registered first: a timed-out submit may still have been accepted), tracks
 * production through `d1Notification` signals with timed status polls as the fallback, and on a production
 * failure or a missed deadline compensates in reverse order and tells the issuer.
 *
 * @module
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CardOrderActivities, IssuerEventType } from '../../activities/index.js';
import type { Operation } from '../../d1/report-schemas.js';
import { cancelOrderUpdate, cardOrderFailureTypes, d1NotificationSignal } from '../../rules/contracts/card-order.js';
import type { CancelResult } from '../../rules/contracts/card-order.js';
import type {
  CardOrderInputV1 as CardOrderInput,
  CardOrderResultV1 as CardOrderResult,
  CardOrderStatusV1 as CardOrderStatus,
  CarriedStateV1 as CarriedState,
  OrderStateV1 as OrderState,
} from '../../rules/legacy/definitions-v1.js';
import { orderStateQueryV1 as orderStateQuery } from '../../rules/legacy/definitions-v1.js';
import {
  applyOperation,
  initialTrackingState,
  trackOperation,
  type TimelineEntry,
  type TrackingOutcome,
} from '../../rules/legacy/order-tracking-v1.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  issuerRequestIdKey,
  productionStageKey,
} from '../../rules/contracts/search-attributes.js';

/** D1 error codes that no retry can fix: the order fails at once. */
const permanentErrorTypes = [
  'ERR_ORDER_INVALID',
  'ERR_SENSITIVE_DATA_INVALID',
  'ERR_KEY_INVALID',
  'ERR_D1_BAD_REQUEST',
  'ERR_D1_UNAUTHORIZED',
  'ERR_D1_FORBIDDEN',
  'ERR_D1_NOT_FOUND',
  'ERR_D1_CONFLICT',
  'ERR_D1_TOKEN_REJECTED',
  'ERR_D1_INVALID_RESPONSE',
];

const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  nonRetryableErrorTypes: permanentErrorTypes,
};

const { validateOrder } = proxyActivities<CardOrderActivities>({ startToCloseTimeout: '30s', retry });
const DEFAULT_D1_RETRY_TIMEOUT_MS = 15 * 60_000;

/** The D1 activities, their transient failures retried for `retryTimeoutMs`; the order fails past it. */
function d1Activities(retryTimeoutMs: number) {
  return proxyActivities<CardOrderActivities>({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: retryTimeoutMs,
    retry,
  });
}
const { publishIssuerEvent } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { ...retry, maximumInterval: '5m' },
});

/** The D1 request id of the n-th re-order: D1 returns the original order for a reused id, so each needs its own. */
export function reorderRequestId(issuerRequestId: string, reorder: number): string {
  const suffix = `-r${reorder}`;
  return `${issuerRequestId.slice(0, 64 - suffix.length)}${suffix}`;
}

/** Why a cancel is refused once production ended, in the order's own status words (e.g. ORDER_ALREADY_SHIPPED). */
function endedReason(outcome: Exclude<TrackingOutcome, 'IN_PROGRESS'>): string {
  const status: Record<typeof outcome, CardOrderStatus> = {
    SHIPPED: 'SHIPPED',
    FAILED: 'FAILED',
    CANCELLED: 'CANCELLED',
  };
  return `ORDER_ALREADY_${status[outcome]}`;
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

export async function cardOrder(input: CardOrderInput): Promise<CardOrderResult> {
  const { order, timings } = input;
  const { workflowId } = workflowInfo();
  const { submitOrder, fetchOrderStatus, requestOrderCancel, cancelD1Order } = d1Activities(
    timings.d1RetryTimeoutMs ?? DEFAULT_D1_RETRY_TIMEOUT_MS,
  );
  const state: CarriedState = input.carried ?? {
    status: 'VALIDATING',
    tracking: initialTrackingState(),
    startedAt: Date.now(),
    reorders: 0,
    submittedRequestIds: [],
    lastPollAt: undefined,
    polls: 0,
    pendingCancel: undefined,
  };
  const compensationsRun: string[] = [];
  const pendingEvents: Promise<void>[] = [];
  const inbox: Operation[] = [];
  /** Set when a cancel was requested: the tracker polls at once, in case D1's answer is never notified. */
  let cancelRequested = false;

  const stateView = (): OrderState => ({
    issuerId: order.issuerId,
    cardId: order.cardId,
    issuerRequestId: order.issuerRequestId,
    status: state.status,
    stage: state.tracking.stage,
    operationId: state.tracking.operationId,
    shipment: state.tracking.shipment,
    failure: state.tracking.failure,
    timeline: state.tracking.timeline,
    attempts: { submissions: state.submittedRequestIds.length, reorders: state.reorders, polls: state.polls },
    lastPollAt: state.lastPollAt,
    compensations: compensationsRun,
  });

  function describe(): string {
    const stage = state.tracking.stage ? ` (D1 stage ${state.tracking.stage})` : '';
    const words: Record<CardOrderStatus, string> = {
      VALIDATING: 'Checking the order against its program',
      SUBMITTING: 'Sending the order to D1',
      SUBMITTED: 'Accepted by D1, waiting for production to start',
      IN_PRODUCTION: 'In production',
      SHIPPED: `Shipped${state.tracking.shipment?.carrier ? ` with ${state.tracking.shipment.carrier}` : ''}`,
      CANCELLING: 'Cancel requested from D1',
      CANCELLED: 'Cancelled at D1',
      COMPENSATING: 'Production failed; undoing the order',
      COMPENSATED: 'Production failed; the order was undone and the issuer told',
      FAILED: 'Failed',
    };
    const failure = state.tracking.failure ? `, error ${state.tracking.failure.errorCode}` : '';
    const reorders = state.reorders > 0 ? `, re-ordered ${state.reorders}x` : '';
    return `**${state.status}**: ${words[state.status]}${stage}${failure}${reorders}`;
  }

  function setStatus(status: CardOrderStatus): void {
    state.status = status;
    upsertSearchAttributes([
      { key: cardOrderStatusKey, value: status },
      { key: productionStageKey, value: state.tracking.stage ?? 'NONE' },
    ]);
    setCurrentDetails(describe());
  }

  function publish(type: IssuerEventType): void {
    if (!input.publishEvents) return;
    // Stable ids: the same lifecycle step is the same event, however often it is delivered.
    const eventId = [workflowId, type, state.tracking.operationId ?? '-', state.tracking.stage ?? '-'].join(':');
    const delivery = publishIssuerEvent({ eventId, type, order: stateView(), occurredAt: new Date().toISOString() });
    // An issuer endpoint down for a day must not fail a shipped order: the event is logged as lost instead.
    pendingEvents.push(delivery.catch((err: unknown) => log.error('Issuer event not delivered', { eventId, err })));
  }

  function applyReports(operations: readonly Operation[], source: TimelineEntry['source']): void {
    const now = new Date().toISOString();
    let changed = false;
    for (const op of operations) changed = applyOperation(state.tracking, op, source, now) || changed;
    if (!changed) return;
    if (state.tracking.outcome === 'IN_PROGRESS' && state.status !== 'CANCELLING') {
      setStatus(state.tracking.stage && state.tracking.stage !== 'CARD_PROD_REQUESTED' ? 'IN_PRODUCTION' : 'SUBMITTED');
    } else {
      setCurrentDetails(describe());
      upsertSearchAttributes([{ key: productionStageKey, value: state.tracking.stage ?? 'NONE' }]);
    }
    publish('status-changed');
  }

  setHandler(d1NotificationSignal, ({ operations }) => {
    inbox.push(...operations);
  });
  setHandler(orderStateQuery, stateView);
  setHandler(cancelOrderUpdate, async (): Promise<CancelResult> => {
    await condition(() => state.tracking.operationId !== undefined || state.tracking.outcome !== 'IN_PROGRESS');
    if (state.tracking.outcome !== 'IN_PROGRESS')
      return { outcome: 'REJECTED', reason: endedReason(state.tracking.outcome) };
    const before = state.status;
    setStatus('CANCELLING');
    let operationId: string;
    try {
      ({ operationId } = await requestOrderCancel({ issuerId: order.issuerId, cardId: order.cardId }));
    } catch (err) {
      setStatus(before);
      return { outcome: 'REJECTED', reason: failureType(err) ?? 'CANCEL_REQUEST_FAILED' };
    }
    state.pendingCancel = operationId;
    cancelRequested = true;
    await condition(
      () => state.tracking.updates[operationId] !== undefined || state.tracking.outcome !== 'IN_PROGRESS',
    );
    state.pendingCancel = undefined;
    const update = state.tracking.updates[operationId];
    // Read afresh: the wait above let signals change it.
    const outcome = state.tracking.outcome as TrackingOutcome;
    if (update?.status === 'SUCCESSFUL' || outcome === 'CANCELLED') return { outcome: 'CANCELLED' };
    if (outcome === 'IN_PROGRESS') setStatus(before);
    // Production may end (e.g. ship) before D1's verdict on the cancel arrives: that end is the answer.
    const ended = outcome === 'IN_PROGRESS' ? undefined : endedReason(outcome);
    return { outcome: 'REJECTED', reason: update?.errorCode ?? ended ?? 'ORDER_NOT_CANCELABLE' };
  });

  /** Waits for notifications, polling once they are late, until production ends or the deadline passes. */
  async function track(): Promise<'DONE' | 'DEADLINE'> {
    const deadlineAt = state.startedAt + timings.productionDeadlineMs;
    let late = false;
    for (;;) {
      applyReports(inbox.splice(0), 'notification');
      if (state.tracking.outcome !== 'IN_PROGRESS') return 'DONE';
      if (Date.now() >= deadlineAt) return 'DEADLINE';
      if (workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await Promise.all(pendingEvents);
        await continueAsNew<typeof cardOrder>({ ...input, carried: { ...state, tracking: state.tracking } });
      }
      const polling = late || state.pendingCancel !== undefined;
      const waitMs = Math.min(
        polling ? timings.pollIntervalMs : timings.notificationTimeoutMs,
        deadlineAt - Date.now(),
      );
      // A notification cuts any wait short; a cancel request ends it with a poll.
      const woken = await condition(() => inbox.length > 0 || cancelRequested, Math.max(waitMs, 1));
      if (woken && !cancelRequested) {
        late = false;
        continue;
      }
      cancelRequested = false;
      if (Date.now() >= deadlineAt) continue;
      late = true;
      const { operations } = await fetchOrderStatus({ issuerId: order.issuerId, cardId: order.cardId });
      state.polls += 1;
      state.lastPollAt = new Date().toISOString();
      applyReports(operations, 'poll');
    }
  }

  async function submit(): Promise<void> {
    const issuerRequestId =
      state.reorders === 0 ? order.issuerRequestId : reorderRequestId(order.issuerRequestId, state.reorders);
    setStatus('SUBMITTING');
    state.submittedRequestIds.push(issuerRequestId);
    const { operationId } = await submitOrder({ order, issuerRequestId });
    trackOperation(state.tracking, operationId);
    setStatus('SUBMITTED');
    publish('submitted');
  }

  async function run(): Promise<CardOrderResult> {
    if (!input.carried) {
      upsertSearchAttributes([
        { key: issuerIdKey, value: order.issuerId },
        { key: cardIdKey, value: order.cardId },
        { key: issuerRequestIdKey, value: order.issuerRequestId },
      ]);
      setStatus('VALIDATING');
      await validateOrder(order);
    }
    for (;;) {
      if (state.tracking.operationId === undefined) await submit();
      if ((await track()) === 'DEADLINE') {
        throw ApplicationFailure.nonRetryable(
          `No outcome from D1 within the production deadline of ${timings.productionDeadlineMs} ms`,
          cardOrderFailureTypes.deadlineExceeded,
          { operationId: state.tracking.operationId, stage: state.tracking.stage },
        );
      }
      const { outcome, failure, operationId } = state.tracking;
      if (outcome === 'SHIPPED' || outcome === 'CANCELLED') {
        const shipped = outcome === 'SHIPPED';
        setStatus(shipped ? 'SHIPPED' : 'CANCELLED');
        publish(shipped ? 'shipped' : 'cancelled');
        return {
          status: shipped ? 'SHIPPED' : 'CANCELLED',
          operationId: operationId ?? '',
          shipment: state.tracking.shipment,
          timeline: state.tracking.timeline,
        };
      }
      if (failure?.errorCode === 'OUT_OF_STOCK' && state.reorders < timings.outOfStockMaxReorders) {
        state.reorders += 1;
        log.info('D1 is out of stock; re-ordering after a delay', { reorder: state.reorders });
        publish('status-changed');
        await sleep(timings.outOfStockReorderDelayMs);
        state.tracking.operationId = undefined;
        continue;
      }
      throw ApplicationFailure.nonRetryable(
        `Production failed at ${failure?.stage ?? 'an unknown stage'} with D1 error ${failure?.errorCode ?? 'unknown'}`,
        cardOrderFailureTypes.productionFailed,
        { d1ErrorCode: failure?.errorCode, stage: failure?.stage, operationId },
      );
    }
  }

  /** Undoes what the order did at D1, newest first, even when the workflow itself is being cancelled. */
  async function compensate(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      if (state.submittedRequestIds.length > 0) {
        const { cancelled } = await cancelD1Order({
          issuerId: order.issuerId,
          cardId: order.cardId,
          issuerRequestIds: state.submittedRequestIds,
        });
        compensationsRun.push(cancelled ? 'cancelD1Order: cancelled' : 'cancelD1Order: nothing live to cancel');
      }
    });
  }

  try {
    const result = await run();
    await condition(allHandlersFinished);
    await Promise.all(pendingEvents);
    return result;
  } catch (err) {
    // Continue-as-new ends this run by throwing; it is not a failure.
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      await compensate();
      await CancellationScope.nonCancellable(async () => {
        setStatus('CANCELLED');
        publish('cancelled');
        await Promise.all(pendingEvents);
      });
      throw err;
    }
    const type = failureType(err);
    if (type === cardOrderFailureTypes.productionFailed || type === cardOrderFailureTypes.deadlineExceeded) {
      setStatus('COMPENSATING');
      await compensate();
      setStatus('COMPENSATED');
      publish('compensated');
      await Promise.all(pendingEvents);
      throw err;
    }
    // Validation or D1 refused the order: nothing reached production, but a submit that timed out may have.
    await compensate();
    setStatus('FAILED');
    publish('failed');
    await Promise.all(pendingEvents);
    const invalid = type === 'ERR_ORDER_INVALID';
    throw ApplicationFailure.create({
      message: invalid ? 'The order is invalid' : `D1 refused the order (${type ?? 'unknown error'})`,
      type: invalid ? cardOrderFailureTypes.invalid : cardOrderFailureTypes.rejected,
      nonRetryable: true,
      details: [{ code: type }],
      cause: err instanceof Error ? err : undefined,
    });
  }
}
