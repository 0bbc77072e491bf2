/**
 * FROZEN with `card-order-v1.ts`, which it serves.
 *
 * How D1's operation reports move an order forward: deduplicated, applied monotonically along the production
 * lattice (a late CARD_PROD_ONGOING never undoes CARD_SHIPPED), and kept as a timeline. Pure and deterministic,
 * so the workflow replays it and tests run it without Temporal.
 *
 * @module
 */
import type { Operation, ShipmentTracking } from '../../d1/report-schemas.js';

/** Where production stands, as far as the workflow can tell. */
export type TrackingOutcome = 'IN_PROGRESS' | 'SHIPPED' | 'FAILED' | 'CANCELLED';

export interface TimelineEntry {
  /** Workflow time the report was applied (ISO 8601). */
  at: string;
  operationId: string;
  operation: string;
  status: string;
  stage: string;
  shipmentStatus?: string | undefined;
  errorCode?: string | undefined;
  source: 'notification' | 'poll';
  /** True when the report came after a later stage and changed nothing. */
  late?: boolean;
}

export interface ProductionFailure {
  errorCode: string;
  stage: string;
  error?: string | undefined;
  reason?: string | undefined;
}

/** The result of a Pull & change request, as D1 reported it. */
export interface UpdateOutcome {
  operationId: string;
  status: 'SUCCESSFUL' | 'FAILED';
  errorCode?: string | undefined;
  error?: string | undefined;
}

export interface TrackingState {
  /** The PRODUCE operation being tracked; reports about other (earlier) orders are ignored. */
  operationId: string | undefined;
  stage: string | undefined;
  outcome: TrackingOutcome;
  shipment: ShipmentTracking | undefined;
  endTime: string | undefined;
  failure: ProductionFailure | undefined;
  updates: Record<string, UpdateOutcome>;
  timeline: TimelineEntry[];
  /** Dedupe keys of applied reports, oldest first, bounded. */
  seen: string[];
}

const MAX_SEEN = 512;
const MAX_TIMELINE = 200;

/** Order of the production stages; a report never moves the order to a lower rank. */
const stageRank: Record<string, number> = {
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

export function initialTrackingState(): TrackingState {
  return {
    operationId: undefined,
    stage: undefined,
    outcome: 'IN_PROGRESS',
    shipment: undefined,
    endTime: undefined,
    failure: undefined,
    updates: {},
    timeline: [],
    seen: [],
  };
}

/** Starts tracking a new PRODUCE operation (a first order or a re-order), keeping the history. */
export function trackOperation(state: TrackingState, operationId: string): void {
  state.operationId = operationId;
  state.stage = undefined;
  state.outcome = 'IN_PROGRESS';
  state.failure = undefined;
  state.shipment = undefined;
  state.endTime = undefined;
}

/** The key under which a report counts as already applied: operation, its status, stage and shipment status. */
export function dedupeKey(op: Operation): string {
  return [op.operationId, op.status, op.details.status, op.details.shipment?.status ?? ''].join('|');
}

function remember(state: TrackingState, key: string): void {
  state.seen.push(key);
  if (state.seen.length > MAX_SEEN) state.seen.splice(0, state.seen.length - MAX_SEEN);
}

function record(state: TrackingState, entry: TimelineEntry): void {
  state.timeline.push(entry);
  if (state.timeline.length > MAX_TIMELINE) state.timeline.splice(0, state.timeline.length - MAX_TIMELINE);
}

function outcomeOf(op: Operation): TrackingOutcome {
  if (op.details.status === 'CARD_PROD_CANCELED') return 'CANCELLED';
  if (op.status === 'FAILED') return 'FAILED';
  // A completed operation is shipped even under a stage name D1 adds later.
  if (op.status === 'SUCCESSFUL') return 'SHIPPED';
  return 'IN_PROGRESS';
}

/**
 * Applies one report. Returns true when it changed the order (a new stage, outcome, shipment update or update
 * outcome); duplicates and reports about other operations return false.
 */
export function applyOperation(
  state: TrackingState,
  op: Operation,
  source: TimelineEntry['source'],
  now: string,
): boolean {
  const key = dedupeKey(op);
  if (state.seen.includes(key)) return false;

  if (op.operation === 'UPDATE_ORDER') {
    if (op.status === 'PENDING') return false;
    remember(state, key);
    state.updates[op.operationId] = {
      operationId: op.operationId,
      status: op.status,
      errorCode: op.errorCode,
      error: op.error,
    };
    record(state, entryOf(op, source, now));
    return true;
  }
  if (op.operation !== 'PRODUCE' || op.operationId !== state.operationId) return false;
  remember(state, key);

  const current = state.stage === undefined ? 0 : (stageRank[state.stage] ?? 0);
  const incoming = stageRank[op.details.status] ?? current;
  const outcome = outcomeOf(op);
  const terminal = state.outcome !== 'IN_PROGRESS';
  const shipmentUpdate = state.outcome === 'SHIPPED' && outcome === 'SHIPPED' && op.details.shipment !== undefined;

  if ((terminal && !shipmentUpdate) || (incoming < current && outcome === 'IN_PROGRESS')) {
    record(state, { ...entryOf(op, source, now), late: true });
    return false;
  }
  record(state, entryOf(op, source, now));
  if (incoming >= current) state.stage = op.details.status;
  state.outcome = outcome;
  if (op.details.shipment) state.shipment = { ...state.shipment, ...op.details.shipment };
  if (op.endTime) state.endTime = op.endTime;
  if (outcome === 'FAILED') {
    state.failure = {
      errorCode: op.errorCode ?? op.details.status,
      stage: op.details.status,
      error: op.error,
      reason: op.details.reason,
    };
  }
  return true;
}

function entryOf(op: Operation, source: TimelineEntry['source'], now: string): TimelineEntry {
  return {
    at: now,
    operationId: op.operationId,
    operation: op.operation,
    status: op.status,
    stage: op.details.status,
    shipmentStatus: op.details.shipment?.status,
    errorCode: op.errorCode,
    source,
  };
}
