/**
 * One sample card order, valid for the demo catalog's PRD_VISA_DEBIT program: a well-known test PAN (never a real
 * card) and a made-up address. Tests, benchmarks and chaos runs build their orders from it; production code
 * (service, client, workers) must not import it (a test checks).
 *
 * @module
 */
import type { CardOrderRequest } from './schema.js';

/** Test card data: a well-known test PAN, never a real card. */
export const sampleCard = { pan: '4111111111111111', exp: '2906', name: 'JANE DOE', cvv2: '987' };

export const sampleAddress = {
  firstName: 'Jane',
  lastName: 'Doe',
  line1: '10 Main St',
  zipCode: '10001',
  city: 'New York',
  countryCode: 'US',
};

/**
 * A valid individual order for `issuerRequestId` (its card id derived from it, under ISSUER0001), with any field
 * replaced by `overrides` (whole fields: `services` replaces the services).
 */
export function sampleCardOrder(issuerRequestId: string, overrides: Partial<CardOrderRequest> = {}): CardOrderRequest {
  return {
    issuerId: 'ISSUER0001',
    cardId: issuerRequestId.slice(0, 40),
    consumerId: 'cons_42',
    issuerRequestId,
    cardProductId: 'PRD_VISA_DEBIT',
    services: { issuance: 'CREATION', delivery: 'usps-imb' },
    shipment: { type: 'INDIVIDUAL', deliveryAddress: sampleAddress, individualAddress: sampleAddress },
    sensitiveData: sampleCard,
    ...overrides,
  };
}
