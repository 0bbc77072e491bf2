/**
 * The typed errors of talking to D1: every failure of a D1 call as a `D1Error` with its retry verdict, and invalid
 * card data. Codes and the base class are in ../common/errors.ts.
 *
 * @module
 */
import { CardOrderError } from '../common/errors.js';

/** What every D1 failure carries besides its code: enough to trace it, never card data. */
export interface D1ErrorContext {
  /** The HTTP status D1 answered, when it answered. */
  httpStatus?: number;
  /** D1's own `errorCode` from the error body, when it sent one. */
  d1ErrorCode?: string;
  /** The `x-correlation-id` the request carried, for D1 support. */
  correlationId?: string;
  cause?: unknown;
}

/** Base of every failure talking to D1; `retryable` is the verdict of ../shared/d1-api.md Part A. */
export abstract class D1Error extends CardOrderError {
  readonly httpStatus: number | undefined;
  readonly d1ErrorCode: string | undefined;
  readonly correlationId: string | undefined;

  constructor(message: string, context: D1ErrorContext = {}) {
    super(message, { cause: context.cause });
    this.httpStatus = context.httpStatus;
    this.d1ErrorCode = context.d1ErrorCode;
    this.correlationId = context.correlationId;
  }

  override toJSON() {
    return { ...super.toJSON(), httpStatus: this.httpStatus, d1ErrorCode: this.d1ErrorCode };
  }
}

/** D1 answered 400: the request (body, path or header) is invalid. Permanent. */
export class D1BadRequestError extends D1Error {
  readonly code = 'ERR_D1_BAD_REQUEST' as const;
}

/**
 * D1 answered 401 again after one token refresh. Retried, and alerting: refused credentials (a rotated key, a
 * revoked certificate) are for an operator to fix, and must not fail every open order meanwhile.
 */
export class D1UnauthorizedError extends D1Error {
  readonly code = 'ERR_D1_UNAUTHORIZED' as const;
  override readonly retryable = true;
  override readonly needsOperator = true;
}

/**
 * D1 answered 403: the operation is not allowed (a permission, or e.g. an inactive consumer). Retried and alerting
 * like a 401, since a permission change heals; an order D1 keeps refusing fails once its retry time is spent.
 */
export class D1ForbiddenError extends D1Error {
  readonly code = 'ERR_D1_FORBIDDEN' as const;
  override readonly retryable = true;
  override readonly needsOperator = true;
}

/** D1 answered 404: the card or the order is unknown. Permanent. */
export class D1NotFoundError extends D1Error {
  readonly code = 'ERR_D1_NOT_FOUND' as const;
}

/** D1 answered 409: the card has an order in progress under another issuerRequestId. Permanent. */
export class D1ConflictError extends D1Error {
  readonly code = 'ERR_D1_CONFLICT' as const;
}

/** D1 answered 429. Transient: try again after `retryAfterMs`. */
export class D1RateLimitedError extends D1Error {
  readonly code = 'ERR_D1_RATE_LIMITED' as const;
  override readonly retryable = true;

  constructor(
    message: string,
    readonly retryAfterMs: number,
    context?: D1ErrorContext,
  ) {
    super(message, context);
  }

  override toJSON() {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }
}

/** D1 answered 5xx. Transient. */
export class D1UnavailableError extends D1Error {
  readonly code = 'ERR_D1_UNAVAILABLE' as const;
  override readonly retryable = true;
}

/** D1 did not answer in time. Transient; an order may still have been accepted, so retry with the same id. */
export class D1TimeoutError extends D1Error {
  readonly code = 'ERR_D1_TIMEOUT' as const;
  override readonly retryable = true;
}

/** The connection to D1 failed or was reset. Transient. */
export class D1NetworkError extends D1Error {
  readonly code = 'ERR_D1_NETWORK' as const;
  override readonly retryable = true;
}

/** D1's token endpoint refused our assertion (wrong key, `kid`, issuer or clock). Retried and alerting, like a 401. */
export class D1TokenRejectedError extends D1Error {
  readonly code = 'ERR_D1_TOKEN_REJECTED' as const;
  override readonly retryable = true;
  override readonly needsOperator = true;
}

/** D1 answered with a body that does not match its contract. Permanent: a contract change needs a look. */
export class D1InvalidResponseError extends D1Error {
  readonly code = 'ERR_D1_INVALID_RESPONSE' as const;
}

/** Every D1 error class, for `switch (err.code)` narrowing. */
export type AnyD1Error =
  | D1BadRequestError
  | D1UnauthorizedError
  | D1ForbiddenError
  | D1NotFoundError
  | D1ConflictError
  | D1RateLimitedError
  | D1UnavailableError
  | D1TimeoutError
  | D1NetworkError
  | D1TokenRejectedError
  | D1InvalidResponseError;

/**
 * Thrown when card data to encrypt is invalid. It names the fields and the rules they broke, never their values.
 */
export class SensitiveDataError extends CardOrderError {
  readonly code = 'ERR_SENSITIVE_DATA_INVALID' as const;

  constructor(readonly issues: readonly { field: string; reason: string }[]) {
    super(`Invalid card data: ${issues.map((issue) => `${issue.field} ${issue.reason}`).join('; ')}`);
  }
}
