import type { CardOrderStatus } from '../rules/contracts/card-order.js';
import type { ReconcileDisagreement } from '../rules/contracts/reconcile.js';
import { createPublishIssuerEvents, type IssuerEventsTarget } from './publish-issuer-event.js';

/**
 * The issuer event for an order whose D1 state disagreed: the lifecycle events' envelope (`eventId`, `type`,
 * `occurredAt`, `status`, `order`), signed and posted the same way, with what the reconciliation found. Identifiers
 * and stages only.
 */
export interface ReconciliationDisagreementEvent {
  /** `{reconciliation workflow id}/{order workflow id}`: the same for every delivery of one run's finding. */
  eventId: string;
  type: 'reconciliation-disagreement';
  occurredAt: string;
  /** The order's status when the reconciliation read it. */
  status: CardOrderStatus;
  order: {
    issuerId: string;
    cardId: string;
    issuerRequestId: string;
    status: CardOrderStatus;
    stage: string | undefined;
    operationId: string;
  };
  reconciliation: {
    /** The reconciliation run (its workflow id). */
    runId: string;
    /** D1's stage of the order's operation, or UNKNOWN_AT_D1. */
    d1Stage: string;
    d1Status: string | undefined;
    /** Whether D1's status was passed on to the order. */
    updated: boolean;
  };
}

/** The order's issuer, from its workflow id (`card-order:{issuerId}:{issuerRequestId}`). */
function issuerIdOf(workflowId: string): string {
  return workflowId.split(':')[1] ?? '';
}

/** The event for one disagreement of reconciliation run `runId`. */
export function disagreementEvent(runId: string, found: ReconcileDisagreement): ReconciliationDisagreementEvent {
  return {
    eventId: `${runId}/${found.workflowId}`,
    type: 'reconciliation-disagreement',
    occurredAt: found.detectedAt,
    status: found.orderStatus,
    order: {
      issuerId: issuerIdOf(found.workflowId),
      cardId: found.cardId,
      issuerRequestId: found.issuerRequestId,
      status: found.orderStatus,
      stage: found.orderStage,
      operationId: found.operationId,
    },
    reconciliation: { runId, d1Stage: found.d1Stage, d1Status: found.d1Status, updated: found.updated },
  };
}

/**
 * Posts one `reconciliation-disagreement` event per disagreement, through the issuer event publisher (flattened
 * JWS, at least once). A retry re-posts them all under the same event ids, which the receiver deduplicates. No
 * events without an issuer event endpoint.
 */
export function createPublishReconcileEvents(target: IssuerEventsTarget | undefined) {
  const publish = createPublishIssuerEvents(target);
  return async function publishReconcileEvents(input: {
    runId: string;
    disagreements: ReconcileDisagreement[];
  }): Promise<void> {
    const events = input.disagreements.map((found) => disagreementEvent(input.runId, found));
    await publish(events);
  };
}
