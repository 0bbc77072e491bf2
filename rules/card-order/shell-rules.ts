/**
 * What the card order's workflow shell decides around the machine, as pure functions: the workflow
 * (`card-order-v2.ts`) and the test driver (`test/helpers/machine-driver.ts`) both call them, so the shell's rules are
 * tested without Temporal. The shell keeps only what needs Temporal: the activities, the timer, the handlers, the
 * commands, and the order in which their promises settle.
 *
 * @module
 */
import type { Operation } from '../../d1/report-schemas.js';
import type { CardOrder } from '../../orders/schema.js';
import {
  DEFAULT_DELIVERY_WINDOW_MS,
  cardOrderFailureTypes,
  type CardOrderFailureDetails,
  type CardOrderInput,
  type CardOrderResult,
} from '../contracts/card-order.js';
import { FIRST_ORDER_BEHAVIOUR, behaves } from './behaviour.js';
import { onCancelFailed, onCancelSent } from './cancel.js';
import { onChangeFailed, onChangeSent } from './change.js';
import { onCompensated, onCompensationFailed } from './compensation.js';
import { onEventsPublished } from './issuer-events.js';
import { onOutboxDelivered, onOutboxFailed, outboxDue, outboxWakeAt } from './issuer-outbox.js';
import {
  newOrderMachine,
  type OrderMachineState,
  type PendingIssuerEvent,
  type Step,
  type StepFailure,
} from './order-machine.js';
import { onPollFailed } from './polling.js';
import { onPolled, onSubmitted } from './reports.js';
import { currentDeliveryAddress, onSubmitFailed } from './submit.js';
import { orderView, searchAttributeValues } from './views.js';

/**
 * The machine's state for a run: the one the last run carried, or a new order's. `settle` holds the run's
 * versioning decisions (the workflow's `patched()`), asked in this order: the behaviour version, before any command;
 * then, for states that have not decided it and runs before behaviour `oneMarker`, whether the order listens after
 * shipment.
 */
export function runState(
  input: CardOrderInput<OrderMachineState>,
  workflowId: string,
  now: number,
  settle: { behaviour: () => number; listensAfterShipment: () => boolean },
): OrderMachineState {
  const { order } = input;
  const s =
    input.carried ??
    newOrderMachine(
      { workflowId, issuerId: order.issuerId, cardId: order.cardId, issuerRequestId: order.issuerRequestId },
      input.timings,
      input.publishEvents,
      now,
    );
  // Settled once per run, before any command: see behaviour.ts. Never lower than the run it continues.
  s.behaviour = Math.max(s.behaviour ?? FIRST_ORDER_BEHAVIOUR, settle.behaviour());
  // States carried from runs before it was kept.
  s.cardProductId ??= order.cardProductId;
  s.returnPolicy ??= input.returnPolicy;
  if (input.campaign && !input.carried) {
    const { campaignId, submitTimeoutMs, page, slot } = input.campaign;
    s.campaign = { campaignId, submitBy: s.startedAt + submitTimeoutMs, page, slot };
  }
  // Listening after shipment came later: runs from before (replayed without the marker) end at shipment as they did.
  // Behaviour `oneMarker` implies it without its own marker.
  s.listensAfterShipment ??=
    (s.timings.deliveryWindowMs ?? DEFAULT_DELIVERY_WINDOW_MS) > 0 &&
    (behaves(s, 'oneMarker') || settle.listensAfterShipment());
  return s;
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

/** The earlier of two wake-up times, either of which may be absent. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * When the order waits (`until`, the wait step's time), the time to arm its one timer for: the step's, or sooner the
 * outbox's next delivery (behaviour `weeks`). Undefined when the timer armed (`timer`, if any) stays, or nothing is
 * due at all.
 */
export function timerToArm(
  s: OrderMachineState,
  until: number | undefined,
  timer: { at: number; armedAt: number } | undefined,
  now: number,
): number | undefined {
  const at = earliest(until, behaves(s, 'weeks') ? outboxWakeAt(s.events) : undefined);
  if (at === undefined || (timer && !shouldRearm(timer, at, now))) return undefined;
  return at;
}

/**
 * Whether the run may continue as new, while it waits: not while a handler runs (an update's caller belongs to this
 * run), a local activity of issuer events (before the outbox) or the report to the campaign is under way, nor while
 * a cancel, change or re-ship is, so that no handler waits on a loop that waits on it.
 */
export function mayContinueAsNew(
  s: OrderMachineState,
  shell: { handlersFinished: boolean; eventsInFlight: number; reportingToCampaign: boolean },
): boolean {
  return (
    shell.handlersFinished &&
    // The outbox travels in the state; an old run's local activity must finish first.
    (behaves(s, 'weeks') || shell.eventsInFlight === 0) &&
    !shell.reportingToCampaign &&
    s.cancel.phase === 'IDLE' &&
    (s.change?.phase ?? 'IDLE') === 'IDLE' &&
    !s.delivery?.reships.some((r) => r.result === undefined)
  );
}

/** The search attributes that changed since the last write, in write order, recorded as written. */
export function takeSearchAttributeChanges(s: OrderMachineState): { attribute: 'status' | 'stage'; value: string }[] {
  const want = searchAttributeValues(s);
  const changes: { attribute: 'status' | 'stage'; value: string }[] = [];
  if (want.status !== s.indexed.status) changes.push({ attribute: 'status', value: want.status });
  if (want.stage !== s.indexed.stage) changes.push({ attribute: 'stage', value: want.stage });
  if (changes.length > 0) s.indexed = want;
  return changes;
}

/**
 * The issuer events to send at the end of a task (none: nothing to send), `inFlight` the ids of deliveries under way.
 * Before the outbox: the pending events not yet under way, in a delivery of their own. The outbox (behaviour
 * `weeks`): every pending event, oldest first, one delivery at a time, once its back-off allows.
 */
export function issuerEventsToSend(
  s: OrderMachineState,
  inFlight: ReadonlySet<string>,
  now: number,
): PendingIssuerEvent[] {
  if (!behaves(s, 'weeks')) return s.events.pending.filter((event) => !inFlight.has(event.eventId));
  if (inFlight.size > 0 || !outboxDue(s.events, now)) return [];
  return [...s.events.pending];
}

/**
 * A delivery of `eventIds` ended; `failed` holds its failure's code when it failed. Before the outbox the events
 * leave either way (delivered, or given up after the local activity's day of retries). The outbox lets go of them
 * once the issuer confirmed them; a failure keeps them and backs off.
 */
export function onIssuerEventsSent(
  s: OrderMachineState,
  eventIds: readonly string[],
  failed: { code: string | undefined } | undefined,
  now: number,
): void {
  if (!behaves(s, 'weeks')) return onEventsPublished(s, eventIds);
  if (failed) return onOutboxFailed(s.events, failed.code, s.timings, now);
  onOutboxDelivered(s.events, eventIds);
}

/** The order with its pending events, as the issuer gets them: the order's view without its timeline. */
export function issuerEventsWithOrder(s: OrderMachineState, events: readonly PendingIssuerEvent[]) {
  const { timeline: _timeline, ...snapshot } = orderView(s);
  return events.map((event) => ({ ...event, order: snapshot }));
}

/** A step that calls D1. */
export type CallStep = Exclude<Step, { kind: 'wait' } | { kind: 'finish' }>;

/** What D1 answered a step's call, as the machine takes it. */
export type StepDone =
  | { kind: 'submit' | 'requestCancel' | 'requestChange'; operationId: string }
  | { kind: 'poll'; operations: readonly Operation[] }
  | {
      kind: 'compensate';
      cancelled: boolean;
      operationId?: string | undefined;
      produceOperationId?: string | undefined;
    };

/** The order to submit: a re-order goes where D1 last agreed to send the card, a re-ship to the corrected address. */
export function orderToSubmit(s: OrderMachineState, order: CardOrder): CardOrder {
  const deliveryAddress = currentDeliveryAddress(s);
  return deliveryAddress ? { ...order, shipment: { ...order.shipment, deliveryAddress } } : order;
}

/** A step's call to D1 answered: the machine hears it. */
export function onStepDone(s: OrderMachineState, done: StepDone, now: number): void {
  switch (done.kind) {
    case 'submit':
      return onSubmitted(s, done.operationId, now);
    case 'requestCancel':
      return onCancelSent(s, done.operationId, now);
    case 'requestChange':
      return onChangeSent(s, done.operationId, now);
    case 'poll':
      return onPolled(s, done.operations, now);
    case 'compensate': {
      const { kind: _kind, cancelled, ...sent } = done;
      return onCompensated(s, cancelled, now, sent);
    }
  }
}

/** A step's call to D1 failed (after its retries): the machine hears how. */
export function onStepFailed(s: OrderMachineState, step: CallStep, failure: StepFailure, now: number): void {
  switch (step.kind) {
    case 'submit':
      return onSubmitFailed(s, failure, now);
    case 'requestCancel':
      return onCancelFailed(s, failure, now);
    case 'requestChange':
      return onChangeFailed(s, failure, now);
    case 'poll':
      return onPollFailed(s, now);
    case 'compensate':
      return onCompensationFailed(s, failure, now);
  }
}

/** How the run ends: the result of an order that shipped, came back or was cancelled, or the failure it fails with. */
export type RunOutcome =
  | { result: CardOrderResult; failure?: undefined }
  | { result?: undefined; failure: { type: string; message: string; details: CardOrderFailureDetails } };

/** The run's outcome, once the machine decided to finish. */
export function runOutcome(s: OrderMachineState): RunOutcome {
  const end = s.end;
  const state = orderView(s);
  if (end?.status === 'SHIPPED' || end?.status === 'CANCELLED' || end?.status === 'RETURNED') {
    return {
      result: {
        status: end.status,
        operationId: state.operationId,
        shipment: state.shipment,
        timeline: state.timeline,
        state,
      },
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
  return {
    failure: {
      type: compensationFailed ? cardOrderFailureTypes.compensationFailed : (failure?.type ?? 'UNKNOWN'),
      message: compensationFailed
        ? `${failure?.message ?? 'The order failed'}, and compensation failed (${s.compensation.failedCode})`
        : (failure?.message ?? 'The order failed'),
      details,
    },
  };
}
