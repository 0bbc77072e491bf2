/**
 * Typed errors with stable codes. Callers branch on `code`, never on the message or on `instanceof` alone:
 * the workflow sandbox is its own V8 realm, and across Temporal boundaries an error travels as an
 * `ApplicationFailure` whose `type` is this `code`.
 *
 * @module
 */

/** Every stable error code this project raises. */
export type CardOrderErrorCode =
  'ERR_CONFIG_INVALID' | 'ERR_TEMPORAL_CLI_NOT_FOUND' | 'ERR_TEMPORAL_UNAVAILABLE' | 'ERR_PORT_IN_USE';

/** Base class of every error this project throws on purpose. */
export abstract class CardOrderError extends Error {
  abstract readonly code: CardOrderErrorCode;
  /** Whether trying the same thing again later may succeed. */
  readonly retryable: boolean = false;

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

/** Narrows an unknown value to one of our errors, by code (works across realms and library copies). */
export function isCardOrderError(value: unknown): value is CardOrderError {
  const code = value instanceof Error ? (value as Partial<CardOrderError>).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_');
}
