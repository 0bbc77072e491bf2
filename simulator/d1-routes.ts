/**
 * The endpoints D1 exposes (../shared/d1-api.md, Part A): the token endpoint and the banking API (order, batch
 * order, production status, Pull & change), with D1's checks in D1's order: faults, token, headers, path, issuer,
 * body.
 *
 * @module
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  batchCardItemSchema,
  cardIdSchema,
  correlationIdSchema,
  extraOrderFieldValueSchema,
  issuerIdSchema,
  issuerRequestIdSchema,
  MAX_BATCH_CARDS,
  orderRequestSchema,
  updateOrderRequestIdSchema,
  updateOrderRequestSchema,
  type BatchCardItem,
  type BatchOrderResult,
} from '../d1/schemas.js';
import type { TokenService } from './auth.js';
import { sleep, type Clock } from './clock.js';
import { checkEncryptedData, type EncryptionKeyPair, type ExpFormat } from './encrypted-data.js';
import type { FaultState } from './faults.js';
import {
  fieldIssues,
  parseOrRefuse,
  refuseOtherMethods,
  requireMediaType,
  HttpError,
  type FieldIssue,
} from '../common/http-errors.js';
import type { OrderStats } from './order-records.js';
import type { OrderStore } from './orders.js';

const cardPath = '/banking/v1/issuers/:issuerId/physicalCards/:cardId';

/** The D1 paths, in Fastify's syntax (`::` is a literal colon). */
export const d1Paths = {
  token: '/authz/v1/oauth2/token',
  production: `${cardPath}/operations::production`,
  updateOrder: `${cardPath}/operations::updateOrder`,
  productionStatus: `${cardPath}/productionStatus`,
  /** D1's batch "Order cards": its path is not public, this one is our choice (the client's D1_BATCH_ORDER_PATH). */
  batchProduction: '/banking/v1/issuers/:issuerId/physicalCards/operations::batchProduction',
  /** The spelling of D1's on-demand tracking guide. */
  productionStatusLowercase: '/banking/v1/issuers/:issuerId/physicalcards/:cardId/productionstatus',
} as const;

export interface D1RouteDependencies {
  tokens: TokenService;
  orders: OrderStore;
  faults: FaultState;
  encryptionKey: EncryptionKeyPair;
  expFormat: ExpFormat;
  /** Fields the issuer's onboarding added to the order body (D1_SIM_EXTRA_ORDER_FIELDS). @default none */
  extraOrderFields?: readonly string[] | undefined;
  /**
   * The header that carries a Pull & change request's identity, lower-cased (D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER).
   * @default none: every request is a new one
   */
  updateOrderIdempotencyHeader?: string | undefined;
  tokenTtlSeconds: number;
  clock: Clock;
  /** Aborted when the simulator closes, so no injected latency outlives it. */
  closing: AbortSignal;
  /** Never answers the request (timeoutRate), holding its socket until the client gives up or the server closes. */
  hold: (request: FastifyRequest, reply: FastifyReply) => void;
}

const cardParamsSchema = z.strictObject({ issuerId: issuerIdSchema, cardId: cardIdSchema });
const issuerParamsSchema = z.strictObject({ issuerId: issuerIdSchema });

/**
 * What a batch body must be before any card is looked at, else the whole request is refused with 400 naming the
 * field: `{cards: [...]}` and nothing else, 1..1000 objects, each with a string `cardId` (the key of its result).
 */
const batchEnvelopeSchema = z.strictObject({
  cards: z
    .array(z.looseObject({ cardId: z.string() }))
    .min(1)
    .max(MAX_BATCH_CARDS),
});
type BatchEnvelopeCard = z.infer<typeof batchEnvelopeSchema>['cards'][number];

/** Body limit of the batch endpoint: room for 1,000 full cards (16 KiB each), or the server's limit if larger. */
const BATCH_BODY_LIMIT_FLOOR = MAX_BATCH_CARDS * 16 * 1024;

/**
 * An order body checked as D1 would with the issuer's onboarding: the `extraFieldNames` it carries taken out (each a
 * string of 1..64 characters), the rest against the strict schema, so a field the onboarding did not add is refused.
 * Every issue of both is named in one 400.
 */
function parseOrderBody(body: unknown, extraFieldNames: readonly string[]) {
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const rest: unknown = isObject ? { ...body } : body;
  const issues: FieldIssue[] = [];
  const extra: [string, string][] = [];
  for (const name of isObject ? extraFieldNames : []) {
    const fields = rest as Record<string, unknown>;
    if (!Object.hasOwn(fields, name)) continue;
    const value = extraOrderFieldValueSchema.safeParse(fields[name]);
    delete fields[name];
    if (value.success) extra.push([name, value.data]);
    else issues.push(...fieldIssues(value.error, name));
  }
  const order = orderRequestSchema.safeParse(rest);
  if (!order.success) issues.push(...fieldIssues(order.error));
  if (issues.length > 0 || !order.success) throw HttpError.invalid(issues);
  return { order: order.data, extraFields: extra.length > 0 ? Object.fromEntries(extra) : undefined };
}

/** Registers the token endpoint and the banking API on `app`. */
export function registerD1Routes(app: FastifyInstance, deps: D1RouteDependencies): void {
  const { tokens, orders, faults } = deps;
  const tokenIssuers = new WeakMap<FastifyRequest, string>();

  /** What every banking call goes through before its body is read. */
  const gate = async (request: FastifyRequest) => {
    const { latencyMs, rateLimitRate, errorRate, retryAfterSeconds } = faults.current;
    if (latencyMs > 0) await sleep(deps.clock, latencyMs, deps.closing);
    if (faults.chance(rateLimitRate)) {
      throw new HttpError(429, 'RATE_LIMITED', 'too many requests; retry after the Retry-After delay', {
        headers: { 'retry-after': String(retryAfterSeconds) },
      });
    }
    if (faults.chance(errorRate)) {
      throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'D1 is temporarily unavailable; retry later');
    }
    if (faults.chance(faults.current.unauthorizedRate)) {
      throw new HttpError(401, 'UNAUTHORIZED', 'the access token was refused');
    }
    tokenIssuers.set(request, await tokens.authenticate(request.headers.authorization));
    const correlationId = request.headers['x-correlation-id'];
    if (correlationId !== undefined) parseOrRefuse(correlationIdSchema, correlationId, 'x-correlation-id');
    if (request.method === 'POST') requireMediaType(request);
  };

  /** The path's ids, checked, and the token's issuer matched against them. */
  const card = (request: FastifyRequest) => {
    const params = parseOrRefuse(cardParamsSchema, request.params);
    if (tokenIssuers.get(request) !== params.issuerId) {
      throw new HttpError(403, 'FORBIDDEN', `the access token was not issued to issuer ${params.issuerId}`);
    }
    return params;
  };

  /** Counts a call in `GET /__sim/stats` as it arrives, before any fault: every try is a D1 call. */
  const counted = (counter: keyof OrderStats) => (_request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    orders.count(counter);
    done();
  };
  /** Every banking call, whatever its endpoint (`apiCalls`). */
  const anyCall = counted('apiCalls');

  app.post(d1Paths.token, (request, reply) => {
    // RFC 6749 §5.1: token answers must not be cached, by HTTP/1.1 caches or older ones.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return tokens.exchange(request.body, faults.current.tokenTtlSeconds ?? deps.tokenTtlSeconds);
  });

  app.post(d1Paths.production, { onRequest: [anyCall, counted('orderRequests'), gate] }, async (request, reply) => {
    const { issuerId, cardId } = card(request);
    const { order, extraFields } = parseOrderBody(request.body, deps.extraOrderFields ?? []);
    if (order.distributionChannel !== 'THALES') {
      throw HttpError.invalid([
        { field: 'distributionChannel', reason: 'only THALES (central issuance) is supported by this simulator' },
      ]);
    }
    const issues = await checkEncryptedData(order.encryptedData, deps.encryptionKey, deps.expFormat);
    if (issues.length > 0) throw HttpError.invalid(issues, 'INVALID_ENCRYPTED_DATA');

    const result = orders.submit({
      issuerId,
      cardId,
      issuerRequestId: order.issuerRequestId,
      cardProductId: order.cardProductId,
      ...(extraFields && { extraFields }),
    });
    if (result.kind === 'in-progress') {
      throw new HttpError(
        409,
        'ORDER_IN_PROGRESS',
        `card ${cardId} has an order in progress under issuerRequestId ${result.issuerRequestId}`,
      );
    }
    if (faults.chance(faults.current.timeoutRate)) return deps.hold(request, reply);
    return reply.code(202).send({ operationId: result.operationId });
  });

  const productionStatus = (request: FastifyRequest) => {
    const { issuerId, cardId } = card(request);
    const { statusFault } = faults.current;
    if (statusFault === 'UNAVAILABLE') {
      throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'the status service is temporarily unavailable');
    }
    if (statusFault === 'MALFORMED') return { operations: [{ operationId: 'not an operation' }] };
    const operations = orders.status(issuerId, cardId);
    if (!operations) throw new HttpError(404, 'CARD_NOT_FOUND', `no order is known for card ${cardId}`);
    return { operations };
  };
  app.get(d1Paths.productionStatus, { onRequest: [anyCall, gate] }, productionStatus);
  app.get(d1Paths.productionStatusLowercase, { onRequest: [anyCall, gate] }, productionStatus);

  /** The Pull & change request's identity, when the header is configured and sent; 400 naming it when malformed. */
  const updateRequestId = (request: FastifyRequest): string | undefined => {
    const header = deps.updateOrderIdempotencyHeader;
    const value = header === undefined ? undefined : request.headers[header];
    return value === undefined ? undefined : parseOrRefuse(updateOrderRequestIdSchema, value, header);
  };

  app.post(d1Paths.updateOrder, { onRequest: [anyCall, gate] }, (request, reply) => {
    const requestId = updateRequestId(request);
    const { issuerId, cardId } = card(request);
    const update = parseOrRefuse(updateOrderRequestSchema, request.body);
    const refusal = faults.current.updateOrderRefusal;
    if (refusal) throw new HttpError(400, refusal, 'the personalization center refused the change');
    const result = orders.update(issuerId, cardId, update, requestId);
    if (result.kind === 'unknown-card') {
      throw new HttpError(404, 'CARD_NOT_FOUND', `no order is known for card ${cardId}`);
    }
    if (result.kind === 'request-id-reused') {
      throw new HttpError(
        409,
        'REQUEST_ID_REUSED',
        `the request id was already used for a different change of card ${cardId}`,
      );
    }
    reply.code(202).send({ operationId: result.operationId });
  });

  /**
   * One card of a batch, checked alone (strict item, THALES, `encryptedData`): its refusal, or the valid card. Never
   * echoes a value except the card's own ids.
   */
  const checkBatchCard = async (
    item: BatchEnvelopeCard,
  ): Promise<{ refused: BatchOrderResult } | { card: BatchCardItem }> => {
    const requestId = issuerRequestIdSchema.safeParse(item.issuerRequestId);
    const refused = (errorCode: string, fields: FieldIssue[]) => ({
      refused: {
        cardId: item.cardId,
        ...(requestId.success && { issuerRequestId: requestId.data }),
        status: 'REFUSED' as const,
        errorCode,
        error: fields.map((issue) => `${issue.field}: ${issue.reason}`).join('; '),
        fields,
      },
    });
    const parsed = batchCardItemSchema.safeParse(item);
    if (!parsed.success) return refused('INVALID_FIELD', fieldIssues(parsed.error));
    const issues = await checkEncryptedData(parsed.data.encryptedData, deps.encryptionKey, deps.expFormat);
    if (issues.length > 0) return refused('INVALID_ENCRYPTED_DATA', issues);
    return { card: parsed.data };
  };

  /** A valid batch card through the same store as a single order: same idempotency, lifecycle and notifications. */
  const submitBatchCard = (issuerId: string, card: BatchCardItem): BatchOrderResult => {
    const { cardId, issuerRequestId } = card;
    const result = orders.submit({ issuerId, cardId, issuerRequestId, cardProductId: card.cardProductId });
    if (result.kind === 'in-progress') {
      return {
        cardId,
        issuerRequestId,
        status: 'REFUSED',
        errorCode: 'ORDER_IN_PROGRESS',
        error: `card ${cardId} has an order in progress under issuerRequestId ${result.issuerRequestId}`,
      };
    }
    return { cardId, issuerRequestId, status: 'ACCEPTED', operationId: result.operationId };
  };

  const batchBodyLimit = Math.max(app.initialConfig.bodyLimit ?? 0, BATCH_BODY_LIMIT_FLOOR);
  app.post(
    d1Paths.batchProduction,
    {
      onRequest: [anyCall, counted('batchRequests'), gate],
      bodyLimit: batchBodyLimit,
      // The server-wide 413 would name the server's limit, not this route's.
      errorHandler: (error: FastifyError) => {
        if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw error;
        throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${batchBodyLimit} bytes`);
      },
    },
    async (request, reply) => {
      const { issuerId } = parseOrRefuse(issuerParamsSchema, request.params);
      if (tokenIssuers.get(request) !== issuerId) {
        throw new HttpError(403, 'FORBIDDEN', `the access token was not issued to issuer ${issuerId}`);
      }
      const { cards } = parseOrRefuse(batchEnvelopeSchema, request.body);
      orders.count('batchCards', cards.length);
      // Decryption runs concurrently; orders are stored in the request's order, so a card listed twice is
      // judged as two calls in a row would be.
      const checked = await Promise.all(cards.map(checkBatchCard));
      const results = checked.map((outcome) =>
        'refused' in outcome ? outcome.refused : submitBatchCard(issuerId, outcome.card),
      );
      if (faults.chance(faults.current.timeoutRate)) return deps.hold(request, reply);
      return reply.code(200).send({ results });
    },
  );

  refuseOtherMethods(app, d1Paths.token, ['POST']);
  refuseOtherMethods(app, d1Paths.batchProduction, ['POST']);
  refuseOtherMethods(app, d1Paths.production, ['POST']);
  refuseOtherMethods(app, d1Paths.updateOrder, ['POST']);
  refuseOtherMethods(app, d1Paths.productionStatus, ['GET']);
  refuseOtherMethods(app, d1Paths.productionStatusLowercase, ['GET']);
}
