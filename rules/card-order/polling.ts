/**
 * When the order asks D1 itself: the poll clock (`poll-schedule.ts` has the back-off), polls for a verdict someone
 * waits on, and the waits of a D1 outage (behaviour `weeks`).
 *
 * @module
 */
import { DEFAULT_D1_OUTAGE_MAX_INTERVAL_MS } from '../contracts/card-order.js';
import { afterShipment } from './after-shipment.js';
import type { D1Outage, OrderMachineState, Step } from './order-machine.js';
import { dueDateMs, nextPollAt } from './poll-schedule.js';
import { setStatus } from './status.js';

/** News from D1 (or a request that D1 will answer): the quiet time before the next poll starts again. */
export function restartPollClock(s: OrderMachineState, now: number): void {
  s.poll.lastNewsAt = now;
  s.poll.quietPolls = 0;
}

/**
 * Behaviour `weeks`: a call the order needs went unanswered for ORDER_D1_RETRY_TIMEOUT. That is no answer from D1,
 * so not the order's end: it waits as D1_UNREACHABLE (the issuer hears of it once) and tries again, each wait
 * twice the last, up to `d1OutageMaxIntervalMs`.
 */
export function waitOutD1(s: OrderMachineState, step: D1Outage['step'], now: number): void {
  const failures = (s.d1Outage?.failures ?? 0) + 1;
  const cap = s.timings.d1OutageMaxIntervalMs ?? DEFAULT_D1_OUTAGE_MAX_INTERVAL_MS;
  const wait = Math.min(s.timings.d1RetryTimeoutMs * 2 ** Math.min(failures - 1, 30), cap);
  s.d1Outage = { step, since: s.d1Outage?.since ?? now, failures, retryAt: now + wait };
  setStatus(s, 'D1_UNREACHABLE', now);
}

/** When the order next tries `step` while D1 is unreachable; undefined when it may try now. */
export function outageRetryAt(s: OrderMachineState, step: D1Outage['step'], now: number): number | undefined {
  const outage = s.d1Outage;
  return outage?.step === step && now < outage.retryAt ? outage.retryAt : undefined;
}

/** A poll that failed is a fallback that failed: counted, retried later, never fatal. */
export function onPollFailed(s: OrderMachineState, now: number): void {
  s.poll.count += 1;
  s.poll.failures += 1;
  s.poll.lastPollAt = now;
  s.poll.quietPolls += 1;
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

/** Behaviour `weeks`: polls for D1's verdict on the compensation's cancel while its notification has not come. */
export function awaitCompensationVerdict(
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
