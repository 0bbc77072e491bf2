/**
 * What the client's task modules (orders, order requests, campaigns, operator tools) share: the Temporal client, the
 * configuration and the keys `CardOrdersClient.connect` loads once. `CardOrdersClient` holds one and hands it to them.
 *
 * @module
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Config } from '../config/config.js';
import { OrderNotFoundError } from '../orders/errors.js';
import type { KeyWithId } from '../d1/keys.js';
import type { OrderFingerprintKey } from '../orders/fingerprint.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import type { CardOrderInput, CardOrderResult } from '../rules/contracts/card-order.js';

export interface ClientContext {
  readonly temporal: Client;
  readonly config: Config;
  /** D1's key, to which card data is encrypted before anything reaches Temporal. */
  readonly encryptionKey: KeyWithId;
  readonly catalog: ProgramCatalog;
  readonly fingerprintKey: OrderFingerprintKey;
  /** The payload codecs, to read an order's first event (its input) without a worker. */
  readonly codecs: readonly PayloadCodec[];
  /** How long `getOrder` waits for a running order's waiting workflow task to be taken (see `quietForQuery`). */
  readonly pendingTaskWaitMs: number;
  /** How long `getOrder` waits for a worker to answer its query (see `queryWithin`). */
  readonly queryWaitMs: number;
}

export function orderHandle(
  ctx: ClientContext,
  issuerId: string,
  issuerRequestId: string,
): WorkflowHandle<(input: CardOrderInput) => Promise<CardOrderResult>> {
  return ctx.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, issuerRequestId));
}

/** A rejection handler that turns Temporal's "no such workflow" into our ORDER_NOT_FOUND, and rethrows the rest. */
export function orderNotFound(issuerId: string, issuerRequestId: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof WorkflowNotFoundError) throw new OrderNotFoundError(issuerId, issuerRequestId, { cause: err });
    throw err;
  };
}
