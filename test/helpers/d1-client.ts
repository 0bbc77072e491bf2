/**
 * What the D1 client tests share: a simulator stack whose logs are checked for card data afterwards, a client for
 * it, a dispatcher that counts requests, and a valid order body encrypted to the simulator's key.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { importJWK, type CryptoKey } from 'jose';
import { Pool, type Dispatcher } from 'undici';
import { D1Client, type D1ClientOptions } from '../../d1/client.js';
import { loadSigningKey } from '../../d1/keys.js';
import type { OrderRequest } from '../../d1/schemas.js';
import { encryptSensitiveData } from '../../d1/sensitive-data.js';
import { startD1Stack, type D1Stack } from './d1-stack.js';
import { testAddress, testCard } from './fixtures.js';
import { uniqueName } from './temporal.js';

/** A dispatcher that counts the requests it sends, by path. */
export function countingPool(
  url: string,
  tls?: Pool.Options['connect'],
): { dispatcher: Dispatcher; count: (path: RegExp) => number } {
  const paths: string[] = [];
  const dispatcher = new Pool(url, { ...(tls && { connect: tls }) }).compose((dispatch) => (options, handler) => {
    paths.push(options.path);
    return dispatch(options, handler);
  });
  return { dispatcher, count: (pattern) => paths.filter((path) => pattern.test(path)).length };
}

/** A D1 client configured for the stack's simulator. */
export async function clientFor(stack: D1Stack, overrides: Partial<D1ClientOptions> = {}): Promise<D1Client> {
  const signingKey = await loadSigningKey(stack.config.d1.signingKey);
  const { tls: _files, ...d1 } = stack.config.d1;
  return new D1Client({
    ...d1,
    signingKeyFor: () => Promise.resolve(signingKey),
    logger: stack.logs.logger,
    ...overrides,
  });
}

/** A valid THALES order body, its card data encrypted to the simulator's key. */
export async function orderBody(stack: D1Stack, issuerRequestId = uniqueName('req')): Promise<OrderRequest> {
  const key = {
    key: (await importJWK(stack.simulator.encryptionKey, 'ECDH-ES')) as CryptoKey,
    kid: stack.simulator.encryptionKey.kid ?? '',
  };
  return {
    distributionChannel: 'THALES',
    cardProductId: 'PRD_VISA_DEBIT',
    consumerId: 'cons_42',
    issuerRequestId,
    services: { issuance: 'CREATION', delivery: 'usps-imb' },
    encryptedData: await encryptSensitiveData(testCard, key),
    shipment: { type: 'INDIVIDUAL', deliveryAddress: testAddress, individualAddress: testAddress },
  };
}

/** Runs `body` against a fresh simulator stack, then checks no card data reached its logs. */
export async function withD1Stack(
  body: (stack: D1Stack) => Promise<void>,
  simulatorEnv?: Record<string, string>,
): Promise<void> {
  const stack = await startD1Stack(simulatorEnv);
  try {
    await body(stack);
    const logs = stack.logs.text();
    assert.ok(!logs.includes(testCard.pan), 'a clear PAN reached a log line');
    assert.ok(!logs.includes(testCard.name), 'the cardholder name reached a log line');
  } finally {
    await stack.close();
  }
}
