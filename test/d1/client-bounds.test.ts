import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from 'jose';
import { D1Client } from '../../d1/client.js';

const ISSUER = 'ISSUER0001';

describe('D1 client and oversize strings in D1 answers', () => {
  /** What the fake D1 answers to the next status request. */
  let statusAnswer: unknown;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const body =
        request.url === '/authz/v1/oauth2/token'
          ? { access_token: 'fake-token', token_type: 'Bearer', expires_in: 900 }
          : statusAnswer;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  let client: D1Client;

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { privateKey } = await generateKeyPair('ES256');
    client = new D1Client({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      tokenPath: '/authz/v1/oauth2/token',
      apiPath: '/banking/v1',
      updateOrderPath: '/issuers/{issuerId}/physicalCards/{cardId}/operations:updateOrder',
      batchOrderPath: '/issuers/{issuerId}/physicalCards/operations:batchProduction',
      signingKeyFor: () => Promise.resolve({ key: privateKey, kid: 'fake-kid' }),
      assertionTtlMs: 300_000,
      tokenRefreshMarginMs: 60_000,
      requestTimeoutMs: 3_000,
      connectTimeoutMs: 3_000,
      maxConnections: 2,
    });
  });
  after(async () => {
    await client?.close();
    server.close();
  });

  const report = (status: string) => ({
    operationId: 'op-1',
    operation: 'PRODUCE',
    status: 'PENDING',
    startTime: '2026-11-24T10:00:00.000Z',
    cardId: 'crd_0001',
    details: { status },
  });

  it('refuses a status answer with an oversize details.status as ERR_D1_INVALID_RESPONSE naming the field', async () => {
    const oversize = `CARD_${'X'.repeat(300)}`;
    statusAnswer = { operations: [report('CARD_PROD_ONGOING'), report(oversize)] };
    await assert.rejects(client.getProductionStatus(ISSUER, 'crd_0001'), (err: unknown) => {
      assert.equal((err as { code: string }).code, 'ERR_D1_INVALID_RESPONSE');
      assert.equal((err as { retryable: boolean }).retryable, false);
      assert.match(
        (err as Error).message,
        /operations\.1\.details\.status Too big: expected string to have <=64 characters/,
      );
      assert.ok(!(err as Error).message.includes(oversize), 'never the value');
      return true;
    });

    // An unknown status within the bound is D1's to add, and kept.
    statusAnswer = { operations: [report('CARD_ON_HOLD')] };
    const { operations } = await client.getProductionStatus(ISSUER, 'crd_0001');
    assert.equal(operations[0]?.details.status, 'CARD_ON_HOLD');
  });
});
