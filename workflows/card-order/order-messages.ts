/**
 * The card order's messages: D1's notifications, its campaign's word and the reconciliation's reading (signals), its
 * state (query), cancel, change and re-ship requests (updates, refused by their validators when they cannot
 * succeed), and a workflow cancel, the operator's cancel request. Handlers only change the machine's state and wake
 * the loop, which issues every command; an update's caller waits for its answer to appear in the state.
 *
 * @module
 */
import { ApplicationFailure, CancellationScope, CancelledFailure, condition, setHandler } from '@temporalio/workflow';
import { onReshipRequested, reshipRefusal, reshipResult } from '../../rules/card-order/after-shipment.js';
import { cancelRefusal, onCancelRequested } from '../../rules/card-order/cancel.js';
import { changeRefusal, onChangeRequested } from '../../rules/card-order/change.js';
import type { OrderMachineState } from '../../rules/card-order/order-machine.js';
import { onNotification, onStatusReport } from '../../rules/card-order/reports.js';
import { onCampaignSubmission } from '../../rules/card-order/submit.js';
import { orderView } from '../../rules/card-order/views.js';
import {
  cancelOrderUpdate,
  campaignSubmissionSignal,
  changeOrderUpdate,
  d1NotificationSignal,
  d1StatusReportSignal,
  orderStateQuery,
  reshipOrderUpdate,
  type CancelResult,
  type ChangeResult,
  type ReshipResult,
} from '../../rules/contracts/card-order.js';
import type { WorkflowClock } from '../workflow-clock.js';

/** Sets the order's handlers. Returns the workflow cancel, once one came. */
export function handleOrderMessages(
  s: OrderMachineState,
  clock: WorkflowClock,
  wakeUp: () => void,
): { workflowCancel: () => CancelledFailure | undefined } {
  let workflowCancel: CancelledFailure | undefined;
  setHandler(d1NotificationSignal, ({ operations }) => {
    onNotification(s, operations, clock.now());
    wakeUp();
  });
  setHandler(campaignSubmissionSignal, (submission) => {
    onCampaignSubmission(s, submission, clock.now());
    wakeUp();
  });
  setHandler(d1StatusReportSignal, ({ operations }) => {
    onStatusReport(s, operations, clock.now());
    wakeUp();
  });
  setHandler(orderStateQuery, () => orderView(s));
  setHandler(
    cancelOrderUpdate,
    async (): Promise<CancelResult> => {
      const attempt = onCancelRequested(s, false, clock.now());
      wakeUp();
      await condition(() => s.cancel.results.length >= attempt);
      return s.cancel.results[attempt - 1] ?? { outcome: 'REJECTED', reason: 'UNKNOWN' };
    },
    {
      validator: () => {
        const reason = cancelRefusal(s);
        if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot cancel: ${reason}` });
      },
    },
  );
  setHandler(
    changeOrderUpdate,
    async (request): Promise<ChangeResult> => {
      const id = onChangeRequested(s, request, clock.now());
      wakeUp();
      await condition(() => s.change?.results[id] !== undefined);
      return s.change?.results[id] ?? { outcome: 'REJECTED', reason: 'UNKNOWN' };
    },
    {
      validator: (request) => {
        const reason = changeRefusal(s, request);
        if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot change the order: ${reason}` });
      },
    },
  );
  setHandler(
    reshipOrderUpdate,
    async ({ newDeliveryAddress }): Promise<ReshipResult> => {
      const id = onReshipRequested(s, newDeliveryAddress, clock.now());
      wakeUp();
      await condition(() => reshipResult(s, id) !== undefined);
      return reshipResult(s, id) ?? { outcome: 'REJECTED', reason: 'UNKNOWN' };
    },
    {
      validator: (request) => {
        const reason = reshipRefusal(s, request);
        if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot re-ship the order: ${reason}` });
      },
    },
  );
  // A workflow cancel is the operator's cancel request: D1 is asked, and the run ends cancelled if D1 agrees.
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    workflowCancel = err instanceof CancelledFailure ? err : new CancelledFailure('The workflow was cancelled');
    onCancelRequested(s, true, clock.now());
    wakeUp();
  });
  return { workflowCancel: () => workflowCancel };
}
