/**
 * Drives the card order's state machine through a simulated D1 on its own clock, with no Temporal: the workflow's
 * loop in miniature, for days-long timelines and random interleavings. It counts D1 status calls and estimates
 * the history events the same decisions cost in the real workflow (an activity and its task: 6; a signal and its
 * task: 4; a timer that fires: 5; an upsert or a local activity marker: 1). What the workflow's shell decides around
 * the machine (the timer, what a task writes, a step's effects) it decides with the workflow's own rules
 * (`rules/card-order/shell-rules.ts`).
 *
 * @module
 */
import type { Operation } from '../../d1/report-schemas.js';
import { loadConfig } from '../../config/config.js';
import type { OrderTimings } from '../../rules/contracts/card-order.js';
import { onCancelRequested } from '../../rules/card-order/cancel.js';
import { decide } from '../../rules/card-order/decide.js';
import { newOrderMachine, type OrderMachineState, type StepFailure } from '../../rules/card-order/order-machine.js';
import { onNotification } from '../../rules/card-order/reports.js';
import {
  issuerEventsToSend,
  onIssuerEventsSent,
  onStepDone,
  onStepFailed,
  takeSearchAttributeChanges,
  timerToArm,
} from '../../rules/card-order/shell-rules.js';

export const HOUR = 3_600_000;
export const MINUTE = 60_000;
export const DAY = 24 * HOUR;
/** A Monday, 09:00 UTC: the order's start in every timeline. */
export const T0 = Date.UTC(2026, 0, 5, 9, 0);

/** The production defaults, exactly as an unconfigured service has them. */
export function productionTimings(): OrderTimings {
  return { ...loadConfig({}).orderDefaults };
}

export interface Stage {
  /** ms after T0 */
  at: number;
  status: Operation['status'];
  stage: string;
  dueDate?: string;
  errorCode?: string;
}

/** D1's report of one PRODUCE operation at one stage. */
export function produceOp(operationId: string, stage: Stage, cardId = 'card-1'): Operation {
  return {
    operationId,
    operation: 'PRODUCE',
    status: stage.status,
    startTime: new Date(T0).toISOString(),
    cardId,
    ...(stage.errorCode && { errorCode: stage.errorCode }),
    details: {
      status: stage.stage,
      ...(stage.dueDate && { dueDate: stage.dueDate }),
      ...(stage.status === 'SUCCESSFUL' && { shipment: { carrier: 'ups', trackingNumber: '1Z999' } }),
    },
  };
}

/** A 5-day production with stages hours to days apart; D1 estimates shipment on the fifth day. */
export function fiveDayProduction(): Stage[] {
  const dueDate = new Date(T0 + 5 * DAY).toISOString().slice(0, 10);
  return [
    { at: 1 * MINUTE, status: 'PENDING', stage: 'CARD_PROD_REQUESTED' },
    { at: 3 * HOUR, status: 'PENDING', stage: 'DATA_PREPARED', dueDate },
    { at: 8 * HOUR, status: 'PENDING', stage: 'CARD_PROD_READY', dueDate },
    { at: 30 * HOUR, status: 'PENDING', stage: 'CARD_PROD_ONGOING', dueDate },
    { at: 96 * HOUR, status: 'PENDING', stage: 'CARD_PROD_DONE', dueDate },
    { at: 5 * DAY, status: 'SUCCESSFUL', stage: 'CARD_SHIPPED', dueDate },
  ];
}

export interface Delivery {
  /** ms after T0 */
  at: number;
  operations: Operation[];
}

/** What D1 does around one order: its stages per submission, and how notifications reach us. */
export interface D1Script {
  /** Stages of the n-th submission (0-based), times relative to that submission. */
  productions: Stage[][];
  /** When each stage's notification arrives (ms after the stage), or undefined when it is lost. */
  notify?: (stage: Stage, submission: number) => number[] | undefined;
  /** Polls fail while this says so. */
  pollFails?: (now: number) => boolean;
  /** D1's verdict on a cancel request sent at `at`: accepted (the PRODUCE op becomes CARD_PROD_CANCELED) or not. */
  cancelVerdict?: (at: number) => { accepted: boolean; notify: boolean };
  /** Submissions that fail, by 0-based index. */
  submitFails?: (submission: number) => StepFailure | undefined;
  compensationFails?: boolean;
  /**
   * D1 answers no call while this says so: submits, cancels, compensations and polls fail as transient, and each
   * call that must succeed first retries for the order's whole `d1RetryTimeoutMs`, as its activity does.
   */
  d1Down?: (now: number) => boolean;
  /**
   * Whether the compensation finds the card live at D1 and asks for a cancel, and D1's verdict on it (notified or
   * only found by a poll). Absent: D1 holds nothing live, as after a production failure.
   */
  compensationCancel?: { accepted: boolean; notify: boolean };
  /** Cancel requests by the issuer, ms after T0. */
  cancelAt?: number[];
}

export interface DriveResult {
  state: OrderMachineState;
  endedAt: number;
  statusCalls: number;
  estimatedEvents: number;
  submissions: string[];
  cancelResults: string[];
  /** Every status the order passed through, in order. */
  statuses: string[];
  /** When each D1 status call was made. */
  pollTimes: number[];
  /** Every issuer event id published, in order. */
  publishedEventIds: string[];
}

/**
 * Runs the order to its end (or `limitMs` of simulated time) against `script`. With `carryAtStep`, the state is
 * carried through JSON at that step, as continue-as-new carries it.
 */
export function drive(
  script: D1Script,
  timings: OrderTimings = productionTimings(),
  limitMs = 60 * DAY,
  { carryAtStep, behaviour }: { carryAtStep?: number; behaviour?: number } = {},
): DriveResult {
  let s = newOrderMachine(
    { workflowId: 'card-order:ISSUER0001:req-1', issuerId: 'ISSUER0001', cardId: 'card-1', issuerRequestId: 'req-1' },
    timings,
    true,
    T0,
  );
  if (behaviour !== undefined) s.behaviour = behaviour;
  const down = (t: number) => script.d1Down?.(t) ?? false;
  /** A call that must succeed, tried while D1 is down: its activity retries for the whole retry timeout first. */
  const unanswered = (): StepFailure | undefined => {
    if (!down(now)) return undefined;
    now += timings.d1RetryTimeoutMs;
    return { code: undefined, transient: true };
  };
  let now = T0;
  let events = 1 + 3; // started, first task
  let statusCalls = 0;
  let timer: { at: number; armedAt: number } | undefined;
  const submissions: string[] = [];
  const submittedAt: number[] = [];
  const deliveries: Delivery[] = [];
  const cancelResults: string[] = [];
  const statuses = [s.status];
  const pollTimes: number[] = [];
  const publishedEventIds: string[] = [];
  const cancels = [...(script.cancelAt ?? [])].sort((a, b) => a - b);
  let cancelOp: { id: string; at: number; accepted: boolean } | undefined;
  /** Cancel requests resolve later; their outcomes are collected as they appear. */
  const cancelWatches: (() => string | undefined)[] = [];

  const opsAt = (t: number): Operation[] => {
    const ops: Operation[] = [];
    submissions.forEach((_, n) => {
      const at = submittedAt[n] ?? 0;
      const reached = (script.productions[n] ?? []).filter((stage) => at + stage.at <= t);
      const last = reached.at(-1);
      if (
        cancelOp &&
        n === submissions.length - 1 &&
        t >= cancelOp.at &&
        cancelOp.accepted &&
        last?.status !== 'SUCCESSFUL'
      ) {
        ops.push(produceOp(`op-${n + 1}`, { at: cancelOp.at, status: 'FAILED', stage: 'CARD_PROD_CANCELED' }));
      } else if (last) ops.push(produceOp(`op-${n + 1}`, last));
    });
    if (cancelOp && t >= cancelOp.at) {
      ops.push({
        operationId: cancelOp.id,
        operation: 'UPDATE_ORDER',
        status: cancelOp.accepted ? 'SUCCESSFUL' : 'FAILED',
        startTime: new Date(cancelOp.at).toISOString(),
        cardId: 'card-1',
        ...(!cancelOp.accepted && { errorCode: 'ORDER_NOT_CANCELABLE' }),
        details: { status: 'CARD_PROD_ONGOING' },
      });
    }
    return ops;
  };
  /** The end of a workflow task: upsert what changed, publish pending events (the issuer confirms them at once). */
  const endTask = () => {
    if (takeSearchAttributeChanges(s).length > 0) events += 1;
    const batch = issuerEventsToSend(s, new Set(), now);
    if (batch.length > 0) {
      events += 1;
      const ids = batch.map((e) => e.eventId);
      publishedEventIds.push(...ids);
      onIssuerEventsSent(s, ids, undefined, now);
    }
    if (statuses.at(-1) !== s.status) statuses.push(s.status);
  };

  for (let i = 0; i < 100_000; i++) {
    if (i === carryAtStep) s = JSON.parse(JSON.stringify(s)) as OrderMachineState;
    const step = decide(s, now);
    if (statuses.at(-1) !== s.status) statuses.push(s.status);
    switch (step.kind) {
      case 'finish':
        endTask();
        return {
          state: s,
          endedAt: now,
          statusCalls,
          estimatedEvents: events + 1,
          submissions,
          cancelResults,
          statuses,
          pollTimes,
          publishedEventIds,
        };
      case 'submit': {
        endTask();
        events += 6;
        const n = submissions.length;
        const failure = unanswered() ?? script.submitFails?.(n);
        if (failure) {
          onStepFailed(s, step, failure, now);
          break;
        }
        submissions.push(step.issuerRequestId);
        submittedAt.push(now);
        for (const stage of script.productions[n] ?? []) {
          const delays = script.notify ? script.notify(stage, n) : [0];
          for (const delay of delays ?? []) {
            deliveries.push({ at: now + stage.at + delay, operations: [produceOp(`op-${n + 1}`, stage)] });
          }
        }
        deliveries.sort((a, b) => a.at - b.at);
        onStepDone(s, { kind: 'submit', operationId: `op-${n + 1}` }, now);
        break;
      }
      case 'requestCancel': {
        endTask();
        events += 6;
        const failure = unanswered();
        if (failure) {
          onStepFailed(s, step, failure, now);
          break;
        }
        const verdict = script.cancelVerdict?.(now) ?? { accepted: true, notify: true };
        cancelOp = { id: `chg-${now}`, at: now + 10 * MINUTE, accepted: verdict.accepted };
        if (verdict.notify) {
          const at = cancelOp.at;
          deliveries.push({
            at,
            operations: opsAt(at).filter(
              (op) => op.operation === 'UPDATE_ORDER' || op.operationId === `op-${submissions.length}`,
            ),
          });
          deliveries.sort((a, b) => a.at - b.at);
        }
        onStepDone(s, { kind: 'requestCancel', operationId: cancelOp.id }, now);
        break;
      }
      case 'poll':
        endTask();
        events += 6;
        statusCalls += 1;
        pollTimes.push(now);
        if (script.pollFails?.(now) || down(now)) onStepFailed(s, step, { code: undefined, transient: true }, now);
        else onStepDone(s, { kind: 'poll', operations: opsAt(now) }, now);
        break;
      case 'compensate': {
        endTask();
        events += 6;
        const failure = unanswered();
        const live = opsAt(now).find((op) => op.operation === 'PRODUCE' && op.status === 'PENDING');
        if (failure) onStepFailed(s, step, failure, now);
        else if (script.compensationFails) onStepFailed(s, step, { code: 'ERR_D1_BAD_REQUEST' }, now);
        else if (script.compensationCancel && live) {
          const { accepted, notify } = script.compensationCancel;
          cancelOp = { id: `chg-${now}`, at: now + 10 * MINUTE, accepted };
          if (notify) {
            deliveries.push({ at: cancelOp.at, operations: opsAt(cancelOp.at) });
            deliveries.sort((a, b) => a.at - b.at);
          }
          const done = { operationId: cancelOp.id, produceOperationId: live.operationId };
          onStepDone(s, { kind: 'compensate', cancelled: true, ...done }, now);
        } else onStepDone(s, { kind: 'compensate', cancelled: false }, now);
        break;
      }
      case 'wait': {
        endTask();
        const at = timerToArm(s, step.until, timer, now);
        if (at !== undefined) {
          events += timer === undefined ? 1 : 2;
          timer = { at, armedAt: now };
        }
        const timerAt = timer?.at;
        const nextDelivery = deliveries[0]?.at ?? Infinity;
        const nextCancel = cancels[0] ?? Infinity;
        const next = Math.min(timerAt ?? Infinity, nextDelivery, nextCancel);
        if (next === Infinity || next > T0 + limitMs) throw new Error(`the order is stuck at ${s.status}`);
        now = Math.max(now, next);
        if (next === nextCancel) {
          cancels.shift();
          events += 3 + 2; // the update's task, accepted and completed
          const attempt = onCancelRequested(s, false, now);
          cancelWatches.push(() => s.cancel.results[attempt - 1]?.outcome);
        } else if (next === nextDelivery) {
          const delivery = deliveries.shift();
          events += 4;
          onNotification(s, delivery?.operations ?? [], now);
        } else {
          events += 5;
          timer = undefined;
        }
        break;
      }
    }
    for (const watch of [...cancelWatches]) {
      const outcome = watch();
      if (outcome) {
        cancelResults.push(outcome);
        cancelWatches.splice(cancelWatches.indexOf(watch), 1);
      }
    }
  }
  throw new Error('the order took too many steps');
}
