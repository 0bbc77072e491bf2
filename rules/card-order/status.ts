/**
 * The order's status and its end, shared by all its parts: a status change is an issuer event, and the end answers
 * every request still waiting (cancel, change, re-ship) for the order.
 *
 * @module
 */
import type { CancelResult, CardOrderStatus, ChangeResult, ReshipResult } from '../contracts/card-order.js';
import { behaves } from './behaviour.js';
import { eventTypes, publish } from './issuer-events.js';
import { iso, type OrderEnd, type OrderMachineState, type StepFailure } from './order-machine.js';

export function setStatus(s: OrderMachineState, status: CardOrderStatus, now: number): void {
  if (s.status === status) return;
  s.status = status;
  publish(s, eventTypes[status] ?? 'status-changed', now);
}

export function resolveCancel(s: OrderMachineState, result: CancelResult): void {
  while (s.cancel.results.length < s.cancel.attempts) s.cancel.results.push(result);
  s.cancel.phase = 'IDLE';
  s.cancel.operationId = undefined;
}

export function resolveChange(s: OrderMachineState, result: ChangeResult): void {
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
export function answerWaitingRequests(s: OrderMachineState, reason: string, cancelled: boolean): void {
  while (s.change && s.change.queue.length > 0) resolveChange(s, { outcome: 'REJECTED', reason });
  if (s.cancel.attempts > s.cancel.results.length) {
    resolveCancel(s, cancelled ? { outcome: 'CANCELLED' } : { outcome: 'REJECTED', reason });
  }
  answerReship(s, { outcome: 'REJECTED', reason });
}

export function endWith(s: OrderMachineState, end: OrderEnd, now: number): void {
  s.end = end;
  // The order is over: requests still waiting are refused for it, a cancel waiting gets how it ended.
  answerWaitingRequests(s, refusalAfterEnd(end.status), end.status === 'CANCELLED');
  s.compensation.done = !end.compensate;
  setStatus(s, end.compensate ? 'COMPENSATING' : end.status, now);
}

/** Why a request to an order that ended this way is refused. */
export function refusalAfterEnd(status: OrderEnd['status']): string {
  if (status === 'SHIPPED' || status === 'CANCELLED' || status === 'RETURNED') return `ORDER_ALREADY_${status}`;
  return 'ORDER_ALREADY_FAILED';
}

/** Answers the re-ship under way, if any. */
export function answerReship(s: OrderMachineState, result: ReshipResult): void {
  const current = s.delivery?.reships.at(-1);
  if (current && current.result === undefined) current.result = result;
}

/** The reason a request's caller hears: D1's code, ours, or (behaviour `weeks`) that D1 did not answer. */
export function failureReason(s: OrderMachineState, failure: StepFailure, fallback: string): string {
  const unanswered = failure.transient && behaves(s, 'weeks') ? 'D1_UNREACHABLE' : undefined;
  if (unanswered && behaves(s, 'askAgain')) return unanswered;
  return failure.d1ErrorCode ?? unanswered ?? failure.code ?? fallback;
}
