/**
 * A campaign card's word to its campaign once it settled (`campaignReportDue`), sent once as a signal; the order
 * waits for it before it closes, and does not continue as new while it is under way.
 *
 * @module
 */
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { campaignWorkflowId } from '../../orders/workflow-id.js';
import type { OrderMachineState } from '../../rules/card-order/order-machine.js';
import { campaignReportDue, onCampaignReported } from '../../rules/card-order/submit.js';
import { campaignCardSettledSignal } from '../../rules/contracts/card-order.js';

export interface CampaignReport {
  /** Sends the report if it is due. */
  send(): void;
  /** The report under way, if one is. */
  underWay(): Promise<void> | undefined;
}

export function campaignReport(s: OrderMachineState, wakeUp: () => void): CampaignReport {
  let reporting: Promise<void> | undefined;
  return {
    underWay: () => reporting,
    send(): void {
      const report = campaignReportDue(s);
      if (!report || !s.campaign) return;
      onCampaignReported(s);
      reporting = getExternalWorkflowHandle(campaignWorkflowId(s.issuerId, s.campaign.campaignId))
        .signal(campaignCardSettledSignal, report)
        // A campaign that ended (cancelled) or is gone has nothing left to count.
        .catch(() => undefined)
        .finally(() => {
          reporting = undefined;
          wakeUp();
        });
    },
  };
}
