/**
 * The reconciliation's comparison of an order with D1's status of its card: which of D1's operations concern the
 * order, and whether D1 is ahead of it, by the same production lattice the order applies D1's reports along
 * (`rules/card-order/production-tracking.ts`). Pure: the reconciliation activity uses it, tests drive it alone.
 *
 * @module
 */
import type { Operation } from '../../d1/report-schemas.js';
import { stageRank } from '../card-order/production-tracking.js';

const SHIPPED_RANK = stageRank.CARD_SHIPPED ?? 6;
const FAILED_RANK = stageRank.DATA_EXCEPTION ?? 100;

/**
 * Order statuses whose D1 production is over (shipped, returned, failed, cancelled, waiting to re-order): D1 can be
 * ahead of such an order only by a return after shipment.
 */
const productionOverStatuses: readonly string[] = [
  'SHIPPED',
  'RETURNED',
  'CANCELLED',
  'AWAITING_STOCK',
  'COMPENSATING',
  'COMPENSATED',
  'COMPENSATION_FAILED',
  'FAILED',
];

/** Where the order stands, as its `orderState` query says. */
export interface OrderPosition {
  status: string;
  /** D1's stage the order last applied (`details.status`); undefined before D1's first report. */
  stage: string | undefined;
}

/** Where D1 says the order's PRODUCE operation stands. */
export interface D1Position {
  /** `details.status`, e.g. CARD_SHIPPED; D1 may send stages this lattice does not know. */
  stage: string;
  /** The operation's status: PENDING while in production, SUCCESSFUL or FAILED once it ended. */
  status: string;
}

/**
 * Whether D1's report would move the order forward: a later stage of the lattice while the order's production is
 * under way, or, once it shipped, the card's return. A stage the lattice does not know counts as ahead only when
 * D1's operation has ended (the order would take it as shipped or failed). Equal, earlier and unknown in-progress
 * stages are not ahead: the order is in step, or D1's answer is older than the order's news.
 */
export function isD1Ahead(order: OrderPosition, d1: D1Position): boolean {
  if (d1.stage === order.stage) return false;
  const current = order.stage === undefined ? 0 : (stageRank[order.stage] ?? 0);
  const incoming = stageRank[d1.stage];
  if (productionOverStatuses.includes(order.status) || current >= SHIPPED_RANK) {
    // Only a shipped card can still move on: to CARD_RETURNED.
    return current === SHIPPED_RANK && incoming !== undefined && incoming > current && incoming < FAILED_RANK;
  }
  if (incoming === undefined) return d1.status !== 'PENDING';
  return incoming > current;
}

/** What D1 reports about one order of the card, from its status answer. */
export interface D1Report {
  /** D1's report of the order's tracked PRODUCE operation; undefined when D1 has none under that id. */
  produce: Operation | undefined;
  /**
   * What to pass on to the order: that report, and D1's verdicts (UPDATE_ORDER, not PENDING) on Pull & change
   * requests made since that operation started, in D1's order. The order drops what it already has.
   */
  operations: Operation[];
}

/** Picks the order's operations out of the card's: its PRODUCE operation `operationId` and the verdicts since. */
export function d1ReportFor(operations: readonly Operation[], operationId: string): D1Report {
  const produce = operations.find((op) => op.operation === 'PRODUCE' && op.operationId === operationId);
  if (!produce) return { produce: undefined, operations: [] };
  const since = Date.parse(produce.startTime);
  return {
    produce,
    operations: operations.filter(
      (op) =>
        op === produce ||
        (op.operation === 'UPDATE_ORDER' && op.status !== 'PENDING' && Date.parse(op.startTime) >= since),
    ),
  };
}
