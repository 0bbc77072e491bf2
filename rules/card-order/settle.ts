/**
 * What D1's word settles: after every report and request, the order's status and end are brought in line with
 * production, the cancel and change verdicts and the compensation; a failed production is re-ordered (OUT_OF_STOCK)
 * or compensated.
 *
 * @module
 */
import { cardOrderFailureTypes } from '../contracts/card-order.js';
import { returned, shipped } from './after-shipment.js';
import { settleCompensation } from './compensation.js';
import type { OrderMachineState } from './order-machine.js';
import { endWith, resolveCancel, resolveChange, setStatus } from './status.js';

function productionFailed(s: OrderMachineState, now: number): void {
  const failure = s.production.failure;
  const canReorder =
    failure?.errorCode === 'OUT_OF_STOCK' &&
    s.submission.reorders < s.timings.outOfStockMaxReorders &&
    s.cancel.phase === 'IDLE';
  if (canReorder) {
    s.submission.reorderAt = now + s.timings.outOfStockReorderDelayMs;
    setStatus(s, 'AWAITING_STOCK', now);
    return;
  }
  endWith(
    s,
    {
      status: 'COMPENSATED',
      compensate: true,
      failure: {
        type: cardOrderFailureTypes.productionFailed,
        message: `Production failed at ${failure?.stage ?? 'an unknown stage'} with D1 error ${failure?.errorCode ?? 'unknown'}`,
        d1ErrorCode: failure?.errorCode,
      },
    },
    now,
  );
}

/** Brings status and end in line with what production and the cancel request say. */
export function settle(s: OrderMachineState, now: number): void {
  settleCompensation(s, now);
  // Before the end: a verdict that came with the shipment report still counts.
  const changeVerdict = s.change?.operationId === undefined ? undefined : s.production.changes[s.change.operationId];
  if (changeVerdict) {
    resolveChange(
      s,
      changeVerdict.status === 'SUCCESSFUL'
        ? { outcome: 'ACCEPTED' }
        : { outcome: 'REJECTED', reason: changeVerdict.errorCode ?? 'CHANGE_REFUSED' },
    );
  }
  if (s.end !== undefined || s.status === 'AWAITING_STOCK') return;
  const p = s.production;
  const verdict = s.cancel.operationId === undefined ? undefined : p.changes[s.cancel.operationId];
  if (p.outcome === 'CANCELLED' || (verdict?.status === 'SUCCESSFUL' && p.outcome === 'IN_PROGRESS')) {
    endWith(s, { status: 'CANCELLED', compensate: false }, now);
    return;
  }
  if (p.outcome === 'SHIPPED') return shipped(s, now);
  if (p.outcome === 'RETURNED') return returned(s, now);
  if (p.outcome === 'FAILED') return productionFailed(s, now);
  if (verdict?.status === 'FAILED')
    resolveCancel(s, { outcome: 'REJECTED', reason: verdict.errorCode ?? 'CANCEL_REFUSED' });
  if (p.operationId === undefined) return;
  if (s.cancel.phase !== 'IDLE') return setStatus(s, 'CANCELLING', now);
  setStatus(s, p.stage !== undefined && p.stage !== 'CARD_PROD_REQUESTED' ? 'IN_PRODUCTION' : 'SUBMITTED', now);
}
