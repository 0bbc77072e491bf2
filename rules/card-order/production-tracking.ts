/**
 * How D1's operation reports (notifications and polls alike) move one D1 order forward: deduplicated, applied
 * monotonically along the production lattice (a late CARD_PROD_ONGOING never undoes CARD_SHIPPED), and kept as a
 * bounded timeline. Pure and deterministic: the workflow replays it and tests drive it without Temporal.
 *
 * @module
 */
import type { Operation, ShipmentTracking } from '../../d1/report-schemas.js';
import type { ProductionFailure, TimelineEntry } from '../contracts/card-order.js';

/** Where the tracked D1 order stands. RETURNED: shipped, and D1 reported the card back (CARD_RETURNED). */
export type ProductionOutcome = 'IN_PROGRESS' | 'SHIPPED' | 'RETURNED' | 'FAILED' | 'CANCELLED';

/** D1's verdict on a Pull & change request (operation `UPDATE_ORDER`). */
export interface ChangeOutcome {
  status: 'SUCCESSFUL' | 'FAILED';
  errorCode?: string | undefined;
}

export interface ProductionState {
  /** The PRODUCE operation being tracked; reports about other (earlier) D1 orders are ignored. */
  operationId: string | undefined;
  stage: string | undefined;
  outcome: ProductionOutcome;
  /** D1's estimated shipment date (`details.dueDate`). */
  dueDate: string | undefined;
  shipment: ShipmentTracking | undefined;
  failure: ProductionFailure | undefined;
  /** Verdicts on our Pull & change requests, by their operation id. */
  changes: Record<string, ChangeOutcome>;
  timeline: TimelineEntry[];
  /** Dedupe keys of applied reports, oldest first, bounded. */
  seen: string[];
  /** PRODUCE reports that came while no operation was tracked (D1 may notify before our submit returns). */
  early: Operation[];
  /**
   * The rank of the furthest stage reached, under strict tracking: a stage D1 adds later (unknown to us) keeps the
   * rank it came at, so no older stage can move the order back after it.
   */
  rank?: number | undefined;
  /** Under strict tracking, the furthest known carrier status reached ({@link carrierStatusRank}). */
  carrierRank?: number | undefined;
}

export interface ApplyOptions {
  /**
   * Orders of behaviour `weeks` and later: unknown stages keep the rank reached, and carrier updates never go back
   * (a DELIVERED card is not IN_TRANSIT again). Older runs apply reports as they did.
   */
  strict?: boolean;
}

const MAX_SEEN = 256;
const MAX_TIMELINE = 100;
const MAX_CHANGES = 20;
const MAX_EARLY = 20;

/** Order of the production stages; a report never moves the order to a lower rank. The ends share rank 100. */
export const stageRank: Readonly<Record<string, number>> = {
  CARD_PROD_REQUESTED: 1,
  DATA_PREPARED: 2,
  CARD_PROD_READY: 3,
  CARD_PROD_ONGOING: 4,
  CARD_PROD_DONE: 5,
  CARD_SHIPPED: 6,
  CARD_RETURNED: 7,
  DATA_EXCEPTION: 100,
  CARD_PROD_EXCEPTION: 100,
  CARD_PROD_CANCELED: 100,
};

/**
 * Order of the carrier statuses we know (D1 publishes no list: these are the simulator's and the common carrier
 * terms). A status we do not know is applied as it comes, and holds nothing back.
 */
const carrierStatusRank: Readonly<Record<string, number>> = {
  LABEL_CREATED: 1,
  PRE_TRANSIT: 1,
  IN_TRANSIT: 2,
  OUT_FOR_DELIVERY: 3,
  DELIVERY_ATTEMPTED: 3,
  AVAILABLE_FOR_PICKUP: 3,
  DELIVERED: 4,
};

/** Whether D1's stage is one we know: only those become search-attribute values. */
export function isKnownStage(stage: string): boolean {
  return stageRank[stage] !== undefined;
}

export function newProductionState(): ProductionState {
  return {
    operationId: undefined,
    stage: undefined,
    outcome: 'IN_PROGRESS',
    dueDate: undefined,
    shipment: undefined,
    failure: undefined,
    changes: {},
    timeline: [],
    seen: [],
    early: [],
  };
}

/**
 * Starts tracking a new PRODUCE operation (a first order or a re-order), or none while a re-order is on its way
 * (`undefined`): reports of the operation it replaces no longer count. The timeline and verdicts stay.
 */
export function trackOperation(state: ProductionState, operationId: string | undefined): void {
  if (operationId !== undefined && operationId === state.operationId) return;
  state.operationId = operationId;
  state.stage = undefined;
  state.outcome = 'IN_PROGRESS';
  state.dueDate = undefined;
  state.failure = undefined;
  state.shipment = undefined;
  if (state.rank !== undefined) state.rank = 0;
  if (state.carrierRank !== undefined) state.carrierRank = 0;
}

/** The key under which a report counts as already applied: operation, its status, stage and shipment status. */
export function dedupeKey(op: Operation): string {
  return [op.operationId, op.status, op.details.status, op.details.shipment?.status ?? ''].join('|');
}

function remember(state: ProductionState, key: string): void {
  state.seen.push(key);
  if (state.seen.length > MAX_SEEN) state.seen.splice(0, state.seen.length - MAX_SEEN);
}

function record(state: ProductionState, entry: TimelineEntry): void {
  state.timeline.push(entry);
  if (state.timeline.length > MAX_TIMELINE) state.timeline.splice(0, state.timeline.length - MAX_TIMELINE);
}

function outcomeOf(op: Operation, tracksReturns: boolean): ProductionOutcome {
  if (op.details.status === 'CARD_PROD_CANCELED') return 'CANCELLED';
  if (tracksReturns && op.details.status === 'CARD_RETURNED') return 'RETURNED';
  if (op.status === 'FAILED') return 'FAILED';
  // A completed operation is shipped even under a stage name D1 adds later.
  if (op.status === 'SUCCESSFUL') return 'SHIPPED';
  return 'IN_PROGRESS';
}

function entryOf(op: Operation, source: TimelineEntry['source'], now: string): TimelineEntry {
  return {
    at: now,
    operationId: op.operationId,
    operation: op.operation,
    status: op.status,
    stage: op.details.status,
    ...(op.details.shipment?.status !== undefined && { shipmentStatus: op.details.shipment.status }),
    ...(op.errorCode !== undefined && { errorCode: op.errorCode }),
    source,
  };
}

/**
 * Whether `op` could change `state`, not having been seen: a report of the tracked PRODUCE operation, or a Pull &
 * change verdict (kept even before the order knows the request's operation id: D1 may notify first).
 */
export function isRelevant(state: ProductionState, op: Operation): boolean {
  if (state.seen.includes(dedupeKey(op))) return false;
  if (op.operation === 'UPDATE_ORDER') return op.status !== 'PENDING';
  return op.operation === 'PRODUCE' && op.operationId === state.operationId;
}

/**
 * Applies one report. Returns true when it changed the order (a new stage, outcome, due date, shipment update or
 * Pull & change verdict); duplicates, late stages and reports about other operations return false. Orders that end
 * at shipment (`tracksReturns` false: runs from before the delivery window) read CARD_RETURNED by its top-level
 * status, as they always did.
 */
export function applyReport(
  state: ProductionState,
  op: Operation,
  source: TimelineEntry['source'],
  now: string,
  tracksReturns = true,
  { strict = false }: ApplyOptions = {},
): boolean {
  if (op.operation === 'PRODUCE' && state.operationId === undefined) {
    state.early.push(op);
    if (state.early.length > MAX_EARLY) state.early.splice(0, state.early.length - MAX_EARLY);
    return false;
  }
  if (!isRelevant(state, op)) return false;
  const key = dedupeKey(op);
  remember(state, key);

  if (op.operation === 'UPDATE_ORDER') {
    state.changes[op.operationId] = { status: op.status as ChangeOutcome['status'], errorCode: op.errorCode };
    const ids = Object.keys(state.changes);
    for (const old of ids.slice(0, Math.max(0, ids.length - MAX_CHANGES))) delete state.changes[old];
    record(state, entryOf(op, source, now));
    return true;
  }

  const current = strict ? (state.rank ?? 0) : state.stage === undefined ? 0 : (stageRank[state.stage] ?? 0);
  const incoming = stageRank[op.details.status] ?? current;
  const outcome = outcomeOf(op, tracksReturns);
  const ended = state.outcome !== 'IN_PROGRESS';
  // After shipment, D1 still reports carrier updates and a return.
  const afterShipment =
    state.outcome === 'SHIPPED' &&
    ((outcome === 'SHIPPED' && op.details.shipment !== undefined) || outcome === 'RETURNED');

  const carrier = carrierStatusRank[op.details.shipment?.status ?? ''];
  const staleCarrierUpdate =
    strict && afterShipment && outcome === 'SHIPPED' && carrier !== undefined && carrier < (state.carrierRank ?? 0);
  if ((ended && !afterShipment) || (incoming < current && outcome === 'IN_PROGRESS') || staleCarrierUpdate) {
    record(state, { ...entryOf(op, source, now), late: true });
    return false;
  }
  record(state, entryOf(op, source, now));
  if (incoming >= current) {
    state.stage = op.details.status;
    if (strict) state.rank = incoming;
  }
  state.outcome = outcome;
  if (op.details.dueDate !== undefined) state.dueDate = op.details.dueDate;
  if (op.details.shipment) state.shipment = { ...state.shipment, ...op.details.shipment };
  if (strict && carrier !== undefined) state.carrierRank = Math.max(state.carrierRank ?? 0, carrier);
  if (outcome === 'FAILED') {
    state.failure = {
      errorCode: op.errorCode ?? op.details.status,
      stage: op.details.status,
      ...(op.error !== undefined && { error: op.error }),
      ...(op.details.reason !== undefined && { reason: op.details.reason }),
    };
  }
  return true;
}

/** Takes the early reports of `operationId` (the operation just learned), in arrival order; the rest are dropped. */
export function takeEarlyReports(state: ProductionState, operationId: string): Operation[] {
  const mine = state.early.filter((op) => op.operationId === operationId);
  state.early = [];
  return mine;
}
