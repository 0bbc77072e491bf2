import type { temporal } from '@temporalio/proto';
import { sampleCardOrder } from '../../orders/sample-order.js';
import type { CardOrderRequest } from '../../orders/schema.js';

/** Test card data (a well-known test PAN, never a real card) and a test address, shared by every test. */
export { sampleCard as testCard, sampleAddress as testAddress } from '../../orders/sample-order.js';

/** A valid order for `issuerRequestId` (its card id derived from it), for tests that need one order placed. */
export function sampleOrder(issuerRequestId: string): CardOrderRequest {
  return sampleCardOrder(issuerRequestId);
}

/** The workflow input recorded in `history`, as the codec protocol's JSON (every bytes field base64). */
export function startInputAsCodecJson(history: temporal.api.history.v1.IHistory): {
  metadata: Record<string, string>;
  data: string;
} {
  const [input] = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  if (!input) throw new Error('the history starts without an input payload');
  return {
    metadata: Object.fromEntries(
      Object.entries(input.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
    ),
    data: Buffer.from(input.data ?? []).toString('base64'),
  };
}
