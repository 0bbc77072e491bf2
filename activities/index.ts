/**
 * The activities of the card-order worker, built over injected dependencies so tests can pass their own.
 * Workflows reach them only through `proxyActivities<CardOrderActivities>` (a type import).
 *
 * @module
 */
import type { D1Client } from '../d1/client.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import { createCountCampaignCards, createPullCampaignCards } from './campaign-cards.js';
import { createCancelD1Order } from './cancel-d1-order.js';
import { createListOpenOrders, type OpenOrdersSource } from './list-open-orders.js';
import { createPollOrderStatus } from './poll-order-status.js';
import { createFetchOrderStatus } from './legacy/fetch-order-status.js';
import { createPublishIssuerEvent } from './legacy/publish-issuer-event.js';
import { createValidateOrder } from './legacy/validate-order.js';
import { createPublishIssuerEvents, type IssuerEventsTarget } from './publish-issuer-event.js';
import { createPublishReconcileEvents } from './publish-reconcile-events.js';
import { createReconcileOrderPage, type ReconcileTargets } from './reconcile-order-page.js';
import { createRequestOrderCancel } from './request-order-cancel.js';
import { createRequestOrderChange } from './request-order-change.js';
import { createReadCardBacklog } from './read-card-backlog.js';
import { createSubmitCampaignPage, type CampaignTargets } from './submit-campaign-page.js';
import { createSubmitOrder } from './submit-order.js';

export type { IssuerEvent, IssuerEventType } from './publish-issuer-event.js';
export type { ReconciliationDisagreementEvent } from './publish-reconcile-events.js';

export interface ActivityDependencies {
  d1: D1Client;
  catalog: ProgramCatalog;
  /** Where lifecycle events go; none when the issuer has no event endpoint. */
  issuerEvents?: IssuerEventsTarget | undefined;
  /**
   * What the reconciliation (`reconcileOrders`) reads and signals orders through: the worker's Temporal client, its
   * task queue, the visibility page size and the D1 calls at once. Absent, its activities fail (non-retryable).
   */
  reconcile?: (OpenOrdersSource & ReconcileTargets) | undefined;
  /** The order-body field that names the card an order replaces (D1_REPLACES_CARD_ID_FIELD); absent: never sent. */
  replacesCardIdField?: string | undefined;
  /** What campaigns start card orders through and read their pages from. Absent, their activities fail. */
  campaigns?: CampaignTargets | undefined;
}

/**
 * Every activity, by the name workflows call it. `validateOrder`, `fetchOrderStatus` and `publishIssuerEvent` serve
 * first-generation (`cardOrder`) runs only, until they drain: their code is in `legacy/`, beside the workflows'.
 */
export function createActivities({
  d1,
  catalog,
  issuerEvents,
  reconcile,
  replacesCardIdField,
  campaigns,
}: ActivityDependencies) {
  return {
    submitOrder: createSubmitOrder(d1, catalog, { replacesCardIdField }),
    pollOrderStatus: createPollOrderStatus(d1),
    requestOrderCancel: createRequestOrderCancel(d1),
    requestOrderChange: createRequestOrderChange(d1),
    cancelD1Order: createCancelD1Order(d1),
    publishIssuerEvents: createPublishIssuerEvents(issuerEvents),
    validateOrder: createValidateOrder(catalog),
    fetchOrderStatus: createFetchOrderStatus(d1),
    publishIssuerEvent: createPublishIssuerEvent(issuerEvents),
    listOpenOrders: createListOpenOrders(reconcile),
    reconcileOrderPage: createReconcileOrderPage(d1, reconcile),
    publishReconcileEvents: createPublishReconcileEvents(issuerEvents),
    submitCampaignPage: createSubmitCampaignPage(d1, catalog, campaigns),
    countCampaignCards: createCountCampaignCards(campaigns),
    pullCampaignCards: createPullCampaignCards(campaigns),
    readCardBacklog: createReadCardBacklog(campaigns),
  };
}

export type CardOrderActivities = ReturnType<typeof createActivities>;
