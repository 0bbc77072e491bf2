/**
 * The activities of the card-order worker, built over injected dependencies so tests can pass their own.
 * Workflows reach them only through `proxyActivities<CardOrderActivities>` (a type import).
 *
 * @module
 */
import type { D1Client } from '../d1/client.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import { createCancelD1Order } from './cancel-d1-order.js';
import { createFetchOrderStatus } from './fetch-order-status.js';
import { createPublishIssuerEvent, type IssuerEventsTarget } from './publish-issuer-event.js';
import { createRequestOrderCancel } from './request-order-cancel.js';
import { createSubmitOrder } from './submit-order.js';
import { createValidateOrder } from './validate-order.js';

export type { IssuerEvent, IssuerEventType } from './publish-issuer-event.js';

export interface ActivityDependencies {
  d1: D1Client;
  catalog: ProgramCatalog;
  /** Where lifecycle events go; none when the issuer has no event endpoint. */
  issuerEvents?: IssuerEventsTarget | undefined;
}

export function createActivities({ d1, catalog, issuerEvents }: ActivityDependencies) {
  return {
    validateOrder: createValidateOrder(catalog),
    submitOrder: createSubmitOrder(d1),
    fetchOrderStatus: createFetchOrderStatus(d1),
    requestOrderCancel: createRequestOrderCancel(d1),
    cancelD1Order: createCancelD1Order(d1),
    publishIssuerEvent: createPublishIssuerEvent(issuerEvents),
  };
}

export type CardOrderActivities = ReturnType<typeof createActivities>;
