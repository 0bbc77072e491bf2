/**
 * Submitting the order: where the card goes, a submit D1 refused (or that waits out an outage), and a campaign
 * card's submission in its campaign's batch and its report back to the campaign. D1 taking the order is
 * `onSubmitted` (`reports.ts`); re-orders and re-ships are decided in `decide.ts`.
 *
 * @module
 */
import type { Address } from '../../d1/schemas.js';
import { cardOrderFailureTypes, type CampaignCardReport, type CampaignSubmission } from '../contracts/card-order.js';
import { behaves } from './behaviour.js';
import type { OrderMachineState, StepFailure } from './order-machine.js';
import { waitOutD1 } from './polling.js';
import { trackOperation } from './production-tracking.js';
import { onSubmitted } from './reports.js';
import { answerReship, endWith, setStatus } from './status.js';

/** Where the card goes: the last re-ship's address, else the last one D1 accepted in a redirect, else the order's. */
export function currentDeliveryAddress(s: OrderMachineState): Address | undefined {
  return s.delivery?.address ?? s.change?.deliveryAddress;
}

/** Failures of a submit after which D1 holds no order: our own check refused it, or D1 did (400). */
const refusedBeforeD1Took: readonly string[] = ['ERR_ORDER_INVALID', 'ERR_D1_BAD_REQUEST'];

export function onSubmitFailed(s: OrderMachineState, failure: StepFailure, now: number): void {
  // D1 may hold the order or not: the submit is tried again under the same id, which D1 deduplicates.
  if (failure.transient && behaves(s, 'weeks')) return waitOutD1(s, 'submit', now);
  s.submission.needed = false;
  const reason = failure.d1ErrorCode ?? failure.code ?? 'SUBMIT_FAILED';
  const reship = s.delivery?.reships.at(-1);
  const reshipping = reship !== undefined && reship.result === undefined && reship.issuerRequestId !== undefined;
  if (reshipping && failure.code !== undefined && refusedBeforeD1Took.includes(failure.code)) {
    // The re-ship was refused (its address, most likely) and no D1 order exists: the card stays returned, and the
    // issuer may try another address while the re-ship wait lasts.
    answerReship(s, { outcome: 'REJECTED', reason });
    trackOperation(s.production, undefined);
    s.production.outcome = 'RETURNED';
    setStatus(s, 'RETURNED', now);
    return;
  }
  answerReship(s, { outcome: 'REJECTED', reason });
  const invalid = failure.code === 'ERR_ORDER_INVALID';
  endWith(
    s,
    {
      status: 'FAILED',
      // A submit that timed out may still have reached D1; an order refused as invalid never left us.
      compensate: !invalid,
      failure: {
        type: invalid ? cardOrderFailureTypes.invalid : cardOrderFailureTypes.rejected,
        message: invalid ? 'The order is invalid' : `D1 refused the order (${failure.code ?? 'unknown error'})`,
        code: failure.code,
        d1ErrorCode: failure.d1ErrorCode,
      },
    },
    now,
  );
}

/**
 * What the campaign's batch call did with this card. Counts only while the first submission is still due: a word
 * repeated by a retried page, or late after the order submitted on its own, changes nothing.
 */
export function onCampaignSubmission(s: OrderMachineState, submission: CampaignSubmission, now: number): void {
  const due = s.submission.needed && s.submission.reorders === 0 && submission.issuerRequestId === s.issuerRequestId;
  if (!due || s.end !== undefined) return;
  // Ordering itself already (its call may be in flight): that call's answer decides, not a late batch.
  if (behaves(s, 'campaignRecords') && s.campaign && now >= s.campaign.submitBy) return;
  if (submission.outcome === 'ACCEPTED') return onSubmitted(s, submission.operationId, now);
  s.submission.needed = false;
  endWith(
    s,
    {
      status: 'FAILED',
      // D1 refused the card in the batch: nothing was created there.
      compensate: false,
      failure: {
        type: cardOrderFailureTypes.rejected,
        message: `D1 refused the card in its campaign batch (${submission.errorCode})`,
        code: 'ERR_D1_BAD_REQUEST',
        d1ErrorCode: submission.errorCode,
      },
    },
    now,
  );
}

/**
 * The campaign card's report to its campaign, due once, when the card settles (shipped, returned or ended); undefined
 * when none is due. Only cards that know their place report (campaigns that keep records).
 */
export function campaignReportDue(s: OrderMachineState): CampaignCardReport | undefined {
  const c = s.campaign;
  if (c?.page === undefined || c.slot === undefined || c.reported || !behaves(s, 'campaignRecords')) return undefined;
  const status = s.end?.status ?? s.status;
  if (s.end === undefined && status !== 'SHIPPED' && status !== 'RETURNED') return undefined;
  return { page: c.page, slot: c.slot, status };
}

export function onCampaignReported(s: OrderMachineState): void {
  if (s.campaign) s.campaign.reported = true;
}
