/**
 * zod schemas of what D1 reports about an order (../shared/d1-api.md, Part A): its production statuses, the
 * operations of notifications and of the status answer, and D1's error body. Read leniently, as D1 asks: unknown
 * `details.status` values and extra fields are kept, not refused.
 *
 * @module
 */
import { z } from 'zod';
import { cardIdSchema, d1StringBounds, issuerRequestIdSchema, operationIdSchema } from './schemas.js';

const code = z.string().max(d1StringBounds.code);
const text = z.string().max(d1StringBounds.text);

/** `details.status` values D1 documents; others may come and are kept as they are. */
export const knownProductionStatuses = [
  'CARD_PROD_REQUESTED',
  'DATA_PREPARED',
  'DATA_EXCEPTION',
  'CARD_PROD_READY',
  'CARD_PROD_ONGOING',
  'CARD_PROD_DONE',
  'CARD_PROD_EXCEPTION',
  'CARD_SHIPPED',
  'CARD_PROD_CANCELED',
  'CARD_RETURNED',
] as const;
export type KnownProductionStatus = (typeof knownProductionStatuses)[number];

/** The stages of a PRODUCE operation when nothing fails, in order (../shared/d1-api.md, Part A). */
export const productionLifecycle = [
  'CARD_PROD_REQUESTED',
  'DATA_PREPARED',
  'CARD_PROD_READY',
  'CARD_PROD_ONGOING',
  'CARD_PROD_DONE',
  'CARD_SHIPPED',
] as const satisfies readonly KnownProductionStatus[];
/** A production status: one of the known values, or a future one D1 adds. */
export type ProductionStatus = KnownProductionStatus | (string & {});

export const operationStatuses = ['PENDING', 'SUCCESSFUL', 'FAILED'] as const;
export type OperationStatus = (typeof operationStatuses)[number];

// zod's date-time format takes any number of fractional digits: the bound is ours.
const isoDateTime = z.iso.datetime({ offset: true }).max(d1StringBounds.dateTime);

/** Carrier tracking, usually present once the card is shipped; carriers fill what they can. */
export const shipmentTrackingSchema = z.looseObject({
  carrier: code.optional(),
  trackingNumber: z.string().max(d1StringBounds.trackingNumber).optional(),
  status: code.optional(),
  message: text.optional(),
  trackingUrl: z.string().max(d1StringBounds.url).optional(),
});
export type ShipmentTracking = z.infer<typeof shipmentTrackingSchema>;

export const operationDetailsSchema = z.looseObject({
  /** A {@link ProductionStatus}: kept as a string, since D1 may add values; the ProductionStage search attribute. */
  status: code.min(1),
  reason: text.optional(),
  dueDate: code.optional(),
  productionSite: z.string().max(d1StringBounds.productionSite).optional(),
  shipment: shipmentTrackingSchema.optional(),
  inputFileName: z.string().max(d1StringBounds.fileName).optional(),
  // The id's length only: D1 documents this copy as the input file's, and we route by the top-level one.
  issuerRequestId: z.string().max(64).optional(),
});

/** One operation as D1 reports it, in notifications and in the status response alike. */
export const operationSchema = z.looseObject({
  operationId: operationIdSchema,
  /** `PRODUCE` for production, `UPDATE_ORDER` for Pull & change outcomes; other card operations may appear. */
  operation: code.min(1),
  status: z.enum(operationStatuses),
  startTime: isoDateTime,
  endTime: isoDateTime.optional(),
  cardId: cardIdSchema,
  issuerRequestId: issuerRequestIdSchema.optional(),
  errorCode: code.min(1).optional(),
  error: text.optional(),
  inputFileName: z.string().max(d1StringBounds.fileName).optional(),
  details: operationDetailsSchema,
});
export type Operation = z.infer<typeof operationSchema>;

/** Most operations in one notification batch or status answer (a card has a handful in practice). */
export const MAX_REPORTED_OPERATIONS = 1000;

/** `GET .../productionStatus`: every operation D1 knows for the card. */
export const productionStatusResponseSchema = z.looseObject({
  operations: z.array(operationSchema).max(MAX_REPORTED_OPERATIONS),
});
export type ProductionStatusResponse = z.infer<typeof productionStatusResponseSchema>;

/** What D1 posts to the issuer's notification endpoint: a batch of 1..N operations. */
export const notificationBatchSchema = z.looseObject({
  operations: z.array(operationSchema).min(1).max(MAX_REPORTED_OPERATIONS),
});
export type NotificationBatch = z.infer<typeof notificationBatchSchema>;

/** The body of every D1 error answer; both fields are optional in practice. */
export const errorBodySchema = z.looseObject({
  errorCode: code.optional(),
  error: text.optional(),
  error_description: text.optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
