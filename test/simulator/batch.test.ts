import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { errors as undiciErrors } from 'undici';
import { batchOrderResponseSchema, type BatchOrderResult } from '../../d1/schemas.js';
import { notificationBatchSchema, type Operation } from '../../d1/report-schemas.js';
import {
  CARD_DATA,
  encryptCardData,
  ISSUER_ID,
  ManualClock,
  OTHER_ISSUER_ID,
  orderBody,
  startSimulator,
  waitFor,
  type Answer,
  type TestSimulator,
} from './support.js';

const STEP_MS = 1_000;
const cardId = () => `card-${randomUUID().slice(0, 8)}`;
const batchPath = (issuerId = ISSUER_ID) => `/banking/v1/issuers/${issuerId}/physicalCards/operations:batchProduction`;

/** A batch card as these tests build it: support.ts's order body plus a cardId. */
type BatchCard = { cardId: string; issuerRequestId: string } & Record<string, unknown>;

interface OrderLine {
  cardId: string;
  issuerRequestId: string;
  operationId: string;
  submissions: number;
  status: string;
  detailsStatus: string;
}

/** No answer may carry card data back (the JWE's clear content, or the JWE itself). */
function assertNoCardData(answer: Answer) {
  for (const value of [CARD_DATA.pan, CARD_DATA.name, 'eyJ']) {
    assert.ok(!answer.text.includes(value), `the answer echoes ${value === 'eyJ' ? 'a JWE' : 'card data'}`);
  }
}

/** The answer's results, checked against the response contract. */
function resultsOf(answer: Answer): BatchOrderResult[] {
  assert.equal(answer.status, 200, answer.text);
  return batchOrderResponseSchema.parse(answer.json).results;
}

function assertWholeRequestRefused(answer: Answer, field: string) {
  assert.equal(answer.status, 400, answer.text);
  assert.equal(answer.json.errorCode, 'INVALID_FIELD');
  const fields = (answer.json.fields as { field: string }[]).map((issue) => issue.field);
  assert.ok(fields.includes(field), `${field} is not named in ${answer.text}`);
}

describe('simulator batch order endpoint', () => {
  const clock = new ManualClock();
  let sim: TestSimulator;
  let token: string;
  let jwe: string;

  before(async () => {
    sim = await startSimulator({ D1_SIM_STEP_DELAY: `${STEP_MS}ms` }, { clock });
    jwe = await encryptCardData(CARD_DATA, sim.encryptionJwk);
  });
  after(() => sim?.close());
  beforeEach(async () => {
    await sim.call('POST', '/__sim/reset');
    token = await sim.token();
  });

  /** A valid batch card: the THALES order body of support.ts (paymentApplication included) plus its cardId. */
  const item = (id = cardId(), overrides: Record<string, unknown> = {}) =>
    ({ cardId: id, ...orderBody(jwe, overrides) }) as BatchCard;
  const postBatch = (body: unknown, options: { token?: string; headersTimeout?: number } = {}) =>
    sim.call('POST', batchPath(), { token: options.token ?? token, json: body, ...options });
  const listOrders = async () => (await sim.call('GET', '/__sim/orders')).json as unknown as OrderLine[];
  /** The call counters of `GET /__sim/stats` (this suite's simulator sends no notifications). */
  const stats = async () => {
    const { notificationsPending, apiCalls, ...calls } = (await sim.call('GET', '/__sim/stats')).json as Record<
      string,
      number
    >;
    assert.equal(notificationsPending, 0);
    // Every banking call, these among them.
    assert.ok(apiCalls! >= calls.orderRequests! + calls.batchRequests!);
    return calls;
  };

  it('accepts a batch of valid cards: one ACCEPTED result per card, in order, each order stored and progressing', async () => {
    const cards = [item(), item(), item()];
    // Outcome rules apply to batch orders as to single ones.
    const failing = cards[2]?.cardId;
    await sim.call('POST', '/__sim/faults', {
      json: { outcomes: [{ match: { cardId: failing }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK' }] },
    });
    const answer = await postBatch({ cards });
    const results = resultsOf(answer);
    assertNoCardData(answer);
    assert.deepEqual(
      results.map((result) => [result.cardId, result.issuerRequestId, result.status]),
      cards.map((card) => [card.cardId, card.issuerRequestId, 'ACCEPTED']),
    );
    const operationIds = results.map((result) => (result.status === 'ACCEPTED' ? result.operationId : ''));
    for (const operationId of operationIds) assert.match(operationId, /^[0-9a-f-]{36}$/);
    assert.equal(new Set(operationIds).size, 3);

    const orders = await listOrders();
    assert.deepEqual(
      orders.map((order) => [order.cardId, order.operationId, order.detailsStatus]),
      cards.map((card, i) => [card.cardId, operationIds[i], 'CARD_PROD_REQUESTED']),
    );
    clock.advance(STEP_MS);
    const [first, second, third] = await Promise.all(cards.map((card) => sim.operations(card.cardId)));
    assert.equal(first?.at(-1)?.details.status, 'DATA_PREPARED');
    assert.equal(second?.at(-1)?.details.status, 'DATA_PREPARED');
    assert.equal(third?.at(-1)?.status, 'FAILED');
    assert.equal(third?.at(-1)?.errorCode, 'OUT_OF_STOCK');
    assert.deepEqual(await stats(), { orderRequests: 0, batchRequests: 1, batchCards: 3 });
  });

  it('judges each card alone: an unknown field, a bad JWE, bad card data and ORDER_IN_PROGRESS are refused with their reasons, the rest accepted', async () => {
    const inFlight = cardId();
    assert.equal((await sim.order(inFlight, { token })).status, 202);
    const wrongKid = await encryptCardData(CARD_DATA, sim.encryptionJwk, { kid: 'someone-else' });
    const noPan = await encryptCardData({ exp: CARD_DATA.exp, name: CARD_DATA.name }, sim.encryptionJwk);
    const cards = [
      item(),
      item(cardId(), { surprise: true }),
      item(cardId(), { encryptedData: wrongKid }),
      item(cardId(), { encryptedData: noPan }),
      item(inFlight),
      item(cardId(), { distributionChannel: 'INSTANT' }),
      item(),
    ];
    const answer = await postBatch({ cards });
    const results = resultsOf(answer);
    assertNoCardData(answer);
    assert.deepEqual(
      results.map((result) => result.cardId),
      cards.map((card) => card.cardId),
    );
    const verdicts = results.map((result) => (result.status === 'ACCEPTED' ? 'ACCEPTED' : result.errorCode));
    assert.deepEqual(verdicts, [
      'ACCEPTED',
      'INVALID_FIELD',
      'INVALID_ENCRYPTED_DATA',
      'INVALID_ENCRYPTED_DATA',
      'ORDER_IN_PROGRESS',
      'INVALID_FIELD',
      'ACCEPTED',
    ]);
    const refusal = (i: number) => {
      const result = results[i];
      assert.equal(result?.status, 'REFUSED');
      return result;
    };
    assert.deepEqual(refusal(1).fields, [{ field: 'surprise', reason: 'is not a known field' }]);
    assert.equal(refusal(1).error, 'surprise: is not a known field');
    assert.deepEqual(
      refusal(2).fields?.map((issue) => issue.field),
      ['encryptedData'],
    );
    assert.match(refusal(2).error, /kid is not a known key/);
    assert.ok(refusal(3).fields?.some((issue) => issue.field === 'encryptedData.pan'));
    assert.match(refusal(4).error, new RegExp(`card ${inFlight} has an order in progress`));
    assert.equal(refusal(4).issuerRequestId, cards[4]?.issuerRequestId);
    assert.deepEqual(refusal(5).fields, [
      { field: 'distributionChannel', reason: 'must be THALES (central issuance)' },
    ]);

    const stored = (await listOrders()).map((order) => order.cardId).sort();
    assert.deepEqual(stored, [cards[0]?.cardId, inFlight, cards[6]?.cardId].sort());
  });

  it('refuses a card without paymentApplication (required in a batch), naming it, and accepts the others', async () => {
    const missing = { ...item() } as Record<string, unknown>;
    delete missing.paymentApplication;
    const results = resultsOf(await postBatch({ cards: [missing, item()] }));
    assert.equal(results[0]?.status, 'REFUSED');
    assert.equal(results[0]?.status === 'REFUSED' && results[0].errorCode, 'INVALID_FIELD');
    assert.deepEqual(results[0]?.status === 'REFUSED' && results[0].fields?.map((issue) => issue.field), [
      'paymentApplication',
    ]);
    assert.equal(results[1]?.status, 'ACCEPTED');
  });

  it('answers a batch retried after a timeout with the original operationIds, creating no order', async () => {
    const cards = [item(), item(), item()];
    await sim.call('POST', '/__sim/faults', { json: { timeoutRate: 1 } });
    await assert.rejects(postBatch({ cards }, { headersTimeout: 300 }), undiciErrors.HeadersTimeoutError);
    const stored = await listOrders();
    assert.equal(stored.length, 3, 'the unanswered batch was stored');

    await sim.call('POST', '/__sim/faults', { json: { timeoutRate: 0 } });
    // A client retry re-encrypts: the JWEs differ, the cardIds and issuerRequestIds do not.
    const reencrypted = await encryptCardData(CARD_DATA, sim.encryptionJwk);
    const retry = resultsOf(await postBatch({ cards: cards.map((card) => ({ ...card, encryptedData: reencrypted })) }));
    assert.deepEqual(
      retry.map((result) => (result.status === 'ACCEPTED' ? result.operationId : result.errorCode)),
      stored.map((order) => order.operationId),
    );
    const again = resultsOf(await postBatch({ cards }));
    assert.deepEqual(again, retry);
    const after = await listOrders();
    assert.equal(after.length, 3, 'no order was created by the retries');
    assert.deepEqual(
      after.map((order) => order.submissions),
      [3, 3, 3],
    );
    assert.deepEqual(await stats(), { orderRequests: 0, batchRequests: 3, batchCards: 9 });
  });

  it('refuses the whole request with 400 naming the field: no cards, 1001 cards, a non-object card, no cardId, an extra key', async () => {
    assertWholeRequestRefused(await postBatch({ cards: [] }), 'cards');
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ cardId: `c${i}` }));
    assertWholeRequestRefused(await postBatch({ cards: tooMany }), 'cards');
    assertWholeRequestRefused(await postBatch({ cards: [item(), 'card-2'] }), 'cards.1');
    assertWholeRequestRefused(await postBatch({ cards: [item(), { ...item(), cardId: 7 }] }), 'cards.1.cardId');
    const extra = await postBatch({ cards: [item()], campaign: 'spring' });
    assertWholeRequestRefused(extra, 'campaign');
    assert.match(String(extra.json.error), /campaign: is not a known field/);
    assertWholeRequestRefused(await postBatch({}), 'cards');
    assertWholeRequestRefused(await postBatch([item()]), '(body)');
    const answer = await postBatch({ cards: [item()], extra: true });
    assertNoCardData(answer);
    assert.deepEqual(await listOrders(), [], 'no card of a refused request is ordered');
    assert.deepEqual(await stats(), { orderRequests: 0, batchRequests: 8, batchCards: 0 });
  });

  it('applies the gate of the single endpoint: 503, 429, 401, the token issuer, the content type', async () => {
    const body = { cards: [item()] };
    await sim.call('POST', '/__sim/faults', { json: { errorRate: 1 } });
    const unavailable = await postBatch(body);
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.json.errorCode, 'SERVICE_UNAVAILABLE');

    await sim.call('POST', '/__sim/faults', { json: { errorRate: 0, rateLimitRate: 1, retryAfterSeconds: 4 } });
    const limited = await postBatch(body);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '4');

    await sim.call('POST', '/__sim/faults', { json: { rateLimitRate: 0, unauthorizedRate: 1 } });
    assert.equal((await postBatch(body)).status, 401);
    await sim.call('POST', '/__sim/faults', { json: { unauthorizedRate: 0 } });
    const noToken = await sim.call('POST', batchPath(), { json: body });
    assert.equal(noToken.status, 401);

    const otherIssuer = await sim.call('POST', batchPath(OTHER_ISSUER_ID), { token, json: body });
    assert.equal(otherIssuer.status, 403);
    assert.equal(otherIssuer.json.errorCode, 'FORBIDDEN');
    const badIssuer = await sim.call('POST', batchPath('SHORT'), { token, json: body });
    assertWholeRequestRefused(badIssuer, 'issuerId');
    const form = await sim.call('POST', batchPath(), {
      token,
      raw: 'cards=1',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(form.status, 415);
    const wrongMethod = await sim.call('GET', batchPath(), { token });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');

    assert.deepEqual(await listOrders(), [], 'no order is stored by a refused call');
    // Every POST counts as a D1 call, the faulted and refused ones too (the GET is not an order call).
    assert.equal((await stats()).batchRequests, 7);
  });

  it('takes 1,000 full cards in one call, over the single-order body limit', async () => {
    const cards = Array.from({ length: 1000 }, () => item());
    assert.ok(JSON.stringify({ cards }).length > 1_048_576, 'the batch is larger than the default body limit');
    const results = resultsOf(await postBatch({ cards }));
    assert.equal(results.length, 1000);
    assert.ok(results.every((result) => result.status === 'ACCEPTED'));
    assert.equal((await listOrders()).length, 1000);
    assert.deepEqual(await stats(), { orderRequests: 0, batchRequests: 1, batchCards: 1000 });
  });

  it('answers 413 naming its own limit (1,000 cards of 16 KiB) to a batch over it', async () => {
    const answer = await postBatch({ cards: [{ cardId: 'c1', padding: 'x'.repeat(16 * 1024 * 1024) }] });
    assert.equal(answer.status, 413);
    assert.equal(answer.json.errorCode, 'PAYLOAD_TOO_LARGE');
    assert.match(String(answer.json.error), /exceeds 16384000 bytes/);
  });

  it('counts single and batch order calls in /__sim/stats, zeroed by a reset', async () => {
    assert.deepEqual(await stats(), { orderRequests: 0, batchRequests: 0, batchCards: 0 });
    await sim.order(cardId(), { token });
    await postBatch({ cards: [item(), item()] });
    assert.deepEqual(await stats(), { orderRequests: 1, batchRequests: 1, batchCards: 2 });
    await sim.call('POST', '/__sim/reset');
    assert.deepEqual(await stats(), { orderRequests: 0, batchRequests: 0, batchCards: 0 });
    assert.equal((await sim.call('POST', '/__sim/stats', { json: {} })).status, 405);
  });
});

describe('simulator batch orders and notifications', () => {
  it('notifies the production of batch-ordered cards as for single ones', async () => {
    const operations: Operation[] = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/authz/d1/v1/oauth2/token') {
          const answer = { access_token: randomUUID(), token_type: 'Bearer', expires_in: 900 };
          return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        }
        const body = notificationBatchSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        operations.push(...body.operations);
        return response.writeHead(204).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const sim = await startSimulator({
      D1_SIM_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      D1_SIM_STEP_DELAY: '5ms',
    });
    try {
      const jwe = await encryptCardData(CARD_DATA, sim.encryptionJwk);
      const cards = [cardId(), cardId()].map((id) => ({ cardId: id, ...orderBody(jwe) }) as BatchCard);
      const answer = await sim.call('POST', batchPath(), { token: await sim.token(), json: { cards } });
      const results = resultsOf(answer);
      for (const [i, card] of cards.entries()) {
        const result = results[i];
        const shipped = await waitFor(
          () => operations.find((op) => op.cardId === card.cardId && op.details.status === 'CARD_SHIPPED') ?? undefined,
          `CARD_SHIPPED for ${card.cardId}`,
        );
        assert.equal(shipped.operationId, result?.status === 'ACCEPTED' ? result.operationId : undefined);
        assert.equal(shipped.issuerRequestId, card.issuerRequestId);
      }
    } finally {
      await sim.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('counts the notifications not yet sent in /__sim/stats until the webhook has taken them', async () => {
    // The webhook answers nothing until released: the first notification stays in flight, the others queued.
    const held: ServerResponse[] = [];
    let release = false;
    const receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        if (request.url === '/authz/d1/v1/oauth2/token') {
          const answer = { access_token: randomUUID(), token_type: 'Bearer', expires_in: 900 };
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        } else if (release) response.writeHead(204).end();
        else held.push(response);
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const sim = await startSimulator({
      D1_SIM_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      D1_SIM_STEP_DELAY: '1d',
    });
    const pending = async () =>
      ((await sim.call('GET', '/__sim/stats')).json as { notificationsPending: number }).notificationsPending;
    try {
      const jwe = await encryptCardData(CARD_DATA, sim.encryptionJwk);
      const cards = [cardId(), cardId(), cardId()].map((id) => ({ cardId: id, ...orderBody(jwe) }) as BatchCard);
      await sim.call('POST', batchPath(), { token: await sim.token(), json: { cards } });
      await waitFor(() => (held.length > 0 ? true : undefined), 'the first notification at the webhook');
      assert.equal(await pending(), 3, 'one CARD_PROD_REQUESTED per card, the first in flight');
      release = true;
      for (const response of held.splice(0)) response.writeHead(204).end();
      await waitFor(async () => ((await pending()) === 0 ? true : undefined), 'every notification sent');
    } finally {
      await sim.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
