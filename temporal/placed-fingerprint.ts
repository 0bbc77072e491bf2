/**
 * What an order was placed with, read from its current run's first event (the workflow input carries it;
 * continue-as-new passes it on): never through visibility, so no listing ever has to decode it, and never through a
 * query, so no worker is involved (see `temporal/query-through-failover.ts` for why that matters). The fingerprint is
 * shared by the client (a single order placed again) and the campaign (a card whose issuerRequestId already has an
 * order); the client reads the order's program from it before a redirect.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import type { CardOrderInput } from '../rules/contracts/card-order.js';
import { isCardOrderError } from '../common/errors.js';

/** The fingerprint; undefined when it cannot be read: an order from before fingerprints, a codec key since retired. */
export async function placedFingerprint(
  temporal: Client,
  namespace: string,
  codecs: readonly PayloadCodec[],
  workflowId: string,
): Promise<unknown> {
  return (await placedInput(temporal, namespace, codecs, workflowId))?.fingerprint;
}

/** The current run's input; undefined when it cannot be decoded (a codec key since retired). */
export async function placedInput(
  temporal: Client,
  namespace: string,
  codecs: readonly PayloadCodec[],
  workflowId: string,
): Promise<Partial<CardOrderInput> | undefined> {
  const { history } = await temporal.workflowService.getWorkflowExecutionHistory({
    namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const payloads = (history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? []) as Payload[];
  try {
    let decoded = payloads;
    for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
    const [input] = decoded.map((payload) => defaultPayloadConverter.fromPayload<Partial<CardOrderInput>>(payload));
    return input;
  } catch (err) {
    if (isCardOrderError(err) || err instanceof ValueError) return undefined;
    throw err;
  }
}
