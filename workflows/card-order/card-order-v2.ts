/**
 * One physical card order, from submit to the cardholder's door: the thin Temporal shell around the order's state
 * machine (`order-machine.ts`). It feeds the machine D1's notifications (signal), cancel and Pull & change requests
 * (updates, workflow cancel) and the outcomes of its activities, and carries out the one step the machine decides.
 *
 * Why it is shaped this way:
 * - Handlers only change the machine's state and wake the loop; every command (activity, timer, upsert) comes from
 *   the main loop, after all of an activation's jobs were applied. So the order of commands never depends on the
 *   order in which one activation's jobs run, on first execution or on replay.
 * - One timer, re-armed only when the wake-up time changes, and not for a burst of notifications (see
 *   `shouldRearm`).
 * - Search attributes are upserted only when they change; issuer events go out in one local activity per task.
 * - Continue-as-new carries the machine's whole state, and happens only while no handler runs and no cancel is under
 *   way, so no handler waits on a loop that waits on it.
 *
 * @module
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  metricMeter,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { CardOrderActivities } from '../../activities/index.js';
import {
  cancelOrderUpdate,
  DEFAULT_DELIVERY_WINDOW_MS,
  ISSUER_EVENTS_DEAD_LETTER_WORKFLOW,
  campaignCardSettledSignal,
  campaignSubmissionSignal,
  issuerEventsDeadLetterId,
  cardOrderFailureTypes,
  changeOrderUpdate,
  d1NotificationSignal,
  d1StatusReportSignal,
  orderStateQuery,
  reshipOrderUpdate,
  type CancelResult,
  type ChangeResult,
  type CardOrderFailureDetails,
  type CardOrderInput,
  type CardOrderResult,
  type ReshipResult,
} from '../../rules/contracts/definitions.js';
import { campaignWorkflowId, cardOrderWorkflowId } from '../../orders/workflow-id.js';
import {
  cardIdKey,
  cardOrderStatusKey,
  issuerIdKey,
  productionStageKey,
} from '../../rules/contracts/search-attributes.js';
import { activityApplicationFailure } from '../activity-failure.js';
import { FIRST_ORDER_BEHAVIOUR, behaves } from '../../rules/card-order/behaviour.js';
import {
  onOutboxDelivered,
  onOutboxFailed,
  outboxDue,
  outboxFinalAttempt,
  outboxWakeAt,
  takeUndelivered,
} from '../../rules/card-order/issuer-outbox.js';
import { settleOrderBehaviour } from './settle-behaviour.js';
import { workflowClock } from '../workflow-clock.js';

/** The patch behind listening after shipment (delivery window, returns, re-ships). */
const DELIVERY_WINDOW = 'delivery-window';
import { onReshipRequested, reshipRefusal, reshipResult } from '../../rules/card-order/after-shipment.js';
import { cancelRefusal, onCancelFailed, onCancelRequested, onCancelSent } from '../../rules/card-order/cancel.js';
import { changeRefusal, onChangeFailed, onChangeRequested, onChangeSent } from '../../rules/card-order/change.js';
import { onCompensated, onCompensationFailed } from '../../rules/card-order/compensation.js';
import { decide } from '../../rules/card-order/decide.js';
import { onEventsPublished } from '../../rules/card-order/issuer-events.js';
import { newOrderMachine, type Step, type StepFailure } from '../../rules/card-order/order-machine.js';
import { onPollFailed } from '../../rules/card-order/polling.js';
import { onNotification, onPolled, onStatusReport, onSubmitted } from '../../rules/card-order/reports.js';
import { shouldRearm } from '../../rules/card-order/shell-rules.js';
import {
  campaignReportDue,
  currentDeliveryAddress,
  onCampaignReported,
  onCampaignSubmission,
  onSubmitFailed,
} from '../../rules/card-order/submit.js';
import { describeOrder, orderView, searchAttributeValues } from '../../rules/card-order/views.js';

/** The earlier of two wake-up times, either of which may be absent. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** D1 calls that must succeed (submit, cancel, compensation): retried, transient failures only, for a while. */
function mustSucceedActivities(retryTimeoutMs: number) {
  return proxyActivities<CardOrderActivities>({
    startToCloseTimeout: '1m',
    // A worker that dies mid-call is noticed in seconds, and a cancel reaches the activity.
    heartbeatTimeout: '20s',
    scheduleToCloseTimeout: retryTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
  });
}

/** A poll is a fallback: a few quick tries, then the order tries again at its next planned poll. */
const { pollOrderStatus } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '20s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

/** Runs from before the outbox: issuer events delivered at least once, for up to a day, as a local activity. */
const { publishIssuerEvents } = proxyLocalActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/**
 * The outbox's delivery (behaviour `weeks`): a few quick tries in one activity; past them the order waits on its
 * timer and tries again (issuer-outbox.ts), so a long outage of the issuer's endpoint costs a few events a day.
 */
const { publishIssuerEvents: deliverIssuerEvents } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 4 },
});

/**
 * What an activity's failure tells the machine. Our activities fail non-retryable on a permanent answer; anything
 * else reaching the workflow (the call's time limit ran out while it retried 5xx, 429, timeouts or auth) is
 * transient: D1 may answer later.
 */
function stepFailure(err: unknown): StepFailure {
  const cause = activityApplicationFailure(err);
  if (!cause) return { code: undefined, transient: true };
  const details = cause.details?.[0] as { d1ErrorCode?: unknown } | undefined;
  return {
    code: cause.type ?? undefined,
    d1ErrorCode: typeof details?.d1ErrorCode === 'string' ? details.d1ErrorCode : undefined,
    transient: !cause.nonRetryable,
  };
}

/** Orders that found D1 unreachable, by the call they could not get through (once per outage of each order). */
function countD1Outage(step: string): void {
  metricMeter
    .createCounter(
      'card_order_d1_unreachable',
      'outages',
      'Card orders that found D1 unanswered past its retry timeout',
    )
    .add(1, { step });
}

export async function cardOrderV2(input: CardOrderInput): Promise<CardOrderResult> {
  const { order } = input;
  if (!order?.issuerId || !order.cardId || !order.issuerRequestId || !input.timings) {
    throw ApplicationFailure.nonRetryable('The order input is incomplete', cardOrderFailureTypes.invalid);
  }
  // Every decision reads this clock: never earlier than a timer the order saw fire (see workflow-clock.ts).
  const clock = workflowClock();
  const s =
    input.carried ??
    newOrderMachine(
      {
        workflowId: workflowInfo().workflowId,
        issuerId: order.issuerId,
        cardId: order.cardId,
        issuerRequestId: order.issuerRequestId,
      },
      input.timings,
      input.publishEvents,
      clock.now(),
    );
  // Settled once per run, before any command: see behaviour.ts. Never lower than the run it continues.
  s.behaviour = Math.max(s.behaviour ?? FIRST_ORDER_BEHAVIOUR, settleOrderBehaviour());
  // States carried from runs before it was kept.
  s.cardProductId ??= order.cardProductId;
  s.returnPolicy ??= input.returnPolicy;
  if (input.campaign && !input.carried) {
    const { campaignId, submitTimeoutMs, page, slot } = input.campaign;
    s.campaign = { campaignId, submitBy: s.startedAt + submitTimeoutMs, page, slot };
  }
  // Listening after shipment came later: runs from before (replayed without the marker) end at shipment as they did.
  s.listensAfterShipment ??= (s.timings.deliveryWindowMs ?? DEFAULT_DELIVERY_WINDOW_MS) > 0 && patched(DELIVERY_WINDOW);
  const card = { issuerId: s.issuerId, cardId: s.cardId };
  const { submitOrder, requestOrderCancel, requestOrderChange, cancelD1Order } = mustSucceedActivities(
    s.timings.d1RetryTimeoutMs,
  );

  /** Set by handlers and the timer; the loop sleeps until it is. */
  let wake = false;
  let workflowCancel: CancelledFailure | undefined;

  setHandler(d1NotificationSignal, ({ operations }) => {
    onNotification(s, operations, clock.now());
    wake = true;
  });
  setHandler(campaignSubmissionSignal, (submission) => {
    onCampaignSubmission(s, submission, clock.now());
    wake = true;
  });
  setHandler(d1StatusReportSignal, ({ operations }) => {
    onStatusReport(s, operations, clock.now());
    wake = true;
  });
  setHandler(orderStateQuery, () => orderView(s));
  setHandler(
    cancelOrderUpdate,
    async (): Promise<CancelResult> => {
      const attempt = onCancelRequested(s, false, clock.now());
      wake = true;
      await condition(() => s.cancel.results.length >= attempt);
      return s.cancel.results[attempt - 1] ?? { outcome: 'REJECTED', reason: 'UNKNOWN' };
    },
    {
      validator: () => {
        const reason = cancelRefusal(s);
        if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot cancel: ${reason}` });
      },
    },
  );
  setHandler(
    changeOrderUpdate,
    async (request): Promise<ChangeResult> => {
      const id = onChangeRequested(s, request, clock.now());
      wake = true;
      await condition(() => s.change?.results[id] !== undefined);
      return s.change?.results[id] ?? { outcome: 'REJECTED', reason: 'UNKNOWN' };
    },
    {
      validator: (request) => {
        const reason = changeRefusal(s, request);
        if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot change the order: ${reason}` });
      },
    },
  );
  setHandler(
    reshipOrderUpdate,
    async ({ newDeliveryAddress }): Promise<ReshipResult> => {
      const id = onReshipRequested(s, newDeliveryAddress, clock.now());
      wake = true;
      await condition(() => reshipResult(s, id) !== undefined);
      return reshipResult(s, id) ?? { outcome: 'REJECTED', reason: 'UNKNOWN' };
    },
    {
      validator: (request) => {
        const reason = reshipRefusal(s, request);
        if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot re-ship the order: ${reason}` });
      },
    },
  );
  // A workflow cancel is the operator's cancel request: D1 is asked, and the run ends cancelled if D1 agrees.
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    workflowCancel = err instanceof CancelledFailure ? err : new CancelledFailure('The workflow was cancelled');
    onCancelRequested(s, true, clock.now());
    wake = true;
  });

  let timer: { at: number; armedAt: number; scope: CancellationScope } | undefined;
  function armTimer(at: number): void {
    if (timer && !shouldRearm(timer, at, clock.now())) return;
    timer?.scope.cancel();
    const scope = new CancellationScope();
    timer = { at, armedAt: clock.now(), scope };
    scope
      .run(() => sleep(Math.max(at - clock.now(), 1)))
      .then(
        () => {
          clock.reached(at);
          if (timer?.scope === scope) timer = undefined;
          wake = true;
        },
        () => undefined, // replaced by an earlier one
      );
  }

  /** The settled card's word to its campaign, sent once; the order waits for it before it closes. */
  let reporting: Promise<void> | undefined;
  function reportToCampaign(): void {
    const report = campaignReportDue(s);
    if (!report || !s.campaign) return;
    onCampaignReported(s);
    reporting = getExternalWorkflowHandle(campaignWorkflowId(s.issuerId, s.campaign.campaignId))
      .signal(campaignCardSettledSignal, report)
      // A campaign that ended (cancelled) or is gone has nothing left to count.
      .catch(() => undefined)
      .finally(() => {
        reporting = undefined;
        wake = true;
      });
  }

  const publishing = new Set<string>();
  const outbox = behaves(s, 'weeks');
  /** Writes what changed since the last task: search attributes, current details, issuer events. */
  function reflect(): void {
    const want = searchAttributeValues(s);
    const updates: SearchAttributeUpdatePair[] = [];
    if (want.status !== s.indexed.status) updates.push({ key: cardOrderStatusKey, value: want.status });
    if (want.stage !== s.indexed.stage) updates.push({ key: productionStageKey, value: want.stage });
    if (updates.length > 0) {
      upsertSearchAttributes(updates);
      s.indexed = want;
      setCurrentDetails(describeOrder(s));
    }
    if (outbox) return deliverOutbox();
    const batch = s.events.pending.filter((event) => !publishing.has(event.eventId));
    if (batch.length === 0) return;
    const ids = batch.map((event) => event.eventId);
    for (const id of ids) publishing.add(id);
    const { timeline: _timeline, ...snapshot } = orderView(s);
    publishIssuerEvents(batch.map((event) => ({ ...event, order: snapshot })))
      .catch((err: unknown) => log.error('Issuer events not delivered', { eventIds: ids, err }))
      .finally(() => {
        onEventsPublished(s, ids);
        for (const id of ids) publishing.delete(id);
        wake = true;
      });
  }

  /** Posts the outbox's events, oldest first, one delivery at a time: the issuer gets them in order. */
  function deliverOutbox(): void {
    if (publishing.size > 0 || !outboxDue(s.events, clock.now())) return;
    const ids = s.events.pending.map((event) => event.eventId);
    for (const id of ids) publishing.add(id);
    const { timeline: _timeline, ...snapshot } = orderView(s);
    deliverIssuerEvents(s.events.pending.map((event) => ({ ...event, order: snapshot })))
      .then(
        () => onOutboxDelivered(s.events, ids),
        (err: unknown) => {
          const { code } = stepFailure(err);
          if (!s.events.outbox) log.warn('Issuer events not delivered; the order tries again later', { code });
          onOutboxFailed(s.events, code, s.timings, clock.now());
        },
      )
      .finally(() => {
        publishing.clear();
        wake = true;
      });
  }

  /**
   * The order closes: a delivery under way ends, one last one goes, and what the issuer still has not confirmed goes
   * to the order's dead-letter record, for an operator to redeliver (`card-orders events redeliver`).
   */
  async function closeOutbox(): Promise<void> {
    await condition(() => publishing.size === 0);
    outboxFinalAttempt(s.events);
    deliverOutbox();
    await condition(() => publishing.size === 0);
    if (s.events.pending.length === 0) return;
    const lastFailure = s.events.outbox?.lastFailure;
    const { timeline: _timeline, ...snapshot } = orderView(s);
    const events = takeUndelivered(s.events).map((event) => ({ ...event, order: snapshot }));
    // From the order's own ids, not workflowInfo(): a replay of a downloaded history runs under another id.
    const orderWorkflowId = cardOrderWorkflowId(s.issuerId, s.issuerRequestId);
    try {
      await startChild(ISSUER_EVENTS_DEAD_LETTER_WORKFLOW, {
        workflowId: issuerEventsDeadLetterId(orderWorkflowId),
        args: [{ orderWorkflowId, issuerId: s.issuerId, cardId: s.cardId, events, lastFailure }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: issuerIdKey, value: s.issuerId },
          { key: cardIdKey, value: s.cardId },
        ],
      });
      metricMeter
        .createCounter('card_order_issuer_events_dead_lettered', 'events', 'Issuer events an order closed without')
        .add(events.length);
      log.warn('Issuer events not delivered by the time the order closed; kept for an operator', {
        count: events.length,
        lastFailure,
      });
    } catch (err) {
      // Only a record already under that id can refuse: the events are kept there.
      log.error('The dead-letter record of issuer events could not be started', { err });
    }
  }

  async function perform(step: Exclude<Step, { kind: 'wait' } | { kind: 'finish' }>): Promise<void> {
    switch (step.kind) {
      case 'submit':
        try {
          // A re-order goes where D1 last agreed to send the card, a re-ship to the issuer's corrected address.
          const deliveryAddress = currentDeliveryAddress(s);
          const current = deliveryAddress ? { ...order, shipment: { ...order.shipment, deliveryAddress } } : order;
          const { operationId } = await submitOrder({ order: current, issuerRequestId: step.issuerRequestId });
          onSubmitted(s, operationId, clock.now());
        } catch (err) {
          onSubmitFailed(s, stepFailure(err), clock.now());
        }
        return;
      case 'requestCancel':
        try {
          const { operationId } = await requestOrderCancel({ ...card, requestId: step.requestId });
          onCancelSent(s, operationId, clock.now());
        } catch (err) {
          const failure = stepFailure(err);
          onCancelFailed(s, failure, clock.now());
          if (s.cancel.byWorkflow && s.cancel.phase === 'IDLE') {
            // Not dropped silently: D1 refused the operator's cancel for good, and the order goes on.
            log.warn('D1 refused the workflow cancel; the order goes on', {
              code: failure.code,
              d1ErrorCode: failure.d1ErrorCode,
            });
          }
        }
        return;
      case 'requestChange':
        try {
          const { operationId } = await requestOrderChange({
            ...card,
            request: step.request,
            requestId: step.requestId,
          });
          onChangeSent(s, operationId, clock.now());
        } catch (err) {
          onChangeFailed(s, stepFailure(err), clock.now());
        }
        return;
      case 'poll':
        try {
          const { operations } = await pollOrderStatus({
            ...card,
            operationId: step.operationId,
            changeIds: step.changeIds,
          });
          onPolled(s, operations, clock.now());
        } catch (err) {
          log.warn('D1 status poll failed; the order polls again later', { code: stepFailure(err).code });
          onPollFailed(s, clock.now());
        }
        return;
      case 'compensate':
        try {
          const { cancelled, ...sent } = await cancelD1Order({
            ...card,
            issuerRequestIds: step.issuerRequestIds,
            requestId: step.requestId,
          });
          onCompensated(s, cancelled, clock.now(), sent);
        } catch (err) {
          onCompensationFailed(s, stepFailure(err), clock.now());
        }
        return;
    }
  }

  async function finish(): Promise<CardOrderResult> {
    await reporting;
    if (outbox) await closeOutbox();
    else await condition(() => s.events.pending.length === 0 && publishing.size === 0);
    await condition(allHandlersFinished);
    const end = s.end;
    const state = orderView(s);
    if (end?.status === 'SHIPPED' || end?.status === 'CANCELLED' || end?.status === 'RETURNED') {
      if (end.status === 'CANCELLED' && s.cancel.byWorkflow && workflowCancel !== undefined) throw workflowCancel;
      return {
        status: end.status,
        operationId: state.operationId,
        shipment: state.shipment,
        timeline: state.timeline,
        state,
      };
    }
    const failure = end?.failure;
    const details: CardOrderFailureDetails = {
      code: failure?.code,
      d1ErrorCode: failure?.d1ErrorCode,
      stage: state.failure?.stage ?? state.stage,
      operationId: state.operationId,
      state,
    };
    const compensationFailed = s.compensation.failedCode !== undefined;
    throw ApplicationFailure.create({
      type: compensationFailed ? cardOrderFailureTypes.compensationFailed : (failure?.type ?? 'UNKNOWN'),
      message: compensationFailed
        ? `${failure?.message ?? 'The order failed'}, and compensation failed (${s.compensation.failedCode})`
        : (failure?.message ?? 'The order failed'),
      nonRetryable: true,
      details: [details],
    });
  }

  return CancellationScope.nonCancellable(async () => {
    for (;;) {
      wake = false;
      const step = decide(s, clock.now());
      reflect();
      reportToCampaign();
      if (step.kind === 'finish') return finish();
      if (step.kind !== 'wait') {
        const outageBefore = s.d1Outage;
        await perform(step);
        if (s.d1Outage && !outageBefore) {
          log.warn('D1 does not answer; the order waits and tries again', { ...s.d1Outage, step: step.kind });
          countD1Outage(step.kind);
        }
        continue;
      }
      // Not while a cancel is under way: its caller (an update, or a workflow cancel) belongs to this run.
      const quiet =
        allHandlersFinished() &&
        // The outbox travels in the state; an old run's local activity must finish first.
        (outbox || publishing.size === 0) &&
        reporting === undefined &&
        s.cancel.phase === 'IDLE' &&
        (s.change?.phase ?? 'IDLE') === 'IDLE' &&
        !s.delivery?.reships.some((r) => r.result === undefined);
      if (workflowInfo().continueAsNewSuggested && quiet) {
        return continueAsNew<typeof cardOrderV2>({ ...input, carried: s });
      }
      const until = earliest(step.until, outbox ? outboxWakeAt(s.events) : undefined);
      if (until !== undefined) armTimer(until);
      await condition(() => wake);
    }
  });
}
