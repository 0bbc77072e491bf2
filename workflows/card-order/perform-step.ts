/**
 * Carries out a step of the order that calls D1: the activity, and its answer or failure handed to the machine
 * (`onStepDone`, `onStepFailed`: the test driver hands its simulated D1's the same way).
 *
 * @module
 */
import { log } from '@temporalio/workflow';
import type { CardOrder } from '../../orders/schema.js';
import { orderToSubmit, onStepDone, onStepFailed, type CallStep } from '../../rules/card-order/shell-rules.js';
import type { OrderMachineState } from '../../rules/card-order/order-machine.js';
import type { WorkflowClock } from '../workflow-clock.js';
import { pollOrderStatus, stepFailure, type mustSucceedActivities } from './order-activities.js';

export async function performStep(
  s: OrderMachineState,
  order: CardOrder,
  clock: WorkflowClock,
  calls: ReturnType<typeof mustSucceedActivities>,
  step: CallStep,
): Promise<void> {
  const card = { issuerId: s.issuerId, cardId: s.cardId };
  try {
    switch (step.kind) {
      case 'submit': {
        const request = { order: orderToSubmit(s, order), issuerRequestId: step.issuerRequestId };
        const { operationId } = await calls.submitOrder(request);
        return onStepDone(s, { kind: step.kind, operationId }, clock.now());
      }
      case 'requestCancel': {
        const { operationId } = await calls.requestOrderCancel({ ...card, requestId: step.requestId });
        return onStepDone(s, { kind: step.kind, operationId }, clock.now());
      }
      case 'requestChange': {
        const request = { ...card, request: step.request, requestId: step.requestId };
        const { operationId } = await calls.requestOrderChange(request);
        return onStepDone(s, { kind: step.kind, operationId }, clock.now());
      }
      case 'poll': {
        const request = { ...card, operationId: step.operationId, changeIds: step.changeIds };
        const { operations } = await pollOrderStatus(request);
        return onStepDone(s, { kind: step.kind, operations }, clock.now());
      }
      case 'compensate': {
        const request = { ...card, issuerRequestIds: step.issuerRequestIds, requestId: step.requestId };
        const answer = await calls.cancelD1Order(request);
        return onStepDone(s, { kind: step.kind, ...answer }, clock.now());
      }
    }
  } catch (err) {
    const failure = stepFailure(err);
    if (step.kind === 'poll') log.warn('D1 status poll failed; the order polls again later', { code: failure.code });
    onStepFailed(s, step, failure, clock.now());
    if (step.kind === 'requestCancel' && s.cancel.byWorkflow && s.cancel.phase === 'IDLE') {
      // Not dropped silently: D1 refused the operator's cancel for good, and the order goes on.
      log.warn('D1 refused the workflow cancel; the order goes on', {
        code: failure.code,
        d1ErrorCode: failure.d1ErrorCode,
      });
    }
  }
}
