/**
 * The card order's decisions, as a pure state machine. Events go in (a D1 report, a poll's answer, a cancel
 * request, an activity's outcome, the passing of time); `decide` says the one thing to do next (submit, request a
 * cancel, poll, compensate, wait until a time, finish). The state is one plain object, so the workflow carries all
 * of it across continue-as-new, and tests drive days-long timelines without Temporal.
 *
 * Rules that keep replays deterministic: nothing here reads a clock (`now` is passed in), and event functions only
 * mutate the state; the workflow issues every command from its main loop, never from a handler.
 *
 * This module holds the state and a new order's; the machine's parts follow the order's sub-processes:
 * - `decide.ts`: the one step to do next, and what the passing of time decides (deadline, re-order, re-ship);
 * - `submit.ts`: the submit's outcome and the campaign's batch; `reports.ts`: D1's reports (notifications, polls,
 *   the reconciliation's reading) and D1 taking the order;
 * - `settle.ts`: what D1's word settles (status, end, a production failure); `compensation.ts`: undoing at D1;
 * - `cancel.ts`, `change.ts`: the Pull & change requests; `after-shipment.ts`: delivery window, returns, re-ships;
 * - `polling.ts`: when to poll, and waiting out a D1 outage; `status.ts`: status changes, the end, the answers
 *   waiting requests get; `issuer-events.ts`: the issuer's events;
 * - `views.ts`: the order as queries, search attributes and Web UI show it; `shell-rules.ts`: what the workflow's
 *   loop decides around the machine (timer, continue-as-new, writes, a step's effects, the run's result).
 *
 * @module
 */
import type { Address } from '../../d1/schemas.js';
import type { ReturnPolicy } from '../../orders/program-catalog.js';
import type {
  CancelResult,
  ChangeRecord,
  ChangeRequest,
  ChangeResult,
  CardOrderStatus,
  OrderTimings,
  ReshipResult,
} from '../contracts/card-order.js';
import type { OutboxState } from './issuer-outbox.js';
import { newProductionState, type ProductionState } from './production-tracking.js';

/** Lifecycle events the issuer hears about (one per status change). */
export type IssuerEventType =
  | 'submitted'
  | 'status-changed'
  | 'shipped'
  | 'shipment-updated'
  | 'returned'
  /** A D1 call the order needs went unanswered past ORDER_D1_RETRY_TIMEOUT; once per outage. */
  | 'd1-unreachable'
  /** D1 refused to cancel a card the order was undoing: the card is made after all and tracked to its door. */
  | 'compensation-refused'
  /** A shipped or returned order closed when its delivery window or re-ship wait ran out. */
  | 'completed'
  | 'failed'
  | 'compensated'
  | 'cancelled';

/** An issuer event not yet confirmed delivered; its id is stable across redeliveries and runs. */
export interface PendingIssuerEvent {
  eventId: string;
  type: IssuerEventType;
  status: CardOrderStatus;
  occurredAt: string;
}

/** How the order ended, once it did. */
export interface OrderEnd {
  status: 'SHIPPED' | 'RETURNED' | 'CANCELLED' | 'COMPENSATED' | 'FAILED';
  /** For failed orders: the `ApplicationFailure` the workflow ends with. */
  failure?: { type: string; message: string; code?: string | undefined; d1ErrorCode?: string | undefined };
  /** Whether D1 may still hold something of this order that must be cancelled first. */
  compensate: boolean;
}

export interface OrderMachineState {
  /**
   * The behaviour version the workflow settled for this run (`behaviour.ts`); absent in states carried from runs
   * before versioning, which decide as version 1.
   */
  behaviour?: number | undefined;
  workflowId: string;
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  /** The program the order belongs to (absent in states carried from older runs until the workflow sets it). */
  cardProductId?: string | undefined;
  timings: OrderTimings;
  status: CardOrderStatus;
  startedAt: number;
  submission: {
    /** Every D1 request id sent (or being sent): what compensation must look for at D1. */
    requestIds: string[];
    /** Whether the current D1 order still has to be sent. */
    needed: boolean;
    reorders: number;
    /** When an OUT_OF_STOCK card is re-ordered. */
    reorderAt: number | undefined;
  };
  production: ProductionState;
  poll: { lastNewsAt: number; quietPolls: number; lastPollAt: number | undefined; count: number; failures: number };
  cancel: {
    /** Cancel requests so far; each waits for `results[attempt - 1]`. */
    attempts: number;
    phase: 'IDLE' | 'WANTED' | 'SENT';
    operationId: string | undefined;
    /** A workflow cancel asked for it: the run ends as cancelled if D1 agrees. */
    byWorkflow: boolean;
    results: CancelResult[];
  };
  /** Pull & change requests other than cancel; absent until the first one (and in states carried from older runs). */
  change?: ChangeState | undefined;
  /**
   * Whether the order listens after shipment (delivery window, returns), decided once per run by the workflow: false
   * for runs from before it existed, which end at shipment as they did.
   */
  listensAfterShipment?: boolean | undefined;
  /** What its program does with a returned card; absent: the order ends RETURNED. */
  returnPolicy?: ReturnPolicy | undefined;
  /** After the first shipment: the delivery window, returns and re-ships. */
  delivery?: DeliveryState | undefined;
  /** A campaign card: until `submitBy` its campaign submits it (in a D1 batch); then it submits on its own. */
  campaign?:
    | {
        campaignId: string;
        submitBy: number;
        /** Its place in the campaign, when the campaign keeps records: it reports there once settled. */
        page?: number | undefined;
        slot?: number | undefined;
        reported?: boolean | undefined;
      }
    | undefined;
  end: OrderEnd | undefined;
  compensation: {
    done: boolean;
    failedCode: string | undefined;
    log: string[];
    /** Behaviour `weeks`: the cancel compensation sent, until D1's verdict on it. */
    sent?: { operationId: string; produceOperationId: string | undefined } | undefined;
    /** Behaviour `weeks`: D1 refused the compensation's cancel; the order tracks the card it made after all. */
    refused?: { errorCode: string } | undefined;
  };
  /** Behaviour `weeks`: a D1 call the order needs is unanswered; the order tries it again at `retryAt`. */
  d1Outage?: D1Outage | undefined;
  events: {
    publish: boolean;
    sequence: number;
    pending: PendingIssuerEvent[];
    /** Behaviour `weeks`: the outbox's back-off while the issuer's endpoint fails (`issuer-outbox.ts`). */
    outbox?: OutboxState | undefined;
  };
  /** The search attributes last written, so the workflow upserts only changes. */
  indexed: { status: string; stage: string };
}

/** Accelerate and redirect requests: carried out one at a time, in the order they came. */
export interface ChangeState {
  /** Requests not yet answered, oldest first; the first is the one under way. */
  queue: { id: number; request: ChangeRequest; requestedAt: number }[];
  phase: 'IDLE' | 'WANTED' | 'SENT';
  /** D1's operation id of the request under way, once sent. */
  operationId: string | undefined;
  nextId: number;
  /** Each request's answer, by the id {@link onChangeRequested} gave it. */
  results: Record<number, ChangeResult>;
  log: ChangeRecord[];
  /** The delivery address D1 accepted last; the order's own until then. */
  deliveryAddress: Address | undefined;
}

/** After shipment: the delivery window, a return, re-ships. */
export interface DeliveryState {
  /** When the delivery window of the current shipment closes. */
  windowEndsAt: number | undefined;
  /** When the card came back, while the order is RETURNED. */
  returnedAt: number | undefined;
  returns: number;
  /** Re-ship requests, oldest first; the last one is under way until it has a result. */
  reships: { id: number; requestedAt: number; issuerRequestId: string | undefined; result: ReshipResult | undefined }[];
  /** The corrected address of the last re-ship: where the card goes from then on. */
  address: Address | undefined;
  /** When the current production began: the production deadline counts from the last re-ship. */
  productionStartedAt: number | undefined;
}

/** A D1 outage as one order sees it: the call it cannot get through, since when, and its next try. */
export interface D1Outage {
  step: 'submit' | 'requestCancel' | 'compensate';
  since: number;
  failures: number;
  retryAt: number;
}

export type Step =
  | { kind: 'submit'; issuerRequestId: string }
  | { kind: 'requestCancel'; requestId?: string | undefined }
  | { kind: 'requestChange'; request: ChangeRequest; requestId?: string | undefined }
  | { kind: 'poll'; operationId: string; changeIds: string[] }
  | { kind: 'compensate'; issuerRequestIds: string[]; requestId?: string | undefined }
  | { kind: 'wait'; until: number | undefined }
  | { kind: 'finish' };

/** What an activity's failure tells the machine: our stable code and, when D1 gave one, D1's own. */
export interface StepFailure {
  code: string | undefined;
  d1ErrorCode?: string | undefined;
  /**
   * Whether D1 may answer differently later: the call timed out after retrying its transient failures (5xx, 429,
   * network, auth), as opposed to a permanent answer (a 4xx refusal, our own check). Absent: permanent.
   */
  transient?: boolean | undefined;
}

export const iso = (ms: number) => new Date(ms).toISOString();

export function newOrderMachine(
  order: { workflowId: string; issuerId: string; cardId: string; issuerRequestId: string },
  timings: OrderTimings,
  publishEvents: boolean,
  now: number,
): OrderMachineState {
  return {
    ...order,
    timings,
    status: 'SUBMITTING',
    startedAt: now,
    submission: { requestIds: [], needed: true, reorders: 0, reorderAt: undefined },
    production: newProductionState(),
    poll: { lastNewsAt: now, quietPolls: 0, lastPollAt: undefined, count: 0, failures: 0 },
    cancel: { attempts: 0, phase: 'IDLE', operationId: undefined, byWorkflow: false, results: [] },
    end: undefined,
    compensation: { done: false, failedCode: undefined, log: [] },
    events: { publish: publishEvents, sequence: 0, pending: [] },
    // The client sets these at start.
    indexed: { status: 'SUBMITTING', stage: 'NONE' },
  };
}
