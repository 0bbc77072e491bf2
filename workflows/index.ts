/**
 * Every workflow the card-order worker runs. The worker bundles this file and what it imports.
 *
 * @module
 */
export { cardOrderV2 } from './card-order/card-order-v2.js';
export { cardOrder } from './legacy/card-order-v1.js';
export { unmatchedNotifications } from './unmatched-notifications.js';
export { reconcileOrders } from './reconcile-orders.js';
export { campaign } from './campaign/campaign.js';
export { issuerEventsDeadLetter } from './issuer-events-dead-letter.js';
