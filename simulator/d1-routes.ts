/**
 * The endpoints D1 exposes (../shared/d1-api.md, Part A): the token endpoint and the banking API (order,
 * production status, Pull & change), with D1's checks in D1's order: faults, token, headers, path, issuer, body.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  cardIdSchema,
  correlationIdSchema,
  issuerIdSchema,
  orderRequestSchema,
  updateOrderRequestSchema,
} from '../d1/schemas.js';
import type { TokenService } from './auth.js';
import { sleep, type Clock } from './clock.js';
import { checkEncryptedData, type EncryptionKeyPair, type ExpFormat } from './encrypted-data.js';
import type { FaultState } from './faults.js';
import { parseOrRefuse, refuseOtherMethods, requireMediaType, HttpError } from '../common/http-errors.js';
import type { OrderStore } from './orders.js';

const cardPath = '/banking/v1/issuers/:issuerId/physicalCards/:cardId';

/** The D1 paths, in Fastify's syntax (`::` is a literal colon). */
export const d1Paths = {
  token: '/authz/v1/oauth2/token',
  production: `${cardPath}/operations::production`,
  updateOrder: `${cardPath}/operations::updateOrder`,
  productionStatus: `${cardPath}/productionStatus`,
  /** The spelling of D1's on-demand tracking guide. */
  productionStatusLowercase: '/banking/v1/issuers/:issuerId/physicalcards/:cardId/productionstatus',
} as const;

export interface D1RouteDependencies {
  tokens: TokenService;
  orders: OrderStore;
  faults: FaultState;
  encryptionKey: EncryptionKeyPair;
  expFormat: ExpFormat;
  tokenTtlSeconds: number;
  clock: Clock;
  /** Aborted when the simulator closes, so no injected latency outlives it. */
  closing: AbortSignal;
  /** Never answers the request (timeoutRate), holding its socket until the client gives up or the server closes. */
  hold: (request: FastifyRequest, reply: FastifyReply) => void;
}

const cardParamsSchema = z.strictObject({ issuerId: issuerIdSchema, cardId: cardIdSchema });

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

  app.post(d1Paths.token, (request, reply) => {
    // RFC 6749 §5.1: token answers must not be cached.
    reply.header('cache-control', 'no-store');
    return tokens.exchange(request.body, faults.current.tokenTtlSeconds ?? deps.tokenTtlSeconds);
  });

  app.post(d1Paths.production, { onRequest: gate }, async (request, reply) => {
    const { issuerId, cardId } = card(request);
    const order = parseOrRefuse(orderRequestSchema, request.body);
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
  app.get(d1Paths.productionStatus, { onRequest: gate }, productionStatus);
  app.get(d1Paths.productionStatusLowercase, { onRequest: gate }, productionStatus);

  app.post(d1Paths.updateOrder, { onRequest: gate }, (request, reply) => {
    const { issuerId, cardId } = card(request);
    const update = parseOrRefuse(updateOrderRequestSchema, request.body);
    const refusal = faults.current.updateOrderRefusal;
    if (refusal) throw new HttpError(400, refusal, 'the personalization center refused the change');
    const operationId = orders.update(issuerId, cardId, update.type);
    if (!operationId) throw new HttpError(404, 'CARD_NOT_FOUND', `no order is known for card ${cardId}`);
    reply.code(202).send({ operationId });
  });

  refuseOtherMethods(app, d1Paths.token, ['POST']);
  refuseOtherMethods(app, d1Paths.production, ['POST']);
  refuseOtherMethods(app, d1Paths.updateOrder, ['POST']);
  refuseOtherMethods(app, d1Paths.productionStatus, ['GET']);
  refuseOtherMethods(app, d1Paths.productionStatusLowercase, ['GET']);
}
