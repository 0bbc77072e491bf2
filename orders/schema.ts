/**
 * A card order as issuers place it, and as it enters the workflow. The caller's clear card data is turned into
 * D1's JWE by the client library before the workflow starts, so the workflow input carries `encryptedData` only.
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import {
  cardCarrierConfigSchema,
  cardDesignSchema,
  cardIdSchema,
  cardProductIdSchema,
  compactJweSchema,
  consumerIdSchema,
  issuerIdSchema,
  issuerRequestIdSchema,
  packagingConfigSchema,
  paymentApplicationSchema,
  sensitiveCardDataSchema,
  servicesSchema,
  shipmentSchema,
  trackDataSchema,
} from '../d1/schemas.js';
import { reservedRequestIdProblem } from './reorder-id.js';

/** An original order's request id: D1's form, less the part reserved for re-orders. */
const orderRequestIdSchema = issuerRequestIdSchema.superRefine((value, ctx) => {
  const problem = reservedRequestIdProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Per-order overrides of the tracking timings, as durations (`30s`, `5m`, `14d`). */
export const orderTimingsSchema = z.strictObject({
  /** Quiet time after the last news from D1 before the first status poll. */
  notificationTimeout: durationMs.optional(),
  /** Interval after the first poll; it doubles with each poll that finds nothing new. */
  pollInterval: durationMs.optional(),
  /** The most time between two polls. */
  pollMaxInterval: durationMs.optional(),
  /** The overall limit: past it the order is compensated (`PRODUCTION_DEADLINE_EXCEEDED`). */
  productionDeadline: durationMs.optional(),
  /** How long the shipped order listens for carrier updates and a return; `0ms` ends it at shipment. */
  deliveryWindow: durationMs.optional(),
  /** How long a returned card waits for a re-ship, when its program re-ships. */
  reshipWait: durationMs.optional(),
});

const orderFields = {
  issuerId: issuerIdSchema,
  cardId: cardIdSchema,
  consumerId: consumerIdSchema,
  /** The idempotency key of the order, end to end: the workflow id and D1's duplicate check both use it. */
  issuerRequestId: orderRequestIdSchema,
  cardProductId: cardProductIdSchema,
  services: servicesSchema,
  shipment: shipmentSchema,
  cardDesign: cardDesignSchema.optional(),
  cardCarrierConfig: cardCarrierConfigSchema.optional(),
  packagingConfig: packagingConfigSchema.optional(),
  paymentApplication: paymentApplicationSchema.optional(),
  trackData: trackDataSchema.optional(),
  /**
   * Ours, not D1's: the card a RENEWAL or REPLACEMENT order replaces. Not sent to D1, which documents no such
   * field, unless D1_REPLACES_CARD_ID_FIELD names the one the issuer's onboarding added; indexed as the
   * `ReplacesCardId` search attribute, so an operator finds every replacement of a card.
   */
  replacesCardId: cardIdSchema.optional(),
};

/** The order the workflow runs: card data only as D1's JWE. */
export const cardOrderSchema = z.strictObject({ ...orderFields, encryptedData: compactJweSchema });
export type CardOrder = z.infer<typeof cardOrderSchema>;

/**
 * An order as it was accepted at placement, read again for a re-order or a re-ship: D1's own rules only. Its id is
 * any D1 issuerRequestId, without the part reserved for re-orders, since first-generation orders were placed with
 * up to 64 characters before that rule, and what was accepted then stays accepted.
 */
export const acceptedCardOrderSchema = cardOrderSchema.extend({ issuerRequestId: issuerRequestIdSchema });

/**
 * What a caller passes to `orderCard`: clear card data to encrypt, or a ready `encryptedData`, never both, and
 * optional timings, which the client resolves into the workflow's input.
 */
export const cardOrderRequestSchema = z
  .strictObject({
    ...orderFields,
    timings: orderTimingsSchema.optional(),
    sensitiveData: sensitiveCardDataSchema.optional(),
    encryptedData: compactJweSchema.optional(),
  })
  .superRefine((order, ctx) => {
    if (order.replacesCardId !== undefined && order.services.issuance === 'CREATION') {
      ctx.addIssue({
        code: 'custom',
        path: ['replacesCardId'],
        message: 'only a RENEWAL or REPLACEMENT order names the card it replaces (services.issuance is CREATION)',
      });
    }
    if (Boolean(order.sensitiveData) === Boolean(order.encryptedData)) {
      ctx.addIssue({
        code: 'custom',
        path: [order.sensitiveData ? 'encryptedData' : 'sensitiveData'],
        message: 'give exactly one of sensitiveData (clear card data) and encryptedData (a ready JWE)',
      });
    }
  });
export type CardOrderRequest = z.input<typeof cardOrderRequestSchema>;

export { cardOrderWorkflowId } from './workflow-id.js';
