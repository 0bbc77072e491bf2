/**
 * Fault injection: the knobs tests turn to make the simulator misbehave as D1 may (slow, unavailable, rate
 * limited, silent, failing orders, lossy notifications), and the seedable randomness behind them.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { cardIdSchema, cardProductIdSchema, issuerIdSchema, issuerRequestIdSchema } from '../d1/schemas.js';

const rate = z.number().min(0).max(1);

/** Which orders a rule takes: every given field must equal the order's; an empty match takes every order. */
const orderMatchSchema = z
  .strictObject({
    issuerId: issuerIdSchema.optional(),
    cardId: cardIdSchema.optional(),
    cardProductId: cardProductIdSchema.optional(),
  })
  .default({});

/** Makes matching orders fail asynchronously, at data processing or at personalization. */
export const outcomeRuleSchema = z.strictObject({
  match: orderMatchSchema,
  /** DATA_EXCEPTION replaces DATA_PREPARED; CARD_PROD_EXCEPTION follows CARD_PROD_ONGOING. */
  at: z.enum(['DATA_EXCEPTION', 'CARD_PROD_EXCEPTION']),
  /** Any code: OUT_OF_STOCK, TEMPLATE_NOT_FOUND, INVALID_CARD_DATA, PERSONALIZATION_FAILED... */
  errorCode: z.string().min(1).max(64),
  error: z.string().min(1).max(256).optional(),
  reason: z.string().min(1).max(256).optional(),
  /** Fail only the first `times` matching orders (e.g. out of stock, then a re-order succeeds). */
  times: z.number().int().min(1).optional(),
});
export type OutcomeRule = z.infer<typeof outcomeRuleSchema>;

/**
 * Sets the time between two production steps of matching orders (carrier reports and Pull & change answers keep
 * D1_SIM_STEP_DELAY). Without `stepMs` the rule keeps D1_SIM_STEP_DELAY for its orders, so it can exempt them from a
 * later, broader rule.
 */
export const productionDelayRuleSchema = z.strictObject({
  match: orderMatchSchema,
  stepMs: z.number().int().min(0).max(86_400_000).optional(),
});
export type ProductionDelayRule = z.infer<typeof productionDelayRuleSchema>;

/** Every fault knob, all of them off by default. */
export const faultsSchema = z.strictObject({
  /** Added before answering a banking endpoint. */
  latencyMs: z.number().int().min(0).max(120_000),
  /** Share of banking calls answered 503 SERVICE_UNAVAILABLE, with nothing stored. */
  errorRate: rate,
  /** Share of banking calls answered 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitRate: rate,
  retryAfterSeconds: z.number().int().min(0).max(3600),
  /** Share of banking calls answered 401 as if the issuer's credentials were refused (e.g. a rotated key). */
  unauthorizedRate: rate,
  /** The status endpoint alone fails: 503, or a 200 whose body is not D1's (the client's ERR_D1_INVALID_RESPONSE). */
  statusFault: z.enum(['NONE', 'UNAVAILABLE', 'MALFORMED']),
  /** Pull & change requests (cancel included) are refused with 400 and this errorCode; none when null. */
  updateOrderRefusal: z.string().min(1).max(64).nullable(),
  /**
   * Forces the personalization center's verdict on ACCELERATE and REDIRECT requests (its UPDATE_ORDER report):
   * `ACCEPT` whatever the stage (shipped cards excepted), `REJECT` with `updateOrderRejectCode`; `BY_STAGE` (the
   * default) applies the center's rules: a REDIRECT is refused once the card is made (CARD_PROD_DONE:
   * ADDRESS_LOCKED), every change once it shipped.
   */
  updateOrderVerdict: z.enum(['BY_STAGE', 'ACCEPT', 'REJECT']),
  updateOrderRejectCode: z.string().min(1).max(64),
  /** Share of orders accepted and stored but never answered (the socket is held until the client gives up). */
  timeoutRate: rate,
  /** Share of notification batches never sent. */
  dropNotificationRate: rate,
  /** Cards whose notifications are never sent (their orders are only seen by polling). */
  dropNotificationCardIds: z.array(cardIdSchema).max(10_000),
  /** Share of delivered notification batches sent a second time. */
  duplicateNotificationRate: rate,
  /** Sends the operations pending for an issuer newest first. */
  reorderNotifications: z.boolean(),
  /** Most operations in one notification. */
  batchSize: z.number().int().min(1).max(1000),
  /** How long operations gather before a notification leaves (lets batching and reordering show). */
  batchWindowMs: z.number().int().min(0).max(60_000),
  /** Lifetime of access tokens issued from now on; the configured one when unset. */
  tokenTtlSeconds: z.number().int().min(1).max(86_400).optional(),
  /** Failure rules, first match wins; a patch replaces the whole list. */
  outcomes: z.array(outcomeRuleSchema).max(10_000),
  /** Production step timings by order, first match wins (read at each step); none matching: D1_SIM_STEP_DELAY. */
  productionDelays: z.array(productionDelayRuleSchema).max(10_000),
  /**
   * Cards whose production stops at CARD_PROD_ONGOING while they are listed (a stopped line), then goes on: a cancel
   * or a change sent meanwhile always finds the card in production.
   */
  holdCardIds: z.array(cardIdSchema).max(10_000),
  /**
   * Carrier statuses reported after CARD_SHIPPED, one step apart (e.g. IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED):
   * each is the same PRODUCE operation, still SUCCESSFUL/CARD_SHIPPED, with `details.shipment.status` set to it and
   * a matching `message`. Read when a card ships.
   */
  shipmentUpdates: z.array(z.string().min(1).max(32)).max(10),
  /**
   * Cards reported returned one step after their last shipment update (or after CARD_SHIPPED without any): the
   * same PRODUCE operation, SUCCESSFUL/CARD_RETURNED with `details.shipment.status` RETURNED_TO_SENDER; `endTime`
   * stays the shipment's.
   */
  returnCardIds: z.array(cardIdSchema).max(10_000),
  /** Orders (by issuerRequestId) returned as `returnCardIds` are; the card's re-shipment, a new order, arrives. */
  returnIssuerRequestIds: z.array(issuerRequestIdSchema).max(10_000),
  /** Share of shipped cards reported returned as `returnCardIds` are; drawn once per order, when it ships. */
  returnRate: rate,
  /** Seeds the random choices behind every rate, so a run can be repeated exactly. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
});
export type Faults = z.infer<typeof faultsSchema>;

/** What `POST /__sim/faults` and D1_SIM_FAULTS accept: any subset of the knobs, merged into the current ones. */
export const faultsPatchSchema = faultsSchema.partial();
export type FaultsPatch = z.infer<typeof faultsPatchSchema>;

/** No faults at all. */
export const defaultFaults: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  errorRate: 0,
  rateLimitRate: 0,
  retryAfterSeconds: 1,
  unauthorizedRate: 0,
  statusFault: 'NONE',
  updateOrderRefusal: null,
  updateOrderVerdict: 'BY_STAGE',
  updateOrderRejectCode: 'CHANGE_REFUSED',
  timeoutRate: 0,
  dropNotificationRate: 0,
  dropNotificationCardIds: [],
  duplicateNotificationRate: 0,
  reorderNotifications: false,
  batchSize: 1,
  batchWindowMs: 0,
  outcomes: [],
  productionDelays: [],
  holdCardIds: [],
  shipmentUpdates: [],
  returnCardIds: [],
  returnIssuerRequestIds: [],
  returnRate: 0,
});

/** mulberry32: small, fast and good enough to decide whether a fault fires. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The orders an outcome or production delay rule is matched against. */
export interface OrderKey {
  issuerId: string;
  cardId: string;
  cardProductId: string;
}

const matches = (match: OutcomeRule['match'], order: OrderKey) =>
  (match.issuerId === undefined || match.issuerId === order.issuerId) &&
  (match.cardId === undefined || match.cardId === order.cardId) &&
  (match.cardProductId === undefined || match.cardProductId === order.cardProductId);

/** The faults in force and their run-time state (random sequence, how often each outcome rule fired). */
export class FaultState {
  #faults: Faults = { ...defaultFaults };
  #random = seededRandom(randomInt(2 ** 32 - 1));
  #ruleUses: number[] = [];

  /** The knobs in force. */
  get current(): Readonly<Faults> {
    return this.#faults;
  }

  /** Merges `patch` into the knobs in force; a new `seed` restarts the random sequence, new `outcomes` their counts. */
  merge(patch: FaultsPatch): Readonly<Faults> {
    this.#faults = { ...this.#faults, ...patch };
    if (patch.seed !== undefined) this.#random = seededRandom(patch.seed);
    if (patch.outcomes) this.#ruleUses = patch.outcomes.map(() => 0);
    return this.#faults;
  }

  /** Back to no faults. */
  reset(): void {
    this.#faults = { ...defaultFaults };
    this.#ruleUses = [];
  }

  /** Whether a fault of this rate fires now; 0 never does and 1 always does, without using the sequence. */
  chance(rate: number): boolean {
    if (rate <= 0) return false;
    if (rate >= 1) return true;
    return this.#random() < rate;
  }

  /** The first outcome rule matching the order that has uses left; using it counts against its `times`. */
  takeOutcome(order: OrderKey): OutcomeRule | undefined {
    const index = this.#faults.outcomes.findIndex(
      (rule, i) => matches(rule.match, order) && (rule.times === undefined || (this.#ruleUses[i] ?? 0) < rule.times),
    );
    if (index < 0) return undefined;
    this.#ruleUses[index] = (this.#ruleUses[index] ?? 0) + 1;
    return this.#faults.outcomes[index];
  }

  /** The production step time the first matching `productionDelays` rule sets; undefined: the configured one. */
  productionStepMs(order: OrderKey): number | undefined {
    return this.#faults.productionDelays.find((rule) => matches(rule.match, order))?.stepMs;
  }
}
