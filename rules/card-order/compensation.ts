/**
 * Compensation: undoing at D1 what a failed order may have left there, and (behaviour `weeks`) D1's verdict on
 * that cancel, which may send the order on after all.
 *
 * @module
 */
import { behaves } from './behaviour.js';
import { publish } from './issuer-events.js';
import type { OrderMachineState, StepFailure } from './order-machine.js';
import { restartPollClock, waitOutD1 } from './polling.js';
import { trackOperation } from './production-tracking.js';
import { setStatus } from './status.js';

/**
 * Behaviour `weeks`: the compensation's cancel counts once D1 says so (its UPDATE_ORDER verdict, or the card
 * reported cancelled). A refusal means the card is being made after all: the order goes on and tracks it to its door.
 */
export function settleCompensation(s: OrderMachineState, now: number): void {
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
