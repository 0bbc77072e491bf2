/**
 * Cancelling the order: the cancel update and the workflow cancel, the request sent to D1, and its failure.
 *
 * @module
 */
import { finalCardOrderStatuses } from '../contracts/card-order.js';
import { afterShipment } from './after-shipment.js';
import { behaves } from './behaviour.js';
import type { OrderMachineState, StepFailure } from './order-machine.js';
import { restartPollClock, waitOutD1 } from './polling.js';
import { settle } from './settle.js';
import { endWith, failureReason, refusalAfterEnd, resolveCancel, setStatus } from './status.js';

/** Why a cancel cannot succeed now, as the update's refusal reason; undefined when it may. */
export function cancelRefusal(s: OrderMachineState): string | undefined {
  if (s.end?.status === 'SHIPPED' || s.status === 'SHIPPED') return 'ORDER_ALREADY_SHIPPED';
  if (s.end?.status === 'RETURNED' || s.status === 'RETURNED') return 'ORDER_ALREADY_RETURNED';
  if (s.end?.status === 'CANCELLED' || s.status === 'CANCELLED') return 'ORDER_ALREADY_CANCELLED';
  if (s.end !== undefined || finalCardOrderStatuses.includes(s.status)) return 'ORDER_ALREADY_FAILED';
  return undefined;
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

export function onCancelSent(s: OrderMachineState, operationId: string, now: number): void {
  if (s.cancel.phase !== 'WANTED') return;
  s.d1Outage = undefined;
  s.cancel.phase = 'SENT';
  s.cancel.operationId = operationId;
  // D1 answers by notification; if that is lost, the poll clock starts now.
  restartPollClock(s, now);
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
