/**
 * The D1 Physical Issuance client: OAuth 2.0 tokens, card orders, production status and Pull & change, over one
 * keep-alive undici pool per D1 origin, with optional mutual TLS. Every failure comes out as a typed `D1Error`
 * with a retry verdict; no caller sees HTTP.
 *
 * Pointed at the simulator by default; at the real D1 by configuration alone (`D1_BASE_URL`, keys, mTLS files).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { D1InvalidResponseError, D1UnauthorizedError } from './errors.js';
import { KeyMaterialError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { readInlineOrFile } from '../common/secrets.js';
import { describeIssues } from '../common/zod-issues.js';
import { signAssertion } from './assertion.js';
import { errorFromResponse, errorFromTransport } from './classify.js';
import { loadSigningKey, type KeySource, type KeyWithId } from './keys.js';
import {
  batchOrderResponseSchema,
  JWT_BEARER_GRANT,
  operationAcceptedSchema,
  tokenResponseSchema,
  type BatchCardItem,
  type BatchOrderResult,
  type OperationAccepted,
  type OrderRequest,
  type UpdateOrderRequest,
} from './schemas.js';
import { productionStatusResponseSchema, type ProductionStatusResponse } from './report-schemas.js';
import { TokenCache, type IssuedToken } from './token-cache.js';

/** Per-call options. */
export interface D1CallOptions {
  /** Aborts the call (an activity's cancellation signal, say). */
  signal?: AbortSignal;
  /** Sent as `x-correlation-id`; a random one is made when absent. Never derive it from personal data. */
  correlationId?: string;
  /** This call's timeout, when it differs from the client's (a batch of a thousand cards takes longer). */
  timeoutMs?: number;
}

/** Options of a Pull & change call. */
export interface UpdateOrderOptions extends D1CallOptions {
  /**
   * The request's identity, sent in the `updateOrderIdempotencyHeader`: the same on every retry of one request, so
   * D1 acts on it once (`^[A-Za-z0-9_-]{1,64}$`). Absent, or without that header configured, none is sent.
   */
  requestId?: string;
}

export interface D1ClientOptions {
  /** D1's origin, e.g. `https://api.d1.thalescloud.io`. */
  baseUrl: string;
  /** Token endpoint path, e.g. `/authz/v1/oauth2/token`. */
  tokenPath: string;
  /** Banking API path, e.g. `/banking/v1`. */
  apiPath: string;
  /** Pull & change path under `apiPath`, with `{issuerId}` and `{cardId}` placeholders. */
  updateOrderPath: string;
  /**
   * The header a Pull & change request's identity goes in (`D1_UPDATE_ORDER_IDEMPOTENCY_HEADER`); D1 documents none.
   * Absent: no identity is sent.
   */
  updateOrderIdempotencyHeader?: string | undefined;
  /**
   * Batch "Order cards" path under `apiPath`, with an `{issuerId}` placeholder. D1 does not publish it: the default
   * (`D1_BATCH_ORDER_PATH`) is our choice, which the simulator serves.
   */
  batchOrderPath: string;
  /** The signing key (and its `kid`) of each issuer this client acts for. */
  signingKeyFor: (issuerId: string) => Promise<KeyWithId>;
  assertionAudience?: string | undefined;
  assertionTtlMs: number;
  tokenRefreshMarginMs: number;
  /** Time limit of one request, in ms. */
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  /** Mutual TLS: our client certificate and key, and the CA that D1's server certificate chains to (PEM). */
  tls?: { cert?: string | Buffer; key?: string | Buffer; ca?: string | Buffer };
  /** Replaces the pool (tests, proxies). The client does not close a dispatcher it was given. */
  dispatcher?: Dispatcher;
  logger?: Logger;
  now?: () => number;
}

/**
 * The settings {@link D1Client.fromConfig} reads: the client's own, the issuer it acts for, where its signing key
 * and its mutual-TLS files are. The configuration's `d1` section has them.
 */
export interface D1Settings extends Omit<D1ClientOptions, 'signingKeyFor' | 'tls' | 'dispatcher' | 'logger' | 'now'> {
  issuerId: string;
  signingKey: KeySource;
  tls: { certFile?: string | undefined; keyFile?: string | undefined; caFile?: string | undefined };
}

type Method = 'GET' | 'POST';

interface Call<T> {
  operation: string;
  method: Method;
  path: string;
  issuerId: string;
  body?: unknown;
  /** Headers of this call besides the ones every call carries. */
  headers?: Record<string, string>;
  schema: z.ZodType<T>;
}

/** The batch answer's contract for these cards: one result per card, in order, with its cardId (and issuerRequestId). */
function batchResponseFor(cards: readonly BatchCardItem[]) {
  return batchOrderResponseSchema.superRefine(({ results }, ctx) => {
    if (results.length !== cards.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['results'],
        message: `has ${results.length} results for ${cards.length} cards`,
      });
      return;
    }
    results.forEach((result, i) => {
      const card = cards[i];
      if (result.cardId !== card?.cardId) {
        ctx.addIssue({ code: 'custom', path: ['results', i, 'cardId'], message: `is not the cardId of card ${i}` });
      }
      if (result.issuerRequestId !== undefined && result.issuerRequestId !== card?.issuerRequestId) {
        ctx.addIssue({
          code: 'custom',
          path: ['results', i, 'issuerRequestId'],
          message: `is not the issuerRequestId of card ${i}`,
        });
      }
    });
  });
}

export class D1Client {
  readonly #options: D1ClientOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #tokens: TokenCache;
  readonly #now: () => number;

  constructor(options: D1ClientOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#ownsDispatcher = !options.dispatcher;
    this.#dispatcher =
      options.dispatcher ??
      new Pool(options.baseUrl, {
        connections: options.maxConnections,
        keepAliveTimeout: 30_000,
        connect: { timeout: options.connectTimeoutMs, ...options.tls },
      });
    this.#tokens = new TokenCache((issuerId) => this.#fetchToken(issuerId), options.tokenRefreshMarginMs, this.#now);
  }

  /** A client for the configured D1, with its keys and certificates read from the configured files. */
  static async fromConfig(config: D1Settings, logger?: Logger): Promise<D1Client> {
    const signingKey = await loadSigningKey(config.signingKey);
    const readPem = async (file: string | undefined, what: string) =>
      file ? await readInlineOrFile({ file }, { what }) : undefined;
    const [cert, key, ca] = await Promise.all([
      readPem(config.tls.certFile, 'D1 client certificate'),
      readPem(config.tls.keyFile, 'D1 client key'),
      readPem(config.tls.caFile, 'D1 CA certificate'),
    ]);
    return new D1Client({
      ...config,
      signingKeyFor: (issuerId) =>
        issuerId === config.issuerId
          ? Promise.resolve(signingKey)
          : Promise.reject(new KeyMaterialError(`No D1 signing key is configured for issuer ${issuerId}`)),
      tls: { ...(cert && { cert }), ...(key && { key }), ...(ca && { ca }) },
      ...(logger && { logger }),
    });
  }

  /** A valid access token for `issuerId`, cached and refreshed shortly before expiry. */
  getToken(issuerId: string): Promise<string> {
    return this.#tokens.get(issuerId);
  }

  /** Orders one physical card. Idempotent at D1 by `issuerRequestId`: a retry returns the original operation. */
  orderCard(
    issuerId: string,
    cardId: string,
    order: OrderRequest,
    options?: D1CallOptions,
  ): Promise<OperationAccepted> {
    return this.#call(
      {
        operation: 'order card',
        method: 'POST',
        path: `${this.#cardPath(issuerId, cardId)}/operations:production`,
        issuerId,
        body: order,
        schema: operationAcceptedSchema,
      },
      options,
    );
  }

  /**
   * Orders 1 to 1,000 cards in one call (D1's batch "Order cards"): one result per card, in the order of `cards`,
   * ACCEPTED with its operationId or REFUSED with D1's reason; a refused card does not affect the others. Idempotent
   * per card like {@link orderCard}: a retry of the batch gets the original operationIds. A failure of the call as a
   * whole (401, 429, 5xx, timeout...) is a `D1Error` classified as for `orderCard`; an answer that does not give
   * exactly one result per card, in order, is `ERR_D1_INVALID_RESPONSE`.
   */
  async orderCards(issuerId: string, cards: BatchCardItem[], options?: D1CallOptions): Promise<BatchOrderResult[]> {
    const path = this.#options.batchOrderPath.replace('{issuerId}', encodeURIComponent(issuerId));
    const answer = await this.#call(
      {
        operation: 'order cards',
        method: 'POST',
        path: `${this.#options.apiPath}${path}`,
        issuerId,
        body: { cards },
        schema: batchResponseFor(cards),
      },
      options,
    );
    return answer.results;
  }

  /** Every operation D1 knows for the card, as notifications report them. */
  getProductionStatus(issuerId: string, cardId: string, options?: D1CallOptions): Promise<ProductionStatusResponse> {
    return this.#call(
      {
        operation: 'get production status',
        method: 'GET',
        path: `${this.#cardPath(issuerId, cardId)}/productionStatus`,
        issuerId,
        schema: productionStatusResponseSchema,
      },
      options,
    );
  }

  /**
   * Pull & change: cancel, accelerate or redirect an order not yet shipped; the outcome arrives as UPDATE_ORDER.
   * With a `requestId` (and the idempotency header configured), a retry of the same request is the same request to
   * D1: the original operation, nothing done twice.
   */
  updateOrder(
    issuerId: string,
    cardId: string,
    update: UpdateOrderRequest,
    { requestId, ...options }: UpdateOrderOptions = {},
  ): Promise<OperationAccepted> {
    const path = this.#options.updateOrderPath
      .replace('{issuerId}', encodeURIComponent(issuerId))
      .replace('{cardId}', encodeURIComponent(cardId));
    const header = this.#options.updateOrderIdempotencyHeader;
    return this.#call(
      {
        operation: 'update order',
        method: 'POST',
        path: `${this.#options.apiPath}${path}`,
        issuerId,
        body: update,
        ...(header && requestId !== undefined && { headers: { [header]: requestId } }),
        schema: operationAcceptedSchema,
      },
      options,
    );
  }

  /** Closes the pool (when the client made it), waiting for requests in flight. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  #cardPath(issuerId: string, cardId: string): string {
    // The `:production` verb suffix stays literal; only the ids are encoded.
    return `${this.#options.apiPath}/issuers/${encodeURIComponent(issuerId)}/physicalCards/${encodeURIComponent(cardId)}`;
  }

  async #fetchToken(issuerId: string): Promise<IssuedToken> {
    const origin = new URL(this.#options.baseUrl).origin;
    const assertion = await signAssertion({
      issuerId,
      signingKey: await this.#options.signingKeyFor(issuerId),
      audience: this.#options.assertionAudience ?? origin,
      ttlMs: this.#options.assertionTtlMs,
      now: this.#now(),
    });
    const requestedAt = this.#now();
    const token = await this.#send(
      'get token',
      'POST',
      this.#options.tokenPath,
      {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
      tokenResponseSchema,
      {},
    );
    return { accessToken: token.access_token, expiresAt: requestedAt + token.expires_in * 1000 };
  }

  async #call<T>(call: Call<T>, options: D1CallOptions = {}): Promise<T> {
    const send = (token: string) =>
      this.#send(
        call.operation,
        call.method,
        call.path,
        {
          ...call.headers,
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(call.body !== undefined && { 'content-type': 'application/json' }),
        },
        call.body === undefined ? undefined : JSON.stringify(call.body),
        call.schema,
        options,
      );
    const token = await this.#tokens.get(call.issuerId);
    try {
      return await send(token);
    } catch (err) {
      // A token D1 refuses before its time (revoked, clock skew) gets one refresh and one retry.
      if (!(err instanceof D1UnauthorizedError)) throw err;
      this.#tokens.invalidate(call.issuerId, token);
      return send(await this.#tokens.get(call.issuerId));
    }
  }

  async #send<T>(
    operation: string,
    method: Method,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    schema: z.ZodType<T>,
    { signal, correlationId = randomUUID(), timeoutMs = this.#options.requestTimeoutMs }: D1CallOptions,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const started = this.#now();
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await this.#dispatcher.request({
        origin: this.#options.baseUrl,
        method,
        path,
        headers: { ...headers, 'x-correlation-id': correlationId },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      text = await response.body.text();
    } catch (err) {
      // The caller's own abort (an activity cancelled) is not a D1 failure: let it through as it is.
      if (signal?.aborted) throw signal.reason;
      throw errorFromTransport(operation, err, correlationId, timeout.aborted);
    }
    const { statusCode } = response;
    this.#options.logger?.debug(
      { operation, method, status: statusCode, durationMs: this.#now() - started, correlationId },
      'D1 call',
    );
    if (statusCode < 200 || statusCode >= 300) {
      throw errorFromResponse(operation, statusCode, response.headers, text, correlationId);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new D1InvalidResponseError(`D1 answered ${operation} with a body that is not JSON`, {
        httpStatus: statusCode,
        correlationId,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const fields = describeIssues(parsed.error)
        .map((issue) => `${issue.field} ${issue.reason}`)
        .join('; ');
      throw new D1InvalidResponseError(`D1's answer to ${operation} does not match its contract: ${fields}`, {
        httpStatus: statusCode,
        correlationId,
      });
    }
    return parsed.data;
  }
}
