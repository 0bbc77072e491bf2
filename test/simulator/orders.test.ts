import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { generateKeyPair, exportJWK } from 'jose';
import { errors as undiciErrors } from 'undici';
import { operationAcceptedSchema } from '../../d1/schemas.js';
import {
  CARD_DATA,
  encryptCardData,
  orderBody,
  startSimulator,
  waitFor,
  type Answer,
  type TestSimulator,
} from './support.js';

const cardId = () => `card-${randomUUID().slice(0, 8)}`;

/**
 * No answer may carry a card value back, whatever went wrong. Short values (exp, cvv2) are looked for only in
 * error answers, where no timestamp or id could contain them by chance.
 */
function assertNoCardData(answer: Answer, values: readonly string[] = [CARD_DATA.pan, CARD_DATA.name]) {
  for (const value of values) assert.ok(!answer.text.includes(value), 'the answer echoes card data');
}

function assertInvalid(answer: Answer, errorCode: string, field: string) {
  assert.equal(answer.status, 400, answer.text);
  assert.equal(answer.json.errorCode, errorCode);
  const fields = (answer.json.fields as { field: string }[]).map((issue) => issue.field);
  assert.ok(fields.includes(field), `${field} is not named in ${answer.text}`);
  assert.match(String(answer.json.error), new RegExp(`${field.replaceAll('.', '\\.')}: `));
  assertNoCardData(answer, Object.values(CARD_DATA));
}

describe('simulator order endpoint', () => {
  let sim: TestSimulator;
  let token: string;
  // A slow lifecycle keeps every order in flight for the whole file.
  before(async () => {
    sim = await startSimulator({ D1_SIM_STEP_DELAY: '1h' });
    token = await sim.token();
  });
  after(() => sim?.close());
  beforeEach(() => sim.call('POST', '/__sim/faults', { json: { errorRate: 0, rateLimitRate: 0, timeoutRate: 0 } }));

  const orderPath = (id: string) => `${sim.cardPath(id)}/operations:production`;
  const postOrder = async (id: string, body: unknown, headers: Record<string, string> = {}) =>
    sim.call('POST', orderPath(id), { token, json: body, headers });
  const listOrders = async () =>
    (await sim.call('GET', '/__sim/orders')).json as unknown as { cardId: string; submissions: number }[];

  it('accepts an order whose card data is a JWE made with the key from /__sim/encryption-key', async () => {
    const id = cardId();
    assert.deepEqual(Object.keys(sim.encryptionJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const answer = await sim.order(id);
    assert.equal(answer.status, 202, answer.text);
    const { operationId } = operationAcceptedSchema.parse(answer.json);
    assert.match(operationId, /^[0-9a-f-]{36}$/);

    const orders = await sim.call('GET', '/__sim/orders');
    const order = (orders.json as unknown as Record<string, unknown>[]).find((entry) => entry.cardId === id);
    assert.deepEqual(Object.keys(order ?? {}).sort(), [
      'cardId',
      'cardProductId',
      'createdAt',
      'detailsStatus',
      'issuerId',
      'issuerRequestId',
      'operationId',
      'status',
      'submissions',
      'updates',
    ]);
    assert.equal(order?.operationId, operationId);
    assert.equal(order?.detailsStatus, 'CARD_PROD_REQUESTED');
    assertNoCardData(orders);
  });

  it('answers a resubmission with the original operationId and counts it, without a second order', async () => {
    const id = cardId();
    const body = orderBody(await encryptCardData(CARD_DATA, sim.encryptionJwk));
    const first = await postOrder(id, body);
    // A client retry re-encrypts: the JWE differs, the issuerRequestId does not.
    const second = await postOrder(id, { ...body, encryptedData: await encryptCardData(CARD_DATA, sim.encryptionJwk) });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.json.operationId, first.json.operationId);
    const orders = (await listOrders()).filter((order) => order.cardId === id);
    assert.equal(orders.length, 1);
    assert.equal(orders[0]?.submissions, 2);
  });

  it('answers 409 ORDER_IN_PROGRESS to another issuerRequestId while the order is in flight', async () => {
    const id = cardId();
    assert.equal((await sim.order(id)).status, 202);
    const answer = await sim.order(id);
    assert.equal(answer.status, 409);
    assert.equal(answer.json.errorCode, 'ORDER_IN_PROGRESS');
    assert.equal((await listOrders()).filter((order) => order.cardId === id).length, 1);
  });

  it('answers 400 naming the invalid body field, with every issue listed', async () => {
    const body = orderBody(await encryptCardData(CARD_DATA, sim.encryptionJwk));
    const shipment = body.shipment as { deliveryAddress: Record<string, unknown> };
    const answer = await postOrder(cardId(), {
      ...body,
      shipment: { ...shipment, deliveryAddress: { ...shipment.deliveryAddress, countryCode: 'usa' } },
      services: { issuance: 'FIRST' },
    });
    assertInvalid(answer, 'INVALID_FIELD', 'shipment.deliveryAddress.countryCode');
    assertInvalid(answer, 'INVALID_FIELD', 'services.issuance');
    assert.match(String(answer.json.error), /ISO 3166-1 alpha-2/);
  });

  it('names an unknown body field, a missing one, and a distribution channel other than THALES', async () => {
    const body = orderBody(await encryptCardData(CARD_DATA, sim.encryptionJwk));
    assertInvalid(await postOrder(cardId(), { ...body, surprise: true }), 'INVALID_FIELD', 'surprise');
    assertInvalid(await postOrder(cardId(), { ...body, consumerId: undefined }), 'INVALID_FIELD', 'consumerId');
    assertInvalid(
      await postOrder(cardId(), { ...body, distributionChannel: 'INSTANT' }),
      'INVALID_FIELD',
      'distributionChannel',
    );
  });

  it('answers 400 naming an invalid path parameter', async () => {
    const body = orderBody(await encryptCardData(CARD_DATA, sim.encryptionJwk));
    assertInvalid(
      await sim.call('POST', `${sim.cardPath('bad.card')}/operations:production`, { token, json: body }),
      'INVALID_FIELD',
      'cardId',
    );
    assertInvalid(
      await sim.call('POST', `${sim.cardPath('c1', 'SHORT')}/operations:production`, { token, json: body }),
      'INVALID_FIELD',
      'issuerId',
    );
  });

  it('answers 400 naming x-correlation-id when it breaks its pattern', async () => {
    const body = orderBody(await encryptCardData(CARD_DATA, sim.encryptionJwk));
    assertInvalid(
      await postOrder(cardId(), body, { 'x-correlation-id': 'has spaces' }),
      'INVALID_FIELD',
      'x-correlation-id',
    );
  });

  describe('encryptedData', () => {
    it('refuses card data without a pan, naming the field and echoing no value', async () => {
      const { exp, name } = CARD_DATA;
      const answer = await sim.order(cardId(), { cardData: { exp, name } });
      assertInvalid(answer, 'INVALID_ENCRYPTED_DATA', 'encryptedData.pan');
    });

    it('refuses a pan failing the Luhn check, an exp not in YYMM, and an unknown field, echoing no value', async () => {
      const answer = await sim.order(cardId(), {
        cardData: { ...CARD_DATA, pan: '4111111111111112', exp: '0629', pin: '1234' },
      });
      assertInvalid(answer, 'INVALID_ENCRYPTED_DATA', 'encryptedData.pan');
      assertInvalid(answer, 'INVALID_ENCRYPTED_DATA', 'encryptedData.exp');
      assertInvalid(answer, 'INVALID_ENCRYPTED_DATA', 'encryptedData.pin');
      assert.ok(!answer.text.includes('4111111111111112') && !answer.text.includes('1234'));
    });

    it('refuses a JWE with the wrong alg, enc or kid, or made for another key', async () => {
      const jwk = sim.encryptionJwk;
      const other = await exportJWK((await generateKeyPair('ECDH-ES', { extractable: true })).publicKey);
      const cases: [string, RegExp][] = [
        [await encryptCardData(CARD_DATA, jwk, { alg: 'ECDH-ES+A256KW' }), /alg must be ECDH-ES/],
        [await encryptCardData(CARD_DATA, jwk, { enc: 'A128GCM' }), /enc must be A256GCM/],
        [await encryptCardData(CARD_DATA, jwk, { kid: 'someone-else' }), /kid is not a known key/],
        [await encryptCardData(CARD_DATA, { ...other, kid: jwk.kid }), /cannot be decrypted/],
      ];
      for (const [jwe, reason] of cases) {
        const answer = await postOrder(cardId(), orderBody(jwe));
        assertInvalid(answer, 'INVALID_ENCRYPTED_DATA', 'encryptedData');
        assert.match(String(answer.json.error), reason);
      }
      assertInvalid(await postOrder(cardId(), orderBody('not.a.jwe')), 'INVALID_FIELD', 'encryptedData');
    });
  });

  describe('bad HTTP input', () => {
    it('answers 415 to a body that is not JSON, even a form', async () => {
      for (const headers of [
        { 'content-type': 'application/x-www-form-urlencoded' },
        { 'content-type': 'text/plain' },
      ]) {
        const answer = await sim.call('POST', orderPath(cardId()), { token, raw: 'a=b', headers });
        assert.equal(answer.status, 415, answer.text);
        assert.equal(answer.json.errorCode, 'UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('answers 413 to a body over the limit', async () => {
      const answer = await postOrder(cardId(), { padding: 'x'.repeat(1_100_000) });
      assert.equal(answer.status, 413);
      assert.equal(answer.json.errorCode, 'PAYLOAD_TOO_LARGE');
    });

    it('answers 400 INVALID_JSON to malformed JSON without quoting it', async () => {
      const answer = await sim.call('POST', orderPath(cardId()), {
        token,
        raw: `{"pan":"${CARD_DATA.pan}",`,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(answer.status, 400);
      assert.equal(answer.json.errorCode, 'INVALID_JSON');
      assertNoCardData(answer);
    });

    it('answers 404 JSON to an unknown path and 405 JSON with Allow to a wrong method', async () => {
      const unknown = await sim.call('GET', '/banking/v1/nothing-here');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.errorCode, 'NOT_FOUND');
      const encodedColon = await sim.call('POST', `${sim.cardPath('c1')}/operations%3Aproduction`, { token });
      assert.equal(encodedColon.status, 404);

      const wrongMethod = await sim.call('GET', orderPath('c1'), { token });
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.json.errorCode, 'METHOD_NOT_ALLOWED');
      assert.equal(wrongMethod.headers.allow, 'POST');
      const deleteStatus = await sim.call('DELETE', `${sim.cardPath('c1')}/productionStatus`);
      assert.equal(deleteStatus.status, 405);
      assert.equal(deleteStatus.headers.allow, 'GET, HEAD');
    });

    it('answers the status endpoint under its all-lowercase spelling too', async () => {
      const id = cardId();
      await sim.order(id);
      const answer = await sim.call('GET', `/banking/v1/issuers/ISSUER0001/physicalcards/${id}/productionstatus`, {
        token,
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.json.operations?.length, 1);
    });
  });

  describe('faults', () => {
    it('answers 503 SERVICE_UNAVAILABLE at errorRate 1 and stores no order', async () => {
      await sim.call('POST', '/__sim/faults', { json: { errorRate: 1 } });
      const id = cardId();
      const answer = await sim.order(id);
      assert.equal(answer.status, 503);
      assert.equal(answer.json.errorCode, 'SERVICE_UNAVAILABLE');
      assert.equal((await listOrders()).filter((order) => order.cardId === id).length, 0);
    });

    it('answers 429 with Retry-After at rateLimitRate 1', async () => {
      await sim.call('POST', '/__sim/faults', { json: { rateLimitRate: 1, retryAfterSeconds: 7 } });
      const answer = await sim.order(cardId());
      assert.equal(answer.status, 429);
      assert.equal(answer.json.errorCode, 'RATE_LIMITED');
      assert.equal(answer.headers['retry-after'], '7');
    });

    it('delays banking answers by latencyMs', async () => {
      await sim.call('POST', '/__sim/faults', { json: { latencyMs: 150 } });
      try {
        const started = Date.now();
        await sim.call('GET', `${sim.cardPath('c1')}/productionStatus`, { token });
        assert.ok(Date.now() - started >= 150);
      } finally {
        await sim.call('POST', '/__sim/faults', { json: { latencyMs: 0 } });
      }
    });

    it('stores the order but never answers at timeoutRate 1', async () => {
      await sim.call('POST', '/__sim/faults', { json: { timeoutRate: 1 } });
      const id = cardId();
      const body = orderBody(await encryptCardData(CARD_DATA, sim.encryptionJwk));
      await assert.rejects(
        sim.call('POST', orderPath(id), { token, json: body, headersTimeout: 300 }),
        undiciErrors.HeadersTimeoutError,
      );
      const orders = (await listOrders()).filter((order) => order.cardId === id);
      assert.equal(orders.length, 1);
      // The client's retry with the same issuerRequestId finds the order.
      await sim.call('POST', '/__sim/faults', { json: { timeoutRate: 0 } });
      const retry = await postOrder(id, body);
      assert.equal(retry.status, 202);
    });
  });

  it('never writes card data, tokens or assertions to its log', async () => {
    await sim.order(cardId());
    await sim.order(cardId(), { cardData: { ...CARD_DATA, pan: undefined } });
    const log = sim.logs.join('');
    assert.ok(sim.logs.length > 0);
    for (const value of [CARD_DATA.pan, CARD_DATA.name]) assert.ok(!log.includes(value), 'card data in the log');
    assert.ok(!log.includes(token), 'an access token in the log');
    assert.ok(!log.includes('eyJ'), 'a JWT or JWE in the log');
  });
});

describe('simulator order endpoint options', () => {
  it('reads exp as MMYY with D1_SIM_EXP_FORMAT=MMYY', async () => {
    const sim = await startSimulator({ D1_SIM_EXP_FORMAT: 'MMYY' });
    try {
      assert.equal((await sim.order(cardId(), { cardData: { ...CARD_DATA, exp: '1128' } })).status, 202);
      const refused = await sim.order(cardId(), { cardData: { ...CARD_DATA, exp: '2811' } });
      assertInvalid(refused, 'INVALID_ENCRYPTED_DATA', 'encryptedData.exp');
      assert.match(String(refused.json.error), /MMYY/);
    } finally {
      await sim.close();
    }
  });

  it('takes the order-body fields of D1_SIM_EXTRA_ORDER_FIELDS and lists them; refuses them when not configured', async () => {
    const sim = await startSimulator({ D1_SIM_EXTRA_ORDER_FIELDS: 'oldCardId, issuerBranch' });
    const plain = await startSimulator();
    try {
      const replacing = cardId();
      const plainId = cardId();
      const accepted = await sim.order(replacing, { overrides: { oldCardId: 'card-lost-1' } });
      assert.equal(accepted.status, 202, accepted.text);
      assert.equal((await sim.order(plainId)).status, 202);
      const listed = (await sim.call('GET', '/__sim/orders')).json as unknown as Record<string, unknown>[];
      assert.deepEqual(listed.find((order) => order.cardId === replacing)?.extraFields, { oldCardId: 'card-lost-1' });
      assert.equal('extraFields' in (listed.find((order) => order.cardId === plainId) ?? {}), false);

      // A configured field must be a string of 1..64 characters; the strict body still refuses any other field.
      assertInvalid(await sim.order(cardId(), { overrides: { oldCardId: 42 } }), 'INVALID_FIELD', 'oldCardId');
      assertInvalid(await sim.order(cardId(), { overrides: { oldCardId: '' } }), 'INVALID_FIELD', 'oldCardId');
      assertInvalid(
        await sim.order(cardId(), { overrides: { oldCardId: 'x'.repeat(65) } }),
        'INVALID_FIELD',
        'oldCardId',
      );
      assertInvalid(
        await sim.order(cardId(), { overrides: { oldCardId: 'card-lost-1', surprise: 'yes' } }),
        'INVALID_FIELD',
        'surprise',
      );

      // Without the onboarding's field configured, D1 refuses it as unknown, and records nothing.
      const refusedId = cardId();
      const refused = await plain.order(refusedId, { overrides: { oldCardId: 'card-lost-1' } });
      assertInvalid(refused, 'INVALID_FIELD', 'oldCardId');
      const plainOrders = (await plain.call('GET', '/__sim/orders')).json as unknown as { cardId: string }[];
      assert.equal(
        plainOrders.some((order) => order.cardId === refusedId),
        false,
      );
    } finally {
      await Promise.all([sim.close(), plain.close()]);
    }
  });

  it('closes promptly while it holds an unanswered order (timeoutRate), dropping the connection', async () => {
    const sim = await startSimulator({ D1_SIM_FAULTS: '{"timeoutRate":1}' });
    const id = cardId();
    const pending = sim.order(id);
    await waitFor(async () => {
      const orders = (await sim.call('GET', '/__sim/orders')).json as unknown as { cardId: string }[];
      return orders.some((order) => order.cardId === id) ? true : undefined;
    }, 'the held order');
    await sim.close();
    await assert.rejects(pending);
  });
});
