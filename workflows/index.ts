/**
 * Every workflow the card-order worker runs. The worker bundles this file and what it imports.
 *
 * @module
 */
export { cardOrder } from './card-order.js';
export { unmatchedNotifications } from './unmatched-notifications.js';
