import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { WebhookTokens, type WebhookClient } from '../../webhook/tokens.js';

const secret = new Uint8Array(32).fill(3);
const clients: WebhookClient[] = [
  { clientId: 'client-a', clientSecret: 'a-secret-of-16-chars', issuerIds: ['ISSUER0001'] },
  { clientId: 'client-b', clientSecret: 'b-secret-of-16-chars', issuerIds: ['ISSUER0002'] },
];
const TTL_MS = 60_000;
const T0 = Date.UTC(2026, 11, 6, 1, 0, 0);

/** Tokens on a clock the test moves. */
function tokensAt(start = T0, verifiedCacheSize?: number) {
  const clock = { now: start };
  const tokens = new WebhookTokens(clients, secret, TTL_MS, () => clock.now, { verifiedCacheSize });
  return { clock, tokens };
}

const [clientA, clientB] = clients as [WebhookClient, WebhookClient];

describe('verified token cache', () => {
  it('answers a token verified before from the cache, with the same issuer ids', async () => {
    const { tokens } = tokensAt();
    const { access_token: token } = await tokens.issue(clientA);
    assert.deepEqual(await tokens.verify(token), ['ISSUER0001']);
    assert.equal(tokens.cachedTokenCount, 1);
    assert.deepEqual(await tokens.verify(token), ['ISSUER0001']);
    assert.equal(tokens.cachedTokenCount, 1);
  });

  it('refuses a cached token once it has expired, as a fresh verification does', async () => {
    const { clock, tokens } = tokensAt();
    const { access_token: token } = await tokens.issue(clientA);
    await tokens.verify(token);
    clock.now = T0 + TTL_MS - 1_000; // one second before its exp: still valid
    assert.deepEqual(await tokens.verify(token), ['ISSUER0001']);
    clock.now = T0 + TTL_MS; // its exp second: refused, as jose refuses it
    await assert.rejects(tokens.verify(token));
    assert.equal(tokens.cachedTokenCount, 0);
    // Not brought back by a later call either.
    await assert.rejects(tokens.verify(token));
  });

  it('verifies a different token on its own: a cached one answers for nothing else', async () => {
    const { tokens } = tokensAt();
    const a = (await tokens.issue(clientA)).access_token;
    const b = (await tokens.issue(clientB)).access_token;
    assert.deepEqual(await tokens.verify(a), ['ISSUER0001']);
    assert.deepEqual(await tokens.verify(b), ['ISSUER0002']);
    // The same text with its signature altered, and another secret's token with the same claims: refused.
    const [head, body, signature] = a.split('.') as [string, string, string];
    const flipped = `${head}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    await assert.rejects(tokens.verify(flipped));
    const forged = await new SignJWT({ issuer_ids: ['ISSUER0001'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('d1-card-orders/webhook')
      .setAudience('d1-card-orders/notifications')
      .setSubject('client-a')
      .setIssuedAt(Math.floor(T0 / 1000))
      .setExpirationTime(Math.floor(T0 / 1000) + 60)
      .sign(new Uint8Array(32).fill(9));
    await assert.rejects(tokens.verify(forged));
    assert.equal(tokens.cachedTokenCount, 2);
  });

  it('never keeps a token past its own expiry, whatever the cache holds', async () => {
    const { clock, tokens } = tokensAt();
    const early = (await tokens.issue(clientA)).access_token;
    clock.now = T0 + 30_000;
    const late = (await tokens.issue(clientA)).access_token;
    await tokens.verify(early);
    await tokens.verify(late);
    clock.now = T0 + TTL_MS; // early's exp; late has 30 s left
    await assert.rejects(tokens.verify(early));
    assert.deepEqual(await tokens.verify(late), ['ISSUER0001']);
  });

  it('stays within its bound: the oldest token goes, and is verified again when it comes back', async () => {
    const { clock, tokens } = tokensAt(T0, 3);
    const issued: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.now = T0 + i * 1_000; // a new iat: a different token each time
      issued.push((await tokens.issue(clientA)).access_token);
    }
    assert.equal(new Set(issued).size, 5);
    for (const token of issued) await tokens.verify(token);
    assert.equal(tokens.cachedTokenCount, 3);
    // An evicted token is still valid: it is verified in full, and cached again.
    assert.deepEqual(await tokens.verify(issued[0] as string), ['ISSUER0001']);
    assert.equal(tokens.cachedTokenCount, 3);
  });

  it('drops expired entries before valid ones when full', async () => {
    const { clock, tokens } = tokensAt(T0, 2);
    const first = (await tokens.issue(clientA)).access_token;
    await tokens.verify(first);
    clock.now = T0 + 30_000;
    const second = (await tokens.issue(clientA)).access_token;
    await tokens.verify(second);
    clock.now = T0 + TTL_MS + 1_000; // first has expired, second has not
    const third = (await tokens.issue(clientB)).access_token;
    await tokens.verify(third);
    assert.equal(tokens.cachedTokenCount, 2);
    assert.deepEqual(await tokens.verify(second), ['ISSUER0001']);
    assert.deepEqual(await tokens.verify(third), ['ISSUER0002']);
  });

  it('with a size of 0, caches nothing and still verifies', async () => {
    const { tokens } = tokensAt(T0, 0);
    const token = (await tokens.issue(clientA)).access_token;
    assert.deepEqual(await tokens.verify(token), ['ISSUER0001']);
    assert.equal(tokens.cachedTokenCount, 0);
  });

  it('hands out issuer ids the caller cannot change for the next request', async () => {
    const { tokens } = tokensAt();
    const token = (await tokens.issue(clientA)).access_token;
    const allowed = await tokens.verify(token);
    assert.throws(() => (allowed as string[]).push('ISSUER0002'));
    assert.deepEqual(await tokens.verify(token), ['ISSUER0001']);
  });
});
