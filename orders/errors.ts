/**
 * The typed errors of card orders: invalid or conflicting orders, re-order ids, orders (and what they keep) not
 * found, and orders that failed. Codes and the base class are in ../common/errors.ts.
 *
 * @module
 */
import { CardOrderError } from '../common/errors.js';

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
