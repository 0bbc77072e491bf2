import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { JWT_BEARER_GRANT, tokenResponseSchema } from '../../d1/schemas.js';
import {
  ISSUER_ID,
  makeAssertion,
  ManualClock,
  OTHER_ISSUER_ID,
  startSimulator,
  type Answer,
  type TestSimulator,
} from './support.js';

const TOKEN_PATH = '/authz/v1/oauth2/token';

describe('simulator token endpoint', () => {
  let sim: TestSimulator;
  const clock = new ManualClock();

  before(async () => {
    sim = await startSimulator({}, { clock });
  });
  after(() => sim?.close());

  const exchange = async (assertion: string) =>
    sim.call('POST', TOKEN_PATH, { form: { grant_type: JWT_BEARER_GRANT, assertion } });
  const assertRefused = (answer: Answer, pattern: RegExp) => {
    assert.equal(answer.status, 400, answer.text);
    assert.equal(answer.json.error, 'invalid_grant');
    assert.equal(answer.json.errorCode, 'invalid_grant');
    assert.match(String(answer.json.error_description), pattern);
  };

  it('issues a Bearer token for a valid assertion sent as a form', async () => {
    const answer = await exchange(await makeAssertion(sim.signingKey));
    assert.equal(answer.status, 200, answer.text);
    const token = tokenResponseSchema.parse(answer.json);
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.expires_in, 900);
    assert.equal(token.scope, 'd1-api:physical-card');
    // RFC 6749 5.1: a token answer is not to be cached.
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers.pragma, 'no-cache');
  });

  it('issues a token for the same request sent as JSON', async () => {
    const answer = await sim.call('POST', TOKEN_PATH, {
      json: { grant_type: JWT_BEARER_GRANT, assertion: await makeAssertion(sim.signingKey) },
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(typeof answer.json.access_token, 'string');
  });

  it('refuses an assertion signed by another key under a known kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    assertRefused(
      await exchange(await makeAssertion({ key: privateKey, kid: sim.signingKey.kid })),
      /signature does not verify/,
    );
  });

  it('refuses an unknown kid and a missing kid', async () => {
    assertRefused(await exchange(await makeAssertion(sim.signingKey, {}, 'nobody-knows-me')), /no issuer key has kid/);
    assertRefused(await exchange(await makeAssertion(sim.signingKey, {}, null)), /no kid/);
  });

  it('refuses iss different from sub, and an iss that is not a 10-character issuerId', async () => {
    assertRefused(await exchange(await makeAssertion(sim.signingKey, { sub: OTHER_ISSUER_ID })), /sub must equal iss/);
    assertRefused(await exchange(await makeAssertion(sim.signingKey, { iss: 'SHORT', sub: 'SHORT' })), /iss must be/);
  });

  it('refuses exp more than 15 minutes ahead, exp in the past, a missing exp and iat in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertRefused(await exchange(await makeAssertion(sim.signingKey, { exp: now + 16 * 60 })), /15 minutes/);
    assertRefused(await exchange(await makeAssertion(sim.signingKey, { exp: now - 120 })), /expired/);
    assertRefused(await exchange(await makeAssertion(sim.signingKey, { exp: undefined })), /"exp"/);
    assertRefused(await exchange(await makeAssertion(sim.signingKey, { iat: now + 600 })), /iat is in the future/);
  });

  it('refuses an assertion not signed with ES256', async () => {
    const hs256 = await new SignJWT({ iss: ISSUER_ID, sub: ISSUER_ID })
      .setProtectedHeader({ alg: 'HS256', kid: sim.signingKey.kid })
      .setExpirationTime('5m')
      .sign(new Uint8Array(32));
    assertRefused(await exchange(hs256), /ES256/);
    assertRefused(await exchange('not-a-jwt'), /not a signed JWT/);
  });

  it('answers unsupported_grant_type and invalid_request (naming the field) for bad token requests', async () => {
    const wrongGrant = await sim.call('POST', TOKEN_PATH, { form: { grant_type: 'client_credentials' } });
    assert.equal(wrongGrant.status, 400);
    assert.equal(wrongGrant.json.error, 'unsupported_grant_type');
    const noAssertion = await sim.call('POST', TOKEN_PATH, { form: { grant_type: JWT_BEARER_GRANT } });
    assert.equal(noAssertion.status, 400);
    assert.equal(noAssertion.json.error, 'invalid_request');
    assert.match(String(noAssertion.json.error_description), /^assertion: /);
    const wrongType = await sim.call('POST', TOKEN_PATH, {
      raw: 'assertion=x',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.status, 415);
  });

  it('gives tokens the lifetime of the tokenTtlSeconds fault when set', async () => {
    await sim.call('POST', '/__sim/faults', { json: { tokenTtlSeconds: 5 } });
    try {
      const answer = await exchange(await makeAssertion(sim.signingKey));
      assert.equal(answer.json.expires_in, 5);
    } finally {
      await sim.call('POST', '/__sim/reset');
    }
  });

  describe('access tokens on the banking API', () => {
    const statusOf = async (token?: string, issuerId = ISSUER_ID) =>
      sim.call('GET', `${sim.cardPath('card-unknown', issuerId)}/productionStatus`, token ? { token } : {});
    const assertUnauthorized = (answer: Answer) => {
      assert.equal(answer.status, 401, answer.text);
      assert.equal(answer.json.errorCode, 'UNAUTHORIZED');
      assert.match(String(answer.headers['www-authenticate']), /^Bearer/);
    };

    it('lets a valid token through (the unknown card is then a 404)', async () => {
      const answer = await statusOf(await sim.token());
      assert.equal(answer.status, 404);
      assert.equal(answer.json.errorCode, 'CARD_NOT_FOUND');
    });

    it('answers 401 to a missing, malformed or forged token', async () => {
      // RFC 6750 3.1: the error attribute only when a token was sent.
      const missing = await statusOf();
      assertUnauthorized(missing);
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
      const garbage = await statusOf('garbage');
      assertUnauthorized(garbage);
      assert.equal(garbage.headers['www-authenticate'], 'Bearer error="invalid_token"');
      const forged = await new SignJWT({ serial: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('d1-simulator')
        .setSubject(ISSUER_ID)
        .setExpirationTime('5m')
        .sign(new Uint8Array(32));
      assertUnauthorized(await statusOf(forged));
    });

    it('answers 401 once a token has expired', async () => {
      const token = await sim.token();
      assert.equal((await statusOf(token)).status, 404);
      clock.advance(901_000);
      const answer = await statusOf(token);
      assertUnauthorized(answer);
      assert.match(String(answer.json.error), /expired/);
    });

    it('answers 401 to revoked tokens, and a token fetched afterwards works', async () => {
      const before = await sim.token();
      const other = await sim.token(OTHER_ISSUER_ID);
      assert.equal((await sim.call('POST', '/__sim/tokens/revoke', { json: { issuerId: ISSUER_ID } })).status, 204);
      assertUnauthorized(await statusOf(before));
      assert.equal((await statusOf(other, OTHER_ISSUER_ID)).status, 404, 'other issuers keep their tokens');
      assert.equal((await statusOf(await sim.token())).status, 404);

      assert.equal((await sim.call('POST', '/__sim/tokens/revoke')).status, 204);
      assertUnauthorized(await statusOf(other, OTHER_ISSUER_ID));
    });

    it('answers 403 to a token issued to another issuer than the path names', async () => {
      const answer = await statusOf(await sim.token(OTHER_ISSUER_ID));
      assert.equal(answer.status, 403);
      assert.equal(answer.json.errorCode, 'FORBIDDEN');
    });
  });
});

describe('simulator token endpoint with D1_SIM_ISSUER_IDS', () => {
  it('refuses issuers that are not listed', async () => {
    const sim = await startSimulator({ D1_SIM_ISSUER_IDS: ISSUER_ID });
    try {
      assert.ok(await sim.token(ISSUER_ID));
      const answer = await sim.call('POST', TOKEN_PATH, {
        form: {
          grant_type: JWT_BEARER_GRANT,
          assertion: await makeAssertion(sim.signingKey, { iss: OTHER_ISSUER_ID, sub: OTHER_ISSUER_ID }),
        },
      });
      assert.equal(answer.status, 400);
      assert.match(String(answer.json.error_description), /not known/);
    } finally {
      await sim.close();
    }
  });
});
