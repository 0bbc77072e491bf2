import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { generateKeyPair } from 'jose';
import { D1Client, type D1ClientOptions } from '../../d1/client.js';
import type { BatchCardItem } from '../../d1/schemas.js';
import type { D1Stack } from '../helpers/d1-stack.js';
import { clientFor, countingPool, orderBody, withD1Stack } from '../helpers/d1-client.js';
import { testAddress } from '../helpers/fixtures.js';

const ISSUER = 'ISSUER0001';
const BATCH_PATH = /\/physicalCards\/operations:batchProduction$/;

/** A valid batch card for the stack's simulator, its card data encrypted to the simulator's key. */
async function batchCard(
  stack: D1Stack,
  cardId: string,
  overrides: Partial<BatchCardItem> = {},
): Promise<BatchCardItem> {
  return {
    ...(await orderBody(stack)),
    cardId,
    distributionChannel: 'THALES',
    shipment: { type: 'INDIVIDUAL', deliveryAddress: testAddress, individualAddress: testAddress },
    paymentApplication: { config: 'VISA_DEBIT_V1', odaKeyIndex: '1', derivationKeyIndex: '1' },
    ...overrides,
  };
}

/** Production parked for the test's length: the batch's orders stay in flight. */
const withStack = (body: (stack: D1Stack) => Promise<void>) => withD1Stack(body, { D1_SIM_STEP_DELAY: '10m' });

describe('D1 client batch orders against the simulator', () => {
  it('orders a batch in one call: per-card results in order, refusals alongside acceptances, a retry idempotent', () =>
    withStack(async (stack) => {
      const { dispatcher, count } = countingPool(stack.simulator.url);
      const client = await clientFor(stack, { dispatcher });
      const cards = [
        await batchCard(stack, 'card-b1'),
        await batchCard(stack, 'card-b2', { consumerId: 'not valid!' }),
        await batchCard(stack, 'card-b3'),
      ];
      const results = await client.orderCards(ISSUER, cards);
      assert.deepEqual(
        results.map((result) => [result.cardId, result.status]),
        [
          ['card-b1', 'ACCEPTED'],
          ['card-b2', 'REFUSED'],
          ['card-b3', 'ACCEPTED'],
        ],
      );
      const refused = results[1];
      assert.equal(refused?.status === 'REFUSED' && refused.errorCode, 'INVALID_FIELD');
      assert.deepEqual(refused?.status === 'REFUSED' && refused.fields?.map((issue) => issue.field), ['consumerId']);
      assert.equal(count(/oauth2\/token/), 1);
      assert.equal(count(BATCH_PATH), 1);

      // A retry (say, after a timeout) gets the original operations back; D1 creates nothing.
      const again = await client.orderCards(ISSUER, cards);
      assert.deepEqual(again, results);
      const orders = await stack.orders();
      assert.deepEqual(orders.map((order) => [order.cardId, order.submissions]).sort(), [
        ['card-b1', 2],
        ['card-b3', 2],
      ]);
      assert.deepEqual(
        results.flatMap((result) => (result.status === 'ACCEPTED' ? [result.operationId] : [])).sort(),
        orders.map((order) => order.operationId).sort(),
      );
      await dispatcher.close();
    }));

  it('classifies a 503 or a 429 on the batch as transient, as for orderCard, with no order stored', () =>
    withStack(async (stack) => {
      const client = await clientFor(stack);
      const cards = [await batchCard(stack, 'card-503')];
      await stack.faults({ errorRate: 1 });
      await assert.rejects(client.orderCards(ISSUER, cards), { code: 'ERR_D1_UNAVAILABLE', retryable: true });
      await stack.faults({ errorRate: 0, rateLimitRate: 1, retryAfterSeconds: 2 });
      await assert.rejects(client.orderCards(ISSUER, cards), {
        code: 'ERR_D1_RATE_LIMITED',
        retryable: true,
        retryAfterMs: 2000,
      });
      assert.deepEqual(await stack.orders(), []);
      await stack.faults({ rateLimitRate: 0 });
      const [result] = await client.orderCards(ISSUER, cards);
      assert.equal(result?.status, 'ACCEPTED');
      await client.close();
    }));

  it('refuses an empty batch as a permanent bad request', () =>
    withStack(async (stack) => {
      const client = await clientFor(stack);
      await assert.rejects(client.orderCards(ISSUER, []), (err: unknown) => {
        assert.equal((err as { code: string }).code, 'ERR_D1_BAD_REQUEST');
        assert.equal((err as { retryable: boolean }).retryable, false);
        assert.match((err as Error).message, /cards/);
        return true;
      });
      await client.close();
    }));
});

/** A stand-in D1 that hands out tokens and answers every batch with `answer`, recording the paths asked. */
async function fakeD1(answer: (cards: { cardId: string }[]) => unknown) {
  const paths: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      paths.push(request.url ?? '');
      const json = (status: number, body: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (request.url === '/authz/v1/oauth2/token') {
        return json(200, { access_token: 'fake-token', token_type: 'Bearer', expires_in: 900 });
      }
      const { cards } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { cards: { cardId: string }[] };
      return json(200, answer(cards));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { privateKey } = await generateKeyPair('ES256');
  const options = (overrides: Partial<D1ClientOptions> = {}): D1ClientOptions => ({
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
    ...overrides,
  });
  return { paths, options, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const fakeCard = (cardId: string): BatchCardItem => ({
  cardId,
  distributionChannel: 'THALES',
  cardProductId: 'PRD_VISA_DEBIT',
  consumerId: 'cons_42',
  issuerRequestId: `req-${cardId}`,
  services: { issuance: 'CREATION' },
  encryptedData: 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y2lwaGVy.dGFn',
  paymentApplication: { config: 'VISA_DEBIT_V1', odaKeyIndex: '1', derivationKeyIndex: '1' },
  shipment: { type: 'INDIVIDUAL', deliveryAddress: testAddress, individualAddress: testAddress },
});

describe('D1 client batch orders against a misbehaving D1', () => {
  const accepted = (card: { cardId: string }, i: number) => ({
    cardId: card.cardId,
    status: 'ACCEPTED',
    operationId: `op-${i}`,
  });

  it('refuses an answer that is not one result per card, in order, as a permanent ERR_D1_INVALID_RESPONSE', async () => {
    const answers: [string, (cards: { cardId: string }[]) => unknown, RegExp][] = [
      ['a result missing', (cards) => ({ results: cards.slice(1).map(accepted) }), /results has 2 results for 3 cards/],
      ['a result too many', (cards) => ({ results: [...cards, ...cards].map(accepted) }), /6 results for 3 cards/],
      ['results out of order', (cards) => ({ results: [...cards].reverse().map(accepted) }), /results\.0\.cardId/],
      [
        'another issuerRequestId',
        (cards) => ({ results: cards.map((card, i) => ({ ...accepted(card, i), issuerRequestId: 'req-other' })) }),
        /results\.0\.issuerRequestId/,
      ],
      ['no results', () => ({ operationId: 'op-1' }), /results/],
      [
        'an unknown status',
        (cards) => ({ results: cards.map((card) => ({ cardId: card.cardId, status: 'MAYBE' })) }),
        /status/,
      ],
      [
        'an oversize refusal text',
        (cards) => ({
          results: cards.map((card, i) =>
            i === 1
              ? { cardId: card.cardId, status: 'REFUSED', errorCode: 'INVALID_FIELD', error: 'x'.repeat(513) }
              : accepted(card, i),
          ),
        }),
        /results\.1\.error Too big: expected string to have <=512 characters/,
      ],
    ];
    for (const [what, answer, message] of answers) {
      const d1 = await fakeD1(answer);
      const client = new D1Client(d1.options());
      try {
        await assert.rejects(client.orderCards(ISSUER, ['c1', 'c2', 'c3'].map(fakeCard)), (err: unknown) => {
          assert.equal((err as { code: string }).code, 'ERR_D1_INVALID_RESPONSE', what);
          assert.equal((err as { retryable: boolean }).retryable, false, what);
          assert.match((err as Error).message, message, what);
          return true;
        });
      } finally {
        await client.close();
        await d1.close();
      }
    }
  });

  it('takes the answer that matches the request, and posts to the configured path with the issuerId encoded', async () => {
    const d1 = await fakeD1((cards) => ({ results: cards.map(accepted) }));
    const client = new D1Client(d1.options({ batchOrderPath: '/v9/{issuerId}/cards:orderBatch' }));
    try {
      const results = await client.orderCards('ISSUER/001', ['c1', 'c2'].map(fakeCard));
      assert.deepEqual(
        results.map((result) => result.status === 'ACCEPTED' && result.operationId),
        ['op-0', 'op-1'],
      );
      assert.deepEqual(d1.paths, ['/authz/v1/oauth2/token', '/banking/v1/v9/ISSUER%2F001/cards:orderBatch']);
    } finally {
      await client.close();
      await d1.close();
    }
  });
});
