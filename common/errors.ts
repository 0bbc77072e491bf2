/**
 * Typed errors with stable codes. Callers branch on `code`, never on the message or on `instanceof` alone:
 * the workflow sandbox is its own V8 realm, and across Temporal boundaries an error travels as an
 * `ApplicationFailure` whose `type` is this `code`.
 *
 * @module
 */

/**
 * Every stable error code this project raises: `ERR_*` for faults and invalid input, `ORDER_*` for verdicts on an
 * order (the same family as the cancel's `ORDER_ALREADY_SHIPPED`).
 */
export type CardOrderErrorCode =
  | 'ORDER_CONFLICT'
  | 'CAMPAIGN_CONFLICT'
  | 'CAMPAIGN_ALREADY_RAN'
  | 'CAMPAIGN_NOT_FOUND'
  | 'CAMPAIGN_PAGE_MISSING'
  | 'ERR_CAMPAIGN_FILE_INVALID'
  | 'ERR_CAMPAIGN_STORE_CONFLICT'
  | 'ORDER_NOT_FOUND'
  | 'UNMATCHED_NOT_FOUND'
  | 'ISSUER_EVENTS_NOT_FOUND'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_TEMPORAL_CLI_NOT_FOUND'
  | 'ERR_TEMPORAL_UNAVAILABLE'
  | 'ERR_QUERY_UNANSWERED'
  | 'ERR_PORT_IN_USE'
  | 'ERR_KEY_INVALID'
  | 'ERR_CODEC_KEY'
  | 'ERR_CODEC_NAMESPACE'
  | 'ERR_ORDER_INVALID'
  | 'ERR_REORDER_ID_INVALID'
  | 'ERR_USAGE'
  | 'ERR_REPLAY_INPUT'
  | 'ERR_ISSUER_EVENT_DELIVERY'
  | 'ERR_ORDER_FAILED'
  | 'ERR_SENSITIVE_DATA_INVALID'
  | 'ERR_D1_BAD_REQUEST'
  | 'ERR_D1_UNAUTHORIZED'
  | 'ERR_D1_FORBIDDEN'
  | 'ERR_D1_NOT_FOUND'
  | 'ERR_D1_CONFLICT'
  | 'ERR_D1_RATE_LIMITED'
  | 'ERR_D1_UNAVAILABLE'
  | 'ERR_D1_TIMEOUT'
  | 'ERR_D1_NETWORK'
  | 'ERR_D1_TOKEN_REJECTED'
  | 'ERR_D1_INVALID_RESPONSE';

/** Base class of every error this project throws on purpose. */
export abstract class CardOrderError extends Error {
  abstract readonly code: CardOrderErrorCode;
  /** Whether trying the same thing again later may succeed. */
  readonly retryable: boolean = false;
  /** Whether an operator must act (e.g. refused credentials); such failures are logged at error level. */
  readonly needsOperator: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** A log- and history-safe summary: code and message only, never the cause's payload. */
  toJSON(): { name: string; code: CardOrderErrorCode; message: string; retryable: boolean } {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** One configuration key that failed validation. */
export interface ConfigIssue {
  /** The environment variable (or config file path) at fault. */
  key: string;
  /** Why its value was refused. */
  reason: string;
}

/** Thrown by `loadConfig` when one or more settings are invalid; names every bad key. */
export class ConfigError extends CardOrderError {
  readonly code = 'ERR_CONFIG_INVALID' as const;

  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`Invalid configuration: ${issues.map((issue) => `${issue.key}: ${issue.reason}`).join('; ')}`);
  }
}

/** Thrown when no usable `temporal` CLI binary can be found, built or downloaded. */
export class TemporalCliNotFoundError extends CardOrderError {
  readonly code = 'ERR_TEMPORAL_CLI_NOT_FOUND' as const;
}

/** Thrown when the Temporal frontend does not answer within the allowed time. */
export class TemporalUnavailableError extends CardOrderError {
  readonly code = 'ERR_TEMPORAL_UNAVAILABLE' as const;
  override readonly retryable = true;

  constructor(
    readonly address: string,
    options?: { cause?: unknown },
  ) {
    super(`Temporal is not reachable at ${address}`, options);
  }
}

/**
 * Thrown when no worker answered a query of a running workflow in time: its worker may have just died. Ask again;
 * a query left to wait for a later worker could wedge the workflow (`temporal/query-through-failover.ts`).
 */
export class QueryUnansweredError extends CardOrderError {
  readonly code = 'ERR_QUERY_UNANSWERED' as const;
  override readonly retryable = true;

  constructor(
    readonly workflowId: string,
    readonly giveUpMs: number,
  ) {
    super(`No worker answered a query of ${workflowId} within ${giveUpMs} ms; ask again`);
  }
}

/** Thrown when a port this project wants to listen on is taken; names the variable that moves it. */
export class PortInUseError extends CardOrderError {
  readonly code = 'ERR_PORT_IN_USE' as const;

  constructor(
    readonly port: number,
    readonly envVar: string,
  ) {
    super(`Port ${port} is already in use; set ${envVar} to another port, or stop what is using it`);
  }
}

/** Thrown when key material (a signing key, an encryption key, a certificate) cannot be read or used. */
export class KeyMaterialError extends CardOrderError {
  readonly code = 'ERR_KEY_INVALID' as const;
}

/** Thrown when an order is invalid or outside its program; names every offending field and why. */
export class OrderValidationError extends CardOrderError {
  readonly code = 'ERR_ORDER_INVALID' as const;

  constructor(readonly issues: readonly { field: string; reason: string }[]) {
    super(`Invalid card order: ${issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ')}`);
  }
}

/**
 * Thrown when a re-order or re-ship cannot go to D1 under the id its order derived for it: that id breaks D1's
 * issuerRequestId rules (in practice, `{issuerRequestId}--r{n}` of an original id too long to carry the suffix).
 * Permanent: a later re-order's id is no shorter. Names both ids (identifiers, never card data) and the rule.
 */
export class ReorderIdError extends CardOrderError {
  readonly code = 'ERR_REORDER_ID_INVALID' as const;

  constructor(
    readonly issuerRequestId: string,
    readonly reorderRequestId: string,
    readonly reason: string,
  ) {
    super(
      `Order ${issuerRequestId} cannot be ordered again under ${reorderRequestId} ` +
        `(${reorderRequestId.length} characters), which D1 refuses as an issuerRequestId: ${reason}`,
    );
  }
}

/**
 * Thrown when an order is placed under an `issuerRequestId` the issuer already used for a different order: no second
 * card is ordered. Names the top-level fields that differ, never their values.
 */
export class OrderConflictError extends CardOrderError {
  readonly code = 'ORDER_CONFLICT' as const;

  constructor(
    readonly workflowId: string,
    /** The top-level fields that differ from the order placed first, e.g. `shipment`, `sensitiveData`. */
    readonly fields: readonly string[],
  ) {
    super(
      `${workflowId} was placed with a different order (differing: ${fields.join(', ')}); ` +
        'a new card needs a new issuerRequestId',
    );
  }
}

/**
 * Thrown when a campaign file has lines that are not valid orders (and the caller did not choose to skip them):
 * nothing was stored or sent. Names each line and field, never a value.
 */
export class CampaignFileError extends CardOrderError {
  readonly code = 'ERR_CAMPAIGN_FILE_INVALID' as const;

  constructor(
    readonly invalid: number,
    /** The first invalid lines, each with its issues by field. */
    readonly lines: readonly { line: number; issues: readonly { field: string; reason: string }[] }[],
    problem?: string,
  ) {
    super(
      problem ??
        `${invalid} line(s) of the campaign file are not valid orders: ` +
          lines
            .slice(0, 5)
            .map((l) => `line ${l.line}: ${l.issues.map((issue) => `${issue.field} ${issue.reason}`).join('; ')}`)
            .join(' | '),
    );
  }
}

/** Thrown when a campaign id is already used for another file (another SHA-256): nothing of the new file is kept. */
export class CampaignConflictError extends CardOrderError {
  readonly code = 'CAMPAIGN_CONFLICT' as const;

  constructor(readonly campaignId: string) {
    super(`Campaign ${campaignId} was started with a different file; a new file needs a new campaign id`);
  }
}

/**
 * Thrown when a campaign that already ran (COMPLETED or CANCELLED, or started and gone from Temporal with no
 * recorded end) is started again: its card ids may be free again after retention, and a new run would order every
 * card a second time. Only a FAILED campaign, still known to Temporal, may be started again.
 */
export class CampaignAlreadyRanError extends CardOrderError {
  readonly code = 'CAMPAIGN_ALREADY_RAN' as const;

  constructor(
    readonly campaignId: string,
    /** How it ended (COMPLETED, CANCELLED, FAILED), or UNKNOWN when no end was recorded. */
    readonly ended: string,
    readonly startedAt: string | undefined,
  ) {
    super(
      `Campaign ${campaignId} already ran (started ${startedAt ?? 'before'}, ended ${ended}); ` +
        'a campaign runs once: order the cards still needed under a new campaign id',
    );
  }
}

/**
 * Thrown when a stored campaign page is absent or cannot be opened (another store, another key ring, damaged):
 * waiting does not bring it back, so the page fails for good instead of being retried for ever.
 */
export class CampaignPageMissingError extends CardOrderError {
  readonly code = 'CAMPAIGN_PAGE_MISSING' as const;

  constructor(
    readonly issuerId: string,
    readonly campaignId: string,
    readonly page: number,
    readonly problem: 'missing' | 'unreadable',
    options?: { cause?: unknown },
  ) {
    super(
      problem === 'missing'
        ? `Page ${page} of campaign ${campaignId} is not in the campaign store (is every process on the same CAMPAIGN_STORE?)`
        : `Page ${page} of campaign ${campaignId} cannot be read from the campaign store (damaged, or sealed with a codec key this process does not have)`,
      options,
    );
  }
}

/**
 * Thrown when a campaign's manifest changed since it was read (another process wrote it): read it again and
 * retry. Retryable by nature.
 */
export class CampaignStoreConflictError extends CardOrderError {
  readonly code = 'ERR_CAMPAIGN_STORE_CONFLICT' as const;
  override readonly retryable = true;

  constructor(
    readonly issuerId: string,
    readonly campaignId: string,
  ) {
    super(`The manifest of campaign ${campaignId} was changed by another process meanwhile`);
  }
}

/** Thrown when there is no order under the given issuer and issuerRequestId. */
export class OrderNotFoundError extends CardOrderError {
  readonly code = 'ORDER_NOT_FOUND' as const;

  constructor(
    readonly issuerId: string,
    readonly issuerRequestId: string,
    options?: { cause?: unknown },
  ) {
    super(`No order ${issuerRequestId} for issuer ${issuerId}`, options);
  }
}

/** Thrown when a card has no open record of unmatched notifications (none came, or they were redelivered). */
export class CampaignNotFoundError extends CardOrderError {
  readonly code = 'CAMPAIGN_NOT_FOUND' as const;

  constructor(
    readonly issuerId: string,
    readonly campaignId: string,
    options?: { cause?: unknown },
  ) {
    super(`No campaign ${campaignId} for issuer ${issuerId}`, options);
  }
}

export class UnmatchedNotFoundError extends CardOrderError {
  readonly code = 'UNMATCHED_NOT_FOUND' as const;

  constructor(
    readonly issuerId: string,
    readonly cardId: string,
    options?: { cause?: unknown },
  ) {
    super(`No unmatched notifications kept for card ${cardId} of issuer ${issuerId}`, options);
  }
}

/**
 * Thrown when an order has no dead-letter record of issuer events to redeliver: none was made (its events all went
 * out), or the record ended (redelivered, or its retention passed).
 */
export class IssuerEventsNotFoundError extends CardOrderError {
  readonly code = 'ISSUER_EVENTS_NOT_FOUND' as const;

  constructor(
    readonly orderWorkflowId: string,
    options?: { cause?: unknown; reason?: string },
  ) {
    super(
      `No undelivered issuer events kept for order ${orderWorkflowId}${options?.reason ? ` (${options.reason})` : ''}`,
      { cause: options?.cause },
    );
  }
}

/**
 * Thrown by the `card-orders` command line when it was called wrongly: an unknown command, a missing argument, an
 * option value it does not take. It names the argument at fault; the process exits with code 2.
 */
export class CliUsageError extends CardOrderError {
  readonly code = 'ERR_USAGE' as const;

  constructor(
    /** The argument or option at fault, e.g. `--limit` or `<issuerRequestId>`. */
    readonly argument: string,
    reason: string,
  ) {
    super(`${argument}: ${reason}`);
  }
}

/**
 * Thrown by the history replay (`card-orders replay`, `npm run replay`) before it replays anything, when a file under
 * the folder cannot be replayed: not JSON, not a workflow history, or payloads the configured codec key ring cannot
 * decode. Names each file and why, never its contents.
 */
export class ReplayInputError extends CardOrderError {
  readonly code = 'ERR_REPLAY_INPUT' as const;

  constructor(readonly problems: readonly { file: string; reason: string }[]) {
    super(
      `${problems.length} file(s) cannot be replayed: ` +
        problems
          .slice(0, 5)
          .map((p) => `${p.file}: ${p.reason}`)
          .join(' | '),
    );
  }
}

/** Thrown by `waitForOrder` when the order ended in failure: production failed, deadline passed, D1 refused. */
export class OrderFailedError extends CardOrderError {
  readonly code = 'ERR_ORDER_FAILED' as const;

  constructor(
    /** The workflow's failure type, e.g. PRODUCTION_FAILED or PRODUCTION_DEADLINE_EXCEEDED. */
    readonly failureType: string,
    message: string,
    /** D1's own error code, e.g. OUT_OF_STOCK, when D1 gave one. */
    readonly d1ErrorCode: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when the issuer's event endpoint did not accept an event; retried until it does. */
export class IssuerEventDeliveryError extends CardOrderError {
  readonly code = 'ERR_ISSUER_EVENT_DELIVERY' as const;
  override readonly retryable = true;
}

/** Thrown when the payload codec lacks a key, or a payload does not decrypt under the key it names. */
export class CodecKeyError extends CardOrderError {
  readonly code = 'ERR_CODEC_KEY' as const;
}

/** Thrown when a payload sealed for one Temporal namespace is to be decoded for another. */
export class CodecNamespaceError extends CardOrderError {
  readonly code = 'ERR_CODEC_NAMESPACE' as const;
}

/**
 * Thrown when card data to encrypt is invalid. It names the fields and the rules they broke, never their values.
 */
export class SensitiveDataError extends CardOrderError {
  readonly code = 'ERR_SENSITIVE_DATA_INVALID' as const;

  constructor(readonly issues: readonly { field: string; reason: string }[]) {
    super(`Invalid card data: ${issues.map((issue) => `${issue.field} ${issue.reason}`).join('; ')}`);
  }
}

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

/** Narrows an unknown value to one of our errors, by code (works across realms and library copies). */
export function isCardOrderError(value: unknown): value is CardOrderError {
  const code = value instanceof Error ? (value as Partial<CardOrderError>).code : undefined;
  return typeof code === 'string' && (code.startsWith('ERR_') || orderVerdictCodes.includes(code));
}

const orderVerdictCodes: readonly string[] = [
  'ORDER_CONFLICT',
  'CAMPAIGN_CONFLICT',
  'CAMPAIGN_ALREADY_RAN',
  'CAMPAIGN_NOT_FOUND',
  'CAMPAIGN_PAGE_MISSING',
  'ORDER_NOT_FOUND',
  'UNMATCHED_NOT_FOUND',
  'ISSUER_EVENTS_NOT_FOUND',
] satisfies CardOrderErrorCode[];
