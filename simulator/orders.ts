/**
 * The orders the simulator received: idempotency by (card, issuerRequestId), the production lifecycle advancing
 * one step per `stepDelayMs`, failure outcomes from the fault rules, and Pull & change, idempotent by (card, request
 * id). No card data is here: an order is its ids, its product and its operations (a change's address is kept as a
 * hash, to tell a repeated request from a different one).
 *
 * @module
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';
import { productionLifecycle, type Operation } from '../d1/report-schemas.js';
import type { UpdateOrderRequest, UpdateOrderType } from '../d1/schemas.js';
import type { Clock, Timer } from './clock.js';
import type { FaultState } from './faults.js';
import {
  noStats,
  type CardRecord,
  type NewOrder,
  type OrderRecord,
  type OrderStats,
  type OrderSummary,
  type SubmitResult,
  type UpdateResult,
} from './order-records.js';

/** `errorCode` of a PRODUCE operation ended by a successful CANCEL (D1 does not document one). */
export const CANCELED_BY_ISSUER = 'CANCELED_BY_ISSUER';
const PRODUCTION_SITE = 'SIM-FR-LCN-01';
const DAY_MS = 86_400_000;
/** The carrier's report on a card returned (the `returnCardIds` and `returnRate` knobs). */
const RETURNED = { status: 'RETURNED_TO_SENDER', message: 'Returned to sender: address unknown' } as const;

/** A carrier status as a human text: IN_TRANSIT is "In transit". */
const carrierMessage = (status: string) => status.charAt(0) + status.slice(1).toLowerCase().replaceAll('_', ' ');

/** A hash of a Pull & change body that does not depend on its key order; no address is kept in the clear. */
function updateBodyHash(update: UpdateOrderRequest): string {
  return createHash('sha256').update(canonicalJson(update)).digest('base64url');
}

export interface OrderStoreOptions {
  clock: Clock;
  stepDelayMs: number;
  faults: FaultState;
  /** Called with a copy of each operation every time it changes, in the order the changes happen. */
  onOperation: (issuerId: string, operation: Operation) => void;
}

const isTerminal = (order: OrderRecord) => order.operation.status !== 'PENDING';

/** Every order and its operations, in memory. */
export class OrderStore {
  readonly #options: OrderStoreOptions;
  #cards = new Map<string, CardRecord>();
  #timers = new Set<Timer>();
  #stats: OrderStats = { ...noStats };

  constructor(options: OrderStoreOptions) {
    this.#options = options;
  }

  /**
   * Records an order, or recognises a resubmission: the same card and issuerRequestId get the original
   * operationId; another issuerRequestId while the card's latest order is in flight is refused.
   */
  submit(order: NewOrder): SubmitResult {
    const card = this.#card(order.issuerId, order.cardId, true);
    const same = card.orders.find((existing) => existing.issuerRequestId === order.issuerRequestId);
    if (same) {
      same.submissions += 1;
      return { kind: 'resubmitted', operationId: same.operation.operationId };
    }
    const latest = card.orders.at(-1);
    if (latest && !isTerminal(latest)) return { kind: 'in-progress', issuerRequestId: latest.issuerRequestId };

    const now = this.#options.clock.now();
    const record: OrderRecord = {
      ...order,
      submissions: 1,
      createdAt: now,
      outcome: this.#options.faults.takeOutcome(order),
      updates: [],
      timer: undefined,
      canceling: false,
      carrierReports: [],
      returns: false,
      operation: {
        operationId: randomUUID(),
        operation: 'PRODUCE',
        status: 'PENDING',
        startTime: new Date(now).toISOString(),
        cardId: order.cardId,
        issuerRequestId: order.issuerRequestId,
        details: { status: 'CARD_PROD_REQUESTED' },
      },
    };
    card.orders.push(record);
    card.operations.push(record.operation);
    this.#emit(record);
    this.#scheduleStep(record);
    return { kind: 'created', operationId: record.operation.operationId };
  }

  /** Every operation of the card as it stands now, or undefined when the card never had an order. */
  status(issuerId: string, cardId: string): Operation[] | undefined {
    return this.#card(issuerId, cardId, false)?.operations.map((operation) => structuredClone(operation));
  }

  /**
   * Pull & change on the card's latest order: starts an UPDATE_ORDER operation whose outcome lands one step
   * later. Accepted only before shipment; a CANCEL stops production at once. A `requestId` the card has seen
   * before gets its original operation and nothing new when the body is the same, and is refused otherwise.
   */
  update(issuerId: string, cardId: string, body: UpdateOrderRequest, requestId?: string): UpdateResult {
    const card = this.#card(issuerId, cardId, false);
    const order = card?.orders.at(-1);
    if (!card || !order) return { kind: 'unknown-card' };
    const bodyHash = updateBodyHash(body);
    const earlier = requestId === undefined ? undefined : card.updateRequests.get(requestId);
    if (earlier) {
      return earlier.bodyHash === bodyHash
        ? { kind: 'replayed', operationId: earlier.operationId }
        : { kind: 'request-id-reused' };
    }
    const { type } = body;
    const now = this.#options.clock.now();
    const update: Operation = {
      operationId: randomUUID(),
      operation: 'UPDATE_ORDER',
      status: 'PENDING',
      startTime: new Date(now).toISOString(),
      cardId,
      issuerRequestId: order.issuerRequestId,
      details: { status: order.operation.details.status },
    };
    card.operations.push(update);
    if (requestId !== undefined) card.updateRequests.set(requestId, { operationId: update.operationId, bodyHash });

    const refusal = this.#refusal(order, type);
    if (!refusal) order.updates.push(type);
    if (!refusal && type === 'CANCEL') {
      order.canceling = true;
      this.#stopTimer(order);
    }
    this.#after(() => {
      const endTime = new Date(this.#options.clock.now()).toISOString();
      if (refusal) {
        Object.assign(update, { status: 'FAILED', endTime, ...refusal });
        update.details = { status: order.operation.details.status, reason: refusal.error };
        this.#options.onOperation(issuerId, structuredClone(update));
        return;
      }
      if (type === 'CANCEL') {
        this.#finish(order, {
          status: 'FAILED',
          errorCode: CANCELED_BY_ISSUER,
          error: 'Production canceled at the issuer request',
          details: { ...order.operation.details, status: 'CARD_PROD_CANCELED' },
        });
      } else if (order.operation.details.dueDate) {
        order.operation.details.dueDate = this.#dueDate(order);
      }
      Object.assign(update, { status: 'SUCCESSFUL', endTime });
      update.details = { status: order.operation.details.status };
      this.#options.onOperation(issuerId, structuredClone(update));
      if (type === 'CANCEL') this.#emit(order);
    });
    return { kind: 'created', operationId: update.operationId };
  }

  /** Every order received, oldest first, without card data. */
  list(): OrderSummary[] {
    return [...this.#cards.values()]
      .flatMap((card) => card.orders)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((order) => ({
        cardId: order.cardId,
        issuerId: order.issuerId,
        issuerRequestId: order.issuerRequestId,
        operationId: order.operation.operationId,
        cardProductId: order.cardProductId,
        submissions: order.submissions,
        status: order.operation.status,
        detailsStatus: order.operation.details.status,
        updates: [...order.updates],
        createdAt: new Date(order.createdAt).toISOString(),
        endTime: order.operation.endTime,
        ...(order.extraFields && { extraFields: { ...order.extraFields } }),
      }));
  }

  /** Adds `by` to one of the call counters of `GET /__sim/stats`. */
  count(counter: keyof OrderStats, by = 1): void {
    this.#stats[counter] += by;
  }

  /** The call counters since the start or the last reset. */
  stats(): OrderStats {
    return { ...this.#stats };
  }

  /** Stops every lifecycle and forgets every order, and zeroes the call counters. */
  reset(): void {
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
    this.#cards = new Map();
    this.#stats = { ...noStats };
  }

  #card(issuerId: string, cardId: string, create: true): CardRecord;
  #card(issuerId: string, cardId: string, create: false): CardRecord | undefined;
  #card(issuerId: string, cardId: string, create: boolean): CardRecord | undefined {
    const key = `${issuerId}/${cardId}`;
    let card = this.#cards.get(key);
    if (!card && create) {
      card = { orders: [], operations: [], updateRequests: new Map() };
      this.#cards.set(key, card);
    }
    return card;
  }

  /** Why an update cannot be applied to `order` now, as the UPDATE_ORDER failure to report. */
  #refusal(order: OrderRecord, type: UpdateOrderType): { errorCode: string; error: string } | undefined {
    if (order.operation.details.status === 'CARD_SHIPPED' || order.operation.details.status === 'CARD_RETURNED') {
      return { errorCode: 'ORDER_ALREADY_SHIPPED', error: 'The card has already been shipped' };
    }
    if (isTerminal(order) || order.canceling) {
      return type === 'CANCEL'
        ? { errorCode: 'ORDER_NOT_CANCELABLE', error: 'The order has already ended or is being canceled' }
        : { errorCode: 'ORDER_NOT_UPDATABLE', error: 'The order has already ended or is being canceled' };
    }
    if (type === 'CANCEL') return undefined;
    const { updateOrderVerdict: verdict, updateOrderRejectCode: errorCode } = this.#options.faults.current;
    if (verdict === 'REJECT') return { errorCode, error: 'The personalization center refused the change' };
    const stages: readonly string[] = productionLifecycle;
    const made = stages.indexOf(order.operation.details.status) >= stages.indexOf('CARD_PROD_DONE');
    if (verdict === 'BY_STAGE' && type.endsWith('REDIRECT') && made) {
      return { errorCode: 'ADDRESS_LOCKED', error: 'The card is made and labelled: its address can no longer change' };
    }
    return undefined;
  }

  /** Runs `step` once after one step delay (`delayMs`, else the configured one), unless the store is reset first. */
  #after(step: () => void, delayMs = this.#options.stepDelayMs): Timer {
    const timer = this.#options.clock.schedule(delayMs, () => {
      this.#timers.delete(timer);
      step();
    });
    this.#timers.add(timer);
    return timer;
  }

  #stopTimer(order: OrderRecord): void {
    if (!order.timer) return;
    order.timer.cancel();
    this.#timers.delete(order.timer);
    order.timer = undefined;
  }

  #scheduleStep(order: OrderRecord): void {
    const delayMs = this.#options.faults.productionStepMs(order) ?? this.#options.stepDelayMs;
    order.timer = this.#after(() => this.#advance(order), delayMs);
  }

  #advance(order: OrderRecord): void {
    const { details } = order.operation;
    const { outcome } = order;
    if (
      outcome &&
      ((outcome.at === 'DATA_EXCEPTION' && details.status === 'CARD_PROD_REQUESTED') ||
        (outcome.at === 'CARD_PROD_EXCEPTION' && details.status === 'CARD_PROD_ONGOING'))
    ) {
      const reason =
        outcome.reason ??
        (outcome.at === 'DATA_EXCEPTION'
          ? 'Data processing in error, card is rejected'
          : 'Personalization failed at the production site');
      this.#finish(order, {
        status: 'FAILED',
        errorCode: outcome.errorCode,
        error: outcome.error ?? `Card production failed: ${outcome.errorCode}`,
        details: { ...details, status: outcome.at, reason },
      });
      this.#emit(order);
      return;
    }
    if (details.status === 'CARD_PROD_ONGOING' && this.#options.faults.current.holdCardIds.includes(order.cardId)) {
      this.#scheduleStep(order);
      return;
    }
    const next = productionLifecycle[productionLifecycle.findIndex((step) => step === details.status) + 1];
    if (next === undefined || next === 'CARD_PROD_REQUESTED') return;
    if (next === 'CARD_SHIPPED') {
      const trackingNumber = String(randomInt(100_000_000_000, 999_999_999_999));
      this.#finish(order, {
        status: 'SUCCESSFUL',
        details: {
          ...details,
          status: next,
          shipment: {
            carrier: 'fedex',
            trackingNumber,
            status: 'PICKED_UP',
            message: 'Picked up',
            trackingUrl: `https://www.fedex.com/fedextrack/?trknbr=${trackingNumber}`,
          },
        },
      });
      // After #finish, which stops the order's timer: scheduled before it, the first carrier report would be lost.
      const { shipmentUpdates, returnCardIds, returnIssuerRequestIds, returnRate } = this.#options.faults.current;
      const drawn = this.#options.faults.chance(returnRate);
      order.carrierReports = [...shipmentUpdates];
      order.returns =
        drawn || returnCardIds.includes(order.cardId) || returnIssuerRequestIds.includes(order.issuerRequestId);
      this.#scheduleCarrierReport(order);
    } else {
      order.operation.details = {
        ...details,
        status: next,
        dueDate: this.#dueDate(order),
        productionSite: PRODUCTION_SITE,
      };
      this.#scheduleStep(order);
    }
    this.#emit(order);
  }

  /** Schedules the next carrier report on a shipped order, when one is left. */
  #scheduleCarrierReport(order: OrderRecord): void {
    if (order.carrierReports.length > 0 || order.returns) order.timer = this.#after(() => this.#reportCarrier(order));
  }

  /**
   * The carrier's next report on a shipped order: a new shipment status (still SUCCESSFUL/CARD_SHIPPED), or, once
   * none is left, the card returned (SUCCESSFUL/CARD_RETURNED). `endTime` stays the shipment's.
   */
  #reportCarrier(order: OrderRecord): void {
    const { details } = order.operation;
    const status = order.carrierReports.shift();
    if (status !== undefined) {
      order.operation.details = {
        ...details,
        shipment: { ...details.shipment, status, message: carrierMessage(status) },
      };
    } else {
      order.returns = false;
      order.operation.details = { ...details, status: 'CARD_RETURNED', shipment: { ...details.shipment, ...RETURNED } };
    }
    this.#scheduleCarrierReport(order);
    this.#emit(order);
  }

  /** Ends the order's PRODUCE operation with `change`, stamping `endTime`. */
  #finish(order: OrderRecord, change: Pick<Operation, 'status' | 'details'> & Partial<Operation>): void {
    this.#stopTimer(order);
    Object.assign(order.operation, change, { endTime: new Date(this.#options.clock.now()).toISOString() });
  }

  /** Estimated shipment date: three days after the order, one with ACCELERATE. */
  #dueDate(order: OrderRecord): string {
    const accelerated = order.updates.some((type) => type.startsWith('ACCELERATE'));
    return new Date(order.createdAt + (accelerated ? 1 : 3) * DAY_MS).toISOString().slice(0, 10);
  }

  #emit(order: OrderRecord): void {
    this.#options.onOperation(order.issuerId, structuredClone(order.operation));
  }
}
