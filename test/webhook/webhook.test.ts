import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { createDataConverter } from '../../codec/data-converter.js';
import { loadConfig } from '../../config/config.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';
import type { PartialBatchAnswer } from '../../webhook/server.js';
import { loadTokenSecret } from '../../webhook/tokens.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { freePort } from '../helpers/ports.js';
import { makeTestPki } from '../helpers/tls.js';
import { eventually, testEnvironment, testWorkflowBundle, uniqueName } from '../helpers/temporal.js';
import { basic, type Harness, ISSUER, newCardId, notify, operation, recorded, startWebhook, token } from './support.js';

describe('notification webhook', () => {
  let env: TestWorkflowEnvironment;
  let h: Harness;
  let worker: Worker;
  let running: Promise<void>;

  before(async () => {
    env = await testEnvironment();
    h = await startWebhook({ address: env.address, connection: env.connection });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: h.config.temporal.taskQueue,
      workflowBundle: await testWorkflowBundle(),
      dataConverter: { payloadCodecs: (await createDataConverter(h.config)).payloadCodecs ?? [] },
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await h?.close();
    await env?.teardown();
  });

  it('issues tokens to known clients only, as D1 expects them', async () => {
    const good = await h.webhook.app.inject({
      method: 'POST',
      url: '/authz/d1/v1/oauth2/token',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    });
    assert.equal(good.statusCode, 200);
    const body = good.json<Record<string, unknown>>();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, '60');
    // RFC 6749 5.1: a token answer is not to be cached.
    assert.equal(good.headers['cache-control'], 'no-store');
    assert.equal(good.headers.pragma, 'no-cache');
    for (const authorization of [`Basic ${Buffer.from('d1-simulator:wrong').toString('base64')}`, undefined]) {
      const refused = await h.webhook.app.inject({
        method: 'POST',
        url: '/authz/d1/v1/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization && { authorization }) },
        payload: 'grant_type=client_credentials',
      });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.json<{ error: string }>().error, 'invalid_client');
    }
  });

  it('takes client credentials form-urlencoded before base64 (RFC 6749 2.3.1), and as sent by clients that do not encode', async () => {
    const encodedClient = { clientId: 'd1 eu:client', clientSecret: 'p+ss/w%rd:a=1&b=2', issuerIds: [ISSUER] };
    // A base64 secret, with `+` and `/`, as a client that does not encode sends it.
    const plainClient = { clientId: 'd1-plain', clientSecret: 'q2+Yd/Pe7Lw8mR0sXa4bTg==', issuerIds: [ISSUER] };
    const other = await startWebhook(
      { address: env.address, connection: env.connection },
      { WEBHOOK_CLIENTS: JSON.stringify([encodedClient, plainClient]) },
    );
    try {
      const tokenAnswer = (authorization: string) =>
        other.webhook.app.inject({
          method: 'POST',
          url: '/authz/d1/v1/oauth2/token',
          headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'grant_type=client_credentials',
        });
      const basicOf = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
      // Each form-urlencoded by hand: a space is `+`, a reserved character `%XX`.
      const encoded = await tokenAnswer(basicOf('d1+eu%3Aclient:p%2Bss%2Fw%25rd%3Aa%3D1%26b%3D2'));
      assert.equal(encoded.statusCode, 200, encoded.body);
      const plainEncoded = await tokenAnswer(basicOf('d1-plain:q2%2BYd%2FPe7Lw8mR0sXa4bTg%3D%3D'));
      assert.equal(plainEncoded.statusCode, 200, plainEncoded.body);
      const plainAsIs = await tokenAnswer(basicOf(`${plainClient.clientId}:${plainClient.clientSecret}`));
      assert.equal(plainAsIs.statusCode, 200, plainAsIs.body);
      const wrong = await tokenAnswer(basicOf('d1+eu%3Aclient:p%2Bss%2Fw%25rd'));
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json<{ error: string }>().error, 'invalid_client');
    } finally {
      await other.close();
    }
  });

  it('records a notification for a card with no running order, answers 204, and it can be read back', async () => {
    const cardId = uniqueName('stray').slice(0, 40);
    const op = operation(cardId);
    const response = await notify(h, await token(h), { operations: [op] });
    assert.equal(response.statusCode, 204);
    const kept = await eventually(() => recorded(h, cardId));
    assert.deepEqual(kept, [op]);
  });

  it('refuses missing, forged, expired and foreign tokens with 401, and signals nothing', async () => {
    const secret = await loadTokenSecret(h.config.webhook.tokenSecret);
    const claims = { issuer_ids: [ISSUER] };
    const sign = (key: Uint8Array, exp: number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('d1-card-orders/webhook')
        .setAudience('d1-card-orders/notifications')
        .setExpirationTime(exp)
        .sign(key);
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      undefined,
      'not-a-jwt',
      await sign(new Uint8Array(32).fill(7), now + 60), // forged: another secret
      await sign(secret, now - 60), // expired
      await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience('elsewhere')
        .setExpirationTime(now + 60)
        .sign(secret),
    ];
    const cardId = uniqueName('unauth').slice(0, 40);
    for (const bearer of bad) {
      const response = await notify(h, bearer, { operations: [operation(cardId)] });
      assert.equal(response.statusCode, 401, String(bearer));
      assert.equal(response.json<{ errorCode: string }>().errorCode, 'UNAUTHORIZED');
      // RFC 6750 3 and 3.1: the scheme to use, and invalid_token only when a token was sent.
      const challenge = bearer === undefined ? 'Bearer' : 'Bearer error="invalid_token"';
      assert.equal(response.headers['www-authenticate'], challenge, String(bearer));
    }
    assert.equal(await recorded(h, cardId), undefined);
  });

  it('refuses a token issued for another issuer with 403', async () => {
    const response = await notify(h, await token(h), { operations: [operation('card-x')] }, 'ISSUER0002');
    assert.equal(response.statusCode, 403);
  });

  it('answers bad input with the right 4xx and a JSON body naming the field', async () => {
    const bearer = await token(h);
    const malformed = await notify(h, bearer, '{"operations": [');
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json<{ errorCode: string }>().errorCode, 'INVALID_JSON');

    // A batch whose operations are all invalid is still a batch: 200, each problem reported, nothing to retry.
    const wrongTypes = await notify(h, bearer, {
      operations: [{ ...operation('c1'), cardId: 42, startTime: 'yesterday' }],
    });
    assert.equal(wrongTypes.statusCode, 200);
    const answer = wrongTypes.json<{ accepted: number; rejected: { index: number; field: string }[] }>();
    assert.equal(answer.accepted, 0);
    assert.deepEqual(answer.rejected.map((r) => `${r.index}:${r.field}`).sort(), [
      '0:operations.0.cardId',
      '0:operations.0.startTime',
    ]);

    const unknownEnum = await notify(h, bearer, { operations: [{ ...operation('c1'), status: 'DONE' }] });
    assert.equal(unknownEnum.statusCode, 200);
    assert.match(unknownEnum.body, /operations\.0\.status/);

    // Not a batch at all: refused whole.
    for (const notABatch of [{ operations: [] }, { operations: {} }, { ops: [operation('c1')] }, [operation('c1')]]) {
      const refused = await notify(h, bearer, notABatch);
      assert.equal(refused.statusCode, 400, JSON.stringify(notABatch));
      assert.equal(refused.json<{ errorCode: string }>().errorCode, 'INVALID_FIELD');
    }

    const oversized = await notify(h, bearer, { operations: [operation('c1', { error: 'x'.repeat(8000) })] });
    assert.equal(oversized.statusCode, 413);

    const wrongType = await notify(h, bearer, 'operations=1', ISSUER, 'application/x-www-form-urlencoded');
    assert.equal(wrongType.statusCode, 415);

    const badIssuer = await notify(h, bearer, { operations: [operation('c1')] }, 'SHORT');
    assert.ok([400, 403].includes(badIssuer.statusCode));

    const unknownPath = await h.webhook.app.inject({ method: 'POST', url: '/notifications/d1/v3/else' });
    assert.equal(unknownPath.statusCode, 404);
    const wrongMethod = await h.webhook.app.inject({
      method: 'GET',
      url: `/notifications/d1/v2/issuers/${ISSUER}/cards`,
    });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
  });

  it('refuses an operation with an oversize details.status, naming the field, and stores the rest of its batch', async () => {
    const keptCard = newCardId('kept');
    const refusedCard = newCardId('oversize');
    const kept = operation(keptCard);
    // Over the 64 characters of a code: as the ProductionStage search attribute it would fail the order's task.
    const oversize = `CARD_${'X'.repeat(300)}`;
    const response = await notify(h, await token(h), {
      operations: [kept, operation(refusedCard, { details: { status: oversize } })],
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const answer = response.json<PartialBatchAnswer>();
    assert.equal(answer.accepted, 1);
    assert.deepEqual(answer.rejected, [
      {
        index: 1,
        field: 'operations.1.details.status',
        message: 'Too big: expected string to have <=64 characters',
      },
    ]);
    assert.ok(!response.body.includes(oversize), 'never the value');
    assert.deepEqual(await eventually(() => recorded(h, keptCard)), [kept]);
    assert.equal(await recorded(h, refusedCard), undefined, 'the refused operation reached no workflow');
    assert.ok(!h.logs.text().includes(oversize), 'nor in the log');
  });

  it('never answers 5xx or crashes on random bodies (fuzz)', async () => {
    const bearer = await token(h);
    const bodies = fc.oneof(
      fc.json(),
      fc.string(),
      fc.jsonValue().map((value) => JSON.stringify({ operations: [value] })),
      fc
        .record({ operations: fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 3 }) })
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const response = await notify(h, bearer, body);
        return response.statusCode < 500;
      }),
      { numRuns: 2000 },
    );
    const health = await h.webhook.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
  });

  it('counts requests by route and status, and times signals, on its metrics endpoint', async () => {
    const { url, server } = await h.metrics.serve('127.0.0.1', 0);
    try {
      const response = await request(url);
      const text = await response.body.text();
      assert.match(
        text,
        /webhook_requests_total\{route="\/notifications\/d1\/v2\/issuers\/:issuerId\/cards",status="204"\} [1-9]/,
      );
      assert.match(text, /webhook_requests_total\{route="[^"]+",status="401"\} [1-9]/);
      assert.match(text, /webhook_signal_duration_seconds_count\{outcome="stored"\} [1-9]/);
      assert.match(text, /webhook_operations_total\{outcome="unmatched"\} [1-9]/);
      assert.match(text, /webhook_operations_total\{outcome="rejected"\} [1-9]/);
      assert.match(text, /webhook_signals_total [1-9]/);
    } finally {
      server.close();
    }
  });

  it('keeps card data and tokens out of its logs', () => {
    const text = h.logs.text();
    assert.ok(!text.includes('d1-simulator-secret'));
    assert.ok(!/Bearer ey/.test(text));
    assert.match(text, /"correlationId"/);
  });
});

describe('notification webhook while Temporal is down', () => {
  it('answers 503 (so D1 retries), then 204 once Temporal is back, with each operation applied once', async () => {
    const port = await freePort();
    const dbFilename = path.join(process.env.TEST_TMPDIR ?? '/tmp', `${uniqueName('down')}.sqlite`);
    const cli = await resolveTemporalCli(loadConfig({ PATH: process.env.PATH, HOME: process.env.HOME }));
    const server = () =>
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: cli },
          port,
          dbFilename,
          searchAttributes: [...cardOrderSearchAttributes],
        },
      });
    let temporal = await server();
    const h = await startWebhook({ address: temporal.address });
    try {
      const bearer = await token(h);
      const ready = await h.webhook.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      await temporal.teardown();

      const cardId = uniqueName('outage').slice(0, 40);
      const batch = { operations: [operation(cardId), operation(cardId, { details: { status: 'CARD_PROD_DONE' } })] };
      const during = await notify(h, bearer, batch);
      assert.equal(during.statusCode, 503);
      assert.equal(during.headers['retry-after'], '5');
      assert.equal((await h.webhook.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
      // Nothing valid to store: the invalid operations are reported, and D1 is not asked to retry them.
      const invalidOnly = await notify(h, bearer, { operations: [{ ...operation(cardId), startTime: 'yesterday' }] });
      assert.equal(invalidOnly.statusCode, 200);

      temporal = await server();
      const afterwards = await eventually(
        async () => {
          const response = await notify(h, bearer, batch);
          return response.statusCode === 204 ? response : undefined;
        },
        { timeoutMs: 30_000, what: 'a 204 once Temporal is back' },
      );
      assert.equal(afterwards.statusCode, 204);
      const worker = await Worker.create({
        connection: temporal.nativeConnection,
        taskQueue: h.config.temporal.taskQueue,
        workflowBundle: await testWorkflowBundle(),
        dataConverter: { payloadCodecs: (await createDataConverter(h.config)).payloadCodecs ?? [] },
      });
      const kept = await worker.runUntil(() => eventually(() => recorded(h, cardId)));
      assert.deepEqual(
        kept.map((op) => op.operationId),
        batch.operations.map((op) => op.operationId),
      );
    } finally {
      await h.close();
      await temporal.teardown();
    }
  });
});

describe('notification webhook over mutual TLS', () => {
  it('serves a client with a certificate from its CA, and refuses one without', async () => {
    const pki = await makeTestPki();
    const env = await testEnvironment();
    const h = await startWebhook(
      { address: env.address, connection: env.connection },
      {
        WEBHOOK_TLS_CERT_FILE: pki.serverCert,
        WEBHOOK_TLS_KEY_FILE: pki.serverKey,
        WEBHOOK_TLS_CA_FILE: pki.caCert,
        WEBHOOK_REQUIRE_CLIENT_CERT: 'true',
      },
    );
    try {
      assert.match(h.webhook.url, /^https:/);
      const ca = await readFile(pki.caCert);
      const withCert = new Agent({
        connect: { ca, cert: await readFile(pki.clientCert), key: await readFile(pki.clientKey) },
      });
      const ok = await request(`${h.webhook.url}/healthz`, { dispatcher: withCert });
      assert.equal(ok.statusCode, 200);
      await ok.body.dump();
      const without = new Agent({ connect: { ca } });
      await assert.rejects(request(`${h.webhook.url}/healthz`, { dispatcher: without }));
      await Promise.all([withCert.close(), without.close()]);
    } finally {
      await h.close();
      await env.teardown();
    }
  });
});
