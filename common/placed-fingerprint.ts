/**
 * The fingerprint an order was placed with, read from its current run's first event (the workflow input carries it;
 * continue-as-new passes it on), never through visibility, so no listing ever has to decode it. Shared by the client
 * (a single order placed again) and the campaign (a card whose issuerRequestId already has an order).
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import type { CardOrderInput } from '../workflows/definitions.js';
import { isCardOrderError } from './errors.js';

/** Undefined when it cannot be read: an order from before fingerprints, a codec key since retired. */
export async function placedFingerprint(
  temporal: Client,
  namespace: string,
  codecs: readonly PayloadCodec[],
  workflowId: string,
): Promise<unknown> {
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
    return input?.fingerprint;
  } catch (err) {
    if (isCardOrderError(err) || err instanceof ValueError) return undefined;
    throw err;
  }
}
