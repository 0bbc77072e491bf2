/**
 * The one thing the order does next, and what the passing of time decides before it: the production deadline, a
 * re-order that is due, the end of the delivery window or the re-ship wait, a re-ship to start.
 *
 * @module
 */
import { reorderRequestId } from '../../orders/reorder-id.js';
import { cardOrderFailureTypes } from '../contracts/card-order.js';
import { afterShipment, deliveryOf, reshipWaitMs } from './after-shipment.js';
import { behaves } from './behaviour.js';
import { publish } from './issuer-events.js';
import type { OrderMachineState, Step } from './order-machine.js';
import { awaitCompensationVerdict, outageRetryAt, plannedPollAt, restartPollClock } from './polling.js';
import { trackOperation } from './production-tracking.js';
import { endWith, setStatus } from './status.js';

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
