import type { temporal } from '@temporalio/proto';
import type { CardOrderRequest } from '../../orders/schema.js';

/** Test card data (a well-known test PAN, never a real card) and a test address, shared by every test. */
export const testCard = { pan: '4111111111111111', exp: '2906', name: 'JANE DOE', cvv2: '987' };

export const testAddress = {
  firstName: 'Jane',
  lastName: 'Doe',
  line1: '10 Main St',
  zipCode: '10001',
  city: 'New York',
  countryCode: 'US',
};

/** A valid order for `issuerRequestId` (its card id derived from it), for tests that need one order placed. */
export function sampleOrder(issuerRequestId: string): CardOrderRequest {
  return {
    issuerId: 'ISSUER0001',
    cardId: issuerRequestId.slice(0, 40),
    consumerId: 'cons_42',
    issuerRequestId,
    cardProductId: 'PRD_VISA_DEBIT',
    services: { issuance: 'CREATION', delivery: 'usps-imb' },
    shipment: { type: 'INDIVIDUAL', deliveryAddress: testAddress, individualAddress: testAddress },
    sensitiveData: testCard,
  };
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
