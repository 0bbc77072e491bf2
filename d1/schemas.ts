/**
 * zod schemas of every D1 Physical Issuance payload we send or receive (../shared/d1-api.md, Part A). They are the
 * single source of the D1 types. Requests we build are strict (an unknown field is our bug, and the simulator
 * refuses it as D1 would); what D1 sends us is read leniently, as D1 asks: unknown `details.status` values and
 * extra fields are kept, not refused.
 *
 * @module
 */
import { z } from 'zod';

const idChars = /^[A-Za-z0-9_-]+$/;
const id = (max: number) => z.string().min(1).max(max).regex(idChars, `must match ^[A-Za-z0-9_-]{1,${max}}$`);

/** The issuer identifier D1 assigns at onboarding: exactly 10 characters. */
export const issuerIdSchema = z
  .string()
  .length(10, 'must be exactly 10 characters')
  .regex(idChars, 'must use only A-Z, a-z, 0-9, _ and -');
export const cardIdSchema = id(48);
export const consumerIdSchema = id(64);
export const issuerRequestIdSchema = id(64);
export const operationIdSchema = id(64);
export const cardProductIdSchema = id(48);
export const correlationIdSchema = id(64);

/** A postal address as D1 reads it for delivery, the card carrier and Pull & change. */
export const addressSchema = z.strictObject({
  title: z.string().min(1).max(32).optional(),
  firstName: z.string().min(1).max(64).optional(),
  lastName: z.string().min(1).max(64).optional(),
  companyName: z.string().min(1).max(100).optional(),
  line1: z.string().min(1).max(100),
  line2: z.string().min(1).max(100).optional(),
  line3: z.string().min(1).max(100).optional(),
  city: z.string().min(1).max(64),
  state: z.string().min(1).max(64).optional(),
  zipCode: z.string().min(1).max(16),
  countryCode: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as US'),
  mobilePhoneNumber: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'must be an international number such as +15551234567')
    .optional(),
});
export type Address = z.infer<typeof addressSchema>;

export const issuanceTypes = ['CREATION', 'RENEWAL', 'REPLACEMENT'] as const;

/** What to produce and how to ship it; identifiers such as `delivery` are set up at onboarding. */
export const servicesSchema = z.strictObject({
  issuance: z.enum(issuanceTypes),
  priority: z.string().min(1).max(64).optional(),
  delivery: z.string().min(1).max(64).optional(),
  cardCarrier: z.string().min(1).max(64).optional(),
  packaging: z.string().min(1).max(64).optional(),
  pinMailer: z.boolean().optional(),
  alphaCard: z.boolean().optional(),
});
export type Services = z.infer<typeof servicesSchema>;

/** INDIVIDUAL ships to the cardholder (its address printed on the carrier); BULK groups cards for a branch. */
export const shipmentSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('INDIVIDUAL'),
    deliveryAddress: addressSchema,
    individualAddress: addressSchema,
  }),
  z.strictObject({
    type: z.literal('BULK'),
    deliveryAddress: addressSchema,
    groupId: id(64).optional(),
    orderId: id(64).optional(),
  }),
]);
export type Shipment = z.infer<typeof shipmentSchema>;

const shortText = z.string().min(1).max(256);

export const cardDesignSchema = z.strictObject({
  cardImage: shortText.optional(),
  images: z.array(shortText).max(10).optional(),
  customLines: z.array(z.string().max(64)).max(6).optional(),
  memberId: z.string().min(1).max(64).optional(),
});
export const cardCarrierConfigSchema = z.strictObject({
  language: z
    .string()
    .regex(/^[a-z]{2}$/, 'must be an ISO 639-1 code such as en')
    .optional(),
  images: z.array(shortText).max(10).optional(),
  customLines: z.array(z.string().max(64)).max(10).optional(),
});
export const packagingConfigSchema = z.strictObject({
  inserts: z.array(id(64)).max(10).optional(),
});
/** EMV data model 1: D1 computes the chip data from these key indexes. */
export const paymentApplicationSchema = z.strictObject({
  config: z.string().min(1).max(64),
  odaKeyIndex: z.string().min(1).max(8),
  derivationKeyIndex: z.string().min(1).max(8),
  cvKeyIndex: z.string().min(1).max(8).optional(),
  pvKeyIndex: z.string().min(1).max(8).optional(),
});
/** Magnetic-stripe overrides, used by D1 as they are. Card data: never logged, encrypted in Temporal history. */
export const trackDataSchema = z.strictObject({
  track1: z.string().min(1).max(79).optional(),
  track2: z.string().min(1).max(40).optional(),
  track3: z.string().min(1).max(107).optional(),
});

/** A compact JWE: five base64url parts, the second (the encrypted key) empty for ECDH-ES direct agreement. */
export const compactJweSchema = z
  .string()
  .max(8192)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'must be a compact JWE');

const orderBodyFields = {
  cardProductId: cardProductIdSchema,
  consumerId: consumerIdSchema,
  issuerRequestId: issuerRequestIdSchema,
  services: servicesSchema,
  encryptedData: compactJweSchema,
  cardDesign: cardDesignSchema.optional(),
  cardCarrierConfig: cardCarrierConfigSchema.optional(),
  packagingConfig: packagingConfigSchema.optional(),
  paymentApplication: paymentApplicationSchema.optional(),
  trackData: trackDataSchema.optional(),
};

/**
 * The body of `POST .../physicalCards/{cardId}/operations:production`, discriminated by `distributionChannel`.
 * THALES (central issuance, our case) requires a shipment; INSTANT and CENTRAL personalise elsewhere.
 */
export const orderRequestSchema = z.discriminatedUnion('distributionChannel', [
  z.strictObject({ distributionChannel: z.literal('THALES'), ...orderBodyFields, shipment: shipmentSchema }),
  z.strictObject({
    distributionChannel: z.literal('INSTANT'),
    ...orderBodyFields,
    shipment: shipmentSchema.optional(),
  }),
  z.strictObject({
    distributionChannel: z.literal('CENTRAL'),
    ...orderBodyFields,
    shipment: shipmentSchema.optional(),
  }),
]);
export type OrderRequest = z.infer<typeof orderRequestSchema>;

/** The order body's own top-level fields, every distribution channel's. */
export const orderRequestFields: readonly string[] = [
  'distributionChannel',
  ...Object.keys(orderBodyFields),
  'shipment',
];

/**
 * The name of a field an issuer's D1 onboarding added to the order body (D1 documents none; e.g. `oldCardId`, the
 * card an order replaces): a JSON field name that is not one of the body's own fields.
 */
export const extraOrderFieldNameSchema = z
  .string()
  .regex(/^[a-z][A-Za-z0-9]{0,63}$/, 'must be a JSON field name matching ^[a-z][A-Za-z0-9]{0,63}$')
  .superRefine((name, ctx) => {
    if (orderRequestFields.includes(name)) {
      ctx.addIssue({ code: 'custom', message: `must not be ${name}, a field of the order body itself` });
    }
  });
/** The value of such a field: a string of 1..64 characters. */
export const extraOrderFieldValueSchema = z.string().min(1).max(64);
/** An order body with the fields the onboarding added, each under its own name (never a body field's). */
export type OrderRequestWithExtraFields = OrderRequest & { readonly [extraField: string]: unknown };

/** Most cards in one batch order, as D1 documents it. */
export const MAX_BATCH_CARDS = 1000;

/**
 * One card of a batch order (D1's `cardItem`): the THALES order body plus the card's `cardId`, with
 * `paymentApplication` required, as D1 documents for the batch. Only central issuance (THALES) is ordered in batch.
 */
export const batchCardItemSchema = z.strictObject({
  cardId: cardIdSchema,
  distributionChannel: z.literal('THALES', {
    // A missing channel keeps zod's own message; a wrong one says what is accepted.
    error: (issue) => (issue.input === undefined ? undefined : 'must be THALES (central issuance)'),
  }),
  ...orderBodyFields,
  paymentApplication: paymentApplicationSchema,
  shipment: shipmentSchema,
});
export type BatchCardItem = z.infer<typeof batchCardItemSchema>;

/** The body of D1's batch "Order cards" API: 1 to 1,000 cards, nothing else. */
export const batchOrderRequestSchema = z.strictObject({
  cards: z.array(batchCardItemSchema).min(1).max(MAX_BATCH_CARDS),
});
export type BatchOrderRequest = z.infer<typeof batchOrderRequestSchema>;

/**
 * Bounds of the strings D1 sends us. Every one is bounded, so an oversize value is refused where it enters (the
 * webhook, the D1 client), naming its field, rather than reaching a workflow: `details.status` becomes the
 * ProductionStage search attribute (Temporal fails the workflow task on a value over its size limit, and visibility
 * stores it unencrypted), and the rest lands in history and issuer events. Ids follow D1's patterns (above).
 */
export const d1StringBounds = {
  /** Codes: `operation`, `errorCode`, `details.status`, carrier codes and statuses, `dueDate`. */
  code: 64,
  /** A tracking number (carriers use up to about 40 characters). */
  trackingNumber: 64,
  /** A production site's id or name. */
  productionSite: 128,
  /** A file name (`inputFileName`), as file systems bound it. */
  fileName: 255,
  /** A field path in a refusal (`shipment.deliveryAddress.zipCode`). */
  fieldPath: 256,
  /** Free text for people: `reason`, `error`, `error_description`, the carrier's `message`. */
  text: 512,
  /** A URL (`trackingUrl`), the length browsers and proxies reliably take. */
  url: 2048,
  /** An ISO 8601 date-time: nanoseconds and an offset take 35 characters. */
  dateTime: 40,
  /** D1's access token (a JWT): generous, since a refused token stops every call. */
  accessToken: 16384,
  /** An OAuth scope list. */
  scope: 1024,
} as const;

const code = z.string().max(d1StringBounds.code);
const text = z.string().max(d1StringBounds.text);

/** A field of a refused batch card and why, never its value (other keys D1 may add are dropped). */
export const fieldIssueSchema = z.object({
  field: z.string().max(d1StringBounds.fieldPath),
  reason: text,
});

/** A batch card D1 accepted: its production started (or, for a resubmission, the original operation). */
export const batchOrderAcceptedSchema = z.looseObject({
  cardId: cardIdSchema,
  issuerRequestId: issuerRequestIdSchema.optional(),
  status: z.literal('ACCEPTED'),
  operationId: operationIdSchema,
});
/**
 * A batch card D1 refused: `INVALID_FIELD` (with `fields`), `INVALID_ENCRYPTED_DATA` (with `fields`),
 * `ORDER_IN_PROGRESS` (another issuerRequestId is in flight for the card), or any other code D1 may use.
 */
export const batchOrderRefusedSchema = z.looseObject({
  cardId: cardIdSchema,
  issuerRequestId: issuerRequestIdSchema.optional(),
  status: z.literal('REFUSED'),
  errorCode: code.min(1),
  error: text,
  fields: z.array(fieldIssueSchema).max(100).optional(),
});
export const batchOrderResultSchema = z.discriminatedUnion('status', [
  batchOrderAcceptedSchema,
  batchOrderRefusedSchema,
]);
export type BatchOrderResult = z.infer<typeof batchOrderResultSchema>;

/**
 * The answer to a batch order. D1 does not publish it, so this is OUR choice, which the simulator follows and the
 * client checks: HTTP 200 `{results: [...]}`, one result per card, in the request's order, each carrying the card's
 * `cardId` (and its `issuerRequestId` when it was valid). A refused card never affects the others.
 */
export const batchOrderResponseSchema = z.looseObject({
  results: z.array(batchOrderResultSchema).max(MAX_BATCH_CARDS),
});
export type BatchOrderResponse = z.infer<typeof batchOrderResponseSchema>;

/** 202 to an order or an update: the operation D1 started. */
export const operationAcceptedSchema = z.looseObject({ operationId: operationIdSchema });
export type OperationAccepted = z.infer<typeof operationAcceptedSchema>;

export const updateOrderTypes = ['CANCEL', 'ACCELERATE', 'REDIRECT', 'ACCELERATE_AND_REDIRECT'] as const;
export type UpdateOrderType = (typeof updateOrderTypes)[number];

/** Pull & change: the REDIRECT kinds need a new address, the others must not carry one. */
export const updateOrderRequestSchema = z
  .strictObject({ type: z.enum(updateOrderTypes), newDeliveryAddress: addressSchema.optional() })
  .superRefine((body, ctx) => {
    const redirect = body.type === 'REDIRECT' || body.type === 'ACCELERATE_AND_REDIRECT';
    if (redirect && !body.newDeliveryAddress) {
      ctx.addIssue({ code: 'custom', path: ['newDeliveryAddress'], message: `is required for ${body.type}` });
    }
    if (!redirect && body.newDeliveryAddress) {
      ctx.addIssue({ code: 'custom', path: ['newDeliveryAddress'], message: `is not allowed for ${body.type}` });
    }
  });
export type UpdateOrderRequest = z.infer<typeof updateOrderRequestSchema>;

/**
 * The identity of one Pull & change request, the same on every retry of it, so D1 acts on it once: D1's ids'
 * charset, as D1 documents for `issuerRequestId`.
 */
export const updateOrderRequestIdSchema = id(64);

/** Headers the D1 client sets itself (or undici does), which the idempotency header must not replace. */
const ownHeaders = ['authorization', 'accept', 'content-type', 'content-length', 'host', 'x-correlation-id'];

/**
 * The HTTP header that carries a Pull & change request's identity (D1 documents none; ours to choose, as
 * D1_UPDATE_ORDER_IDEMPOTENCY_HEADER): an RFC 9110 field name, not one the client sets for its own use.
 */
export const idempotencyHeaderNameSchema = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name (RFC 9110 token), or none')
  .superRefine((name, ctx) => {
    if (ownHeaders.includes(name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', message: `must not be ${name}, a header the D1 client sets itself` });
    }
  });

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The token request, sent as a form or JSON. */
export const tokenRequestSchema = z.strictObject({
  grant_type: z.literal(JWT_BEARER_GRANT),
  assertion: z.string().min(1).max(8192),
});

/** D1's token answer; `expires_in` arrives as a number or a numeric string. */
export const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1).max(d1StringBounds.accessToken),
  token_type: z.string().regex(/^bearer$/i, 'must be Bearer'),
  expires_in: z.coerce.number().int().positive(),
  scope: z.string().max(d1StringBounds.scope).optional(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * The clear card data that goes inside `encryptedData`. Messages never echo a value: the only place these values
 * may exist outside the JWE is the caller's own memory.
 */
export const sensitiveCardDataSchema = z.strictObject({
  pan: z
    .string()
    .regex(/^\d{12,19}$/, 'must be 12 to 19 digits')
    .refine(luhnValid, 'fails the Luhn check'),
  exp: z.string().regex(/^\d{2}(0[1-9]|1[0-2])$/, 'must be YYMM, e.g. 2906'),
  name: z.string().min(1).max(26),
  secondName: z.string().min(1).max(26).optional(),
  encodedName: z.string().min(1).max(26).optional(),
  cvv1: z
    .string()
    .regex(/^\d{3}$/, 'must be 3 digits')
    .optional(),
  cvv2: z
    .string()
    .regex(/^\d{3,4}$/, 'must be 3 or 4 digits')
    .optional(),
  pvv: z
    .string()
    .regex(/^\d{4,5}$/, 'must be 4 or 5 digits')
    .optional(),
  panSequenceNumber: z
    .string()
    .regex(/^\d{2}$/, 'must be 2 digits')
    .optional(),
  paymentAccountReference: z.string().min(1).max(29).optional(),
  effectiveDate: z
    .string()
    .regex(/^\d{2}(0[1-9]|1[0-2])$/, 'must be YYMM')
    .optional(),
});
export type SensitiveCardData = z.infer<typeof sensitiveCardDataSchema>;
