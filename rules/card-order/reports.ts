/**
 * D1's reports of the order (notifications, a poll's answer, the reconciliation's reading), and D1 taking the
 * order: the two meet here, as a report of the order under the id sent is D1's answer to a submit that waits out
 * an outage.
 *
 * @module
 */
import type { Operation } from '../../d1/report-schemas.js';
import type { TimelineEntry } from '../contracts/card-order.js';
import { afterShipment, listens } from './after-shipment.js';
import { behaves } from './behaviour.js';
import { publish } from './issuer-events.js';
import { iso, type OrderMachineState } from './order-machine.js';
import { restartPollClock } from './polling.js';
import { applyReport, takeEarlyReports, trackOperation } from './production-tracking.js';
import { settle } from './settle.js';
import { answerReship } from './status.js';

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

export function onPolled(s: OrderMachineState, operations: readonly Operation[], now: number): void {
  s.poll.count += 1;
  s.poll.lastPollAt = now;
  if (!applyReports(s, operations, 'poll', now)) s.poll.quietPolls += 1;
}

/** D1's status as the reconciliation read it: a poll's answer that the order did not ask for (not counted). */
export function onStatusReport(s: OrderMachineState, operations: readonly Operation[], now: number): void {
  applyReports(s, operations, 'reconcile', now);
}
