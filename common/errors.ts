/**
 * Typed errors with stable codes. Callers branch on `code`, never on the message or on `instanceof` alone:
 * the workflow sandbox is its own V8 realm, and across Temporal boundaries an error travels as an
 * `ApplicationFailure` whose `type` is this `code`.
 *
 * Here: the base class, every code, and the errors of the shared infrastructure (configuration, Temporal, ports,
 * keys, the payload codec, the command line). The errors of one domain live with it: ../d1/errors.ts,
 * ../orders/errors.ts, ../campaigns/errors.ts.
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
