import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPair } from 'jose';
import { Pool } from 'undici';
import { loadSigningKey, type KeyWithId } from '../../d1/keys.js';
import { startD1Stack } from '../helpers/d1-stack.js';
import { clientFor, countingPool, orderBody, withD1Stack } from '../helpers/d1-client.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/temporal.js';
import { makeTestPki } from '../helpers/tls.js';

const ISSUER = 'ISSUER0001';

const withStack = withD1Stack;

describe('D1 client against the simulator', () => {
  it('makes one token request for many concurrent calls, and orders a card', () =>
    withStack(async (stack) => {
      const { dispatcher, count } = countingPool(stack.simulator.url);
      const client = await clientFor(stack, { dispatcher });
      const bodies = await Promise.all(Array.from({ length: 8 }, () => orderBody(stack)));
      const accepted = await Promise.all(bodies.map((body, i) => client.orderCard(ISSUER, `card-${i}`, body)));
      assert.equal(new Set(accepted.map((a) => a.operationId)).size, 8);
      assert.equal(count(/oauth2\/token/), 1);
      assert.equal(count(/operations:production$/), 8);
      await dispatcher.close();
    }));

  it('refreshes a token shortly before it expires, not sooner', () =>
    withStack(async (stack) => {
      // Tokens live 61 s and the client refreshes 60 s early: valid for one more second of client time.
      await stack.faults({ tokenTtlSeconds: 61 });
      const clock = { now: Date.now() };
      const { dispatcher, count } = countingPool(stack.simulator.url);
      const client = await clientFor(stack, { dispatcher, now: () => clock.now });
      await client.getToken(ISSUER);
      clock.now += 900;
      await client.getToken(ISSUER);
      assert.equal(count(/oauth2\/token/), 1);
      clock.now += 200;
      await client.getToken(ISSUER);
      assert.equal(count(/oauth2\/token/), 2);
      await dispatcher.close();
    }));

  it('answers a revoked token with one refresh and one retry', () =>
    withStack(async (stack) => {
      const { dispatcher, count } = countingPool(stack.simulator.url);
      const client = await clientFor(stack, { dispatcher });
      await client.orderCard(ISSUER, 'card-a', await orderBody(stack));
      await new Pool(stack.simulator.url).request({
        method: 'POST',
        path: '/__sim/tokens/revoke',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      await client.orderCard(ISSUER, 'card-b', await orderBody(stack));
      assert.equal(count(/oauth2\/token/), 2);
      assert.equal(count(/operations:production$/), 3);
      await dispatcher.close();
    }));

  it('refuses a token for a key D1 does not know, or an unknown kid', () =>
    withStack(async (stack) => {
      const { privateKey } = await generateKeyPair('ES256');
      const known = await loadSigningKey(stack.config.d1.signingKey);
      for (const signingKey of [
        { key: privateKey, kid: known.kid },
        { key: known.key, kid: 'no-such-kid' },
      ] as KeyWithId[]) {
        const client = await clientFor(stack, { signingKeyFor: () => Promise.resolve(signingKey) });
        await assert.rejects(client.getToken(ISSUER), (err: unknown) => {
          assert.equal((err as { code: string }).code, 'ERR_D1_TOKEN_REJECTED');
          // Retried (a key being rotated heals), with an alert for the operator.
          assert.equal((err as { retryable: boolean }).retryable, true);
          assert.equal((err as { needsOperator: boolean }).needsOperator, true);
          return true;
        });
        await client.close();
      }
    }));

  it('returns the original operation for a resubmitted order, and the simulator counts one order', () =>
    withStack(async (stack) => {
      const client = await clientFor(stack);
      const body = await orderBody(stack);
      const first = await client.orderCard(ISSUER, 'card-idem', body);
      const again = await client.orderCard(ISSUER, 'card-idem', body);
      assert.equal(again.operationId, first.operationId);
      const orders = (await stack.orders()).filter((order) => order.cardId === 'card-idem');
      assert.equal(orders.length, 1);
      assert.equal(orders[0]?.submissions, 2);
      await client.close();
    }));

  it('classifies a second order for a card in flight under another issuerRequestId as a permanent conflict', () =>
    withStack(
      async (stack) => {
        const client = await clientFor(stack);
        await client.orderCard(ISSUER, 'card-409', await orderBody(stack));
        await assert.rejects(client.orderCard(ISSUER, 'card-409', await orderBody(stack)), (err: unknown) => {
          assert.equal((err as { code: string }).code, 'ERR_D1_CONFLICT');
          assert.equal((err as { d1ErrorCode: string }).d1ErrorCode, 'ORDER_IN_PROGRESS');
          return true;
        });
        await client.close();
      },
      { D1_SIM_STEP_DELAY: '10m' },
    ));

  it('classifies 400, 404, 429 and 503 answers, and stores no order for a 503', () =>
    withStack(async (stack) => {
      const client = await clientFor(stack);
      const invalid = { ...(await orderBody(stack)), consumerId: 'not valid!' };
      await assert.rejects(client.orderCard(ISSUER, 'card-400', invalid), (err: unknown) => {
        assert.equal((err as { code: string }).code, 'ERR_D1_BAD_REQUEST');
        assert.match((err as Error).message, /consumerId/);
        return true;
      });
      await assert.rejects(client.getProductionStatus(ISSUER, 'never-ordered'), {
        code: 'ERR_D1_NOT_FOUND',
        retryable: false,
      });
      await stack.faults({ rateLimitRate: 1, retryAfterSeconds: 3 });
      await assert.rejects(client.orderCard(ISSUER, 'card-429', await orderBody(stack)), {
        code: 'ERR_D1_RATE_LIMITED',
        retryable: true,
        retryAfterMs: 3000,
      });
      await stack.faults({ rateLimitRate: 0, errorRate: 1 });
      await assert.rejects(client.orderCard(ISSUER, 'card-503', await orderBody(stack)), {
        code: 'ERR_D1_UNAVAILABLE',
        retryable: true,
      });
      assert.equal((await stack.orders()).filter((order) => order.cardId === 'card-503').length, 0);
      await client.close();
    }));

  it('classifies an order D1 accepted but never answered as a transient timeout', () =>
    withStack(async (stack) => {
      const client = await clientFor(stack, { requestTimeoutMs: 300 });
      await client.getToken(ISSUER);
      await stack.faults({ timeoutRate: 1 });
      await assert.rejects(client.orderCard(ISSUER, 'card-timeout', await orderBody(stack)), {
        code: 'ERR_D1_TIMEOUT',
        retryable: true,
      });
      assert.equal((await stack.orders()).filter((order) => order.cardId === 'card-timeout').length, 1);
      await client.close();
    }));

  it('classifies a refused connection as a transient network error', async () => {
    const stack = await startD1Stack();
    await stack.close();
    const client = await clientFor(stack, { baseUrl: `http://127.0.0.1:${await freePort()}` });
    await assert.rejects(client.getToken(ISSUER), { code: 'ERR_D1_NETWORK', retryable: true });
    await client.close();
  });

  it('follows an order through the lifecycle to CARD_SHIPPED, and a failure outcome to FAILED with its code', () =>
    withStack(async (stack) => {
      const client = await clientFor(stack);
      await stack.faults({
        outcomes: [{ match: { cardId: 'card-fails' }, at: 'DATA_EXCEPTION', errorCode: 'TEMPLATE_NOT_FOUND' }],
      });
      await client.orderCard(ISSUER, 'card-ships', await orderBody(stack));
      await client.orderCard(ISSUER, 'card-fails', await orderBody(stack));
      const shipped = await eventually(
        async () => {
          const { operations } = await client.getProductionStatus(ISSUER, 'card-ships');
          return operations.find((op) => op.status === 'SUCCESSFUL');
        },
        { what: 'CARD_SHIPPED' },
      );
      assert.equal(shipped.details.status, 'CARD_SHIPPED');
      assert.ok(shipped.details.shipment?.trackingNumber);
      const failed = await eventually(
        async () => {
          const { operations } = await client.getProductionStatus(ISSUER, 'card-fails');
          return operations.find((op) => op.status === 'FAILED');
        },
        { what: 'DATA_EXCEPTION' },
      );
      assert.equal(failed.details.status, 'DATA_EXCEPTION');
      assert.equal(failed.errorCode, 'TEMPLATE_NOT_FOUND');
      await client.close();
    }));

  it('cancels an order not yet shipped through Pull & change', () =>
    withStack(
      async (stack) => {
        const client = await clientFor(stack);
        await client.orderCard(ISSUER, 'card-cancel', await orderBody(stack));
        const { operationId } = await client.updateOrder(ISSUER, 'card-cancel', { type: 'CANCEL' });
        const produce = await eventually(
          async () => {
            const { operations } = await client.getProductionStatus(ISSUER, 'card-cancel');
            return operations.find((op) => op.operation === 'PRODUCE' && op.details.status === 'CARD_PROD_CANCELED');
          },
          { what: 'CARD_PROD_CANCELED' },
        );
        assert.ok(produce);
        const { operations } = await client.getProductionStatus(ISSUER, 'card-cancel');
        assert.equal(operations.find((op) => op.operationId === operationId)?.status, 'SUCCESSFUL');
        await client.close();
      },
      { D1_SIM_STEP_DELAY: '200ms' },
    ));

  it('sends a Pull & change requestId in the configured header: a repeat is the same request, another body a conflict', () =>
    withStack(
      async (stack) => {
        const client = await clientFor(stack, { updateOrderIdempotencyHeader: 'X-Request-Id' });
        await client.orderCard(ISSUER, 'card-change', await orderBody(stack));
        const requestId = 'change-1';
        const first = await client.updateOrder(ISSUER, 'card-change', { type: 'ACCELERATE' }, { requestId });
        const again = await client.updateOrder(ISSUER, 'card-change', { type: 'ACCELERATE' }, { requestId });
        assert.equal(again.operationId, first.operationId);
        await assert.rejects(client.updateOrder(ISSUER, 'card-change', { type: 'CANCEL' }, { requestId }), {
          code: 'ERR_D1_CONFLICT',
          retryable: false,
        });
        const { operations } = await client.getProductionStatus(ISSUER, 'card-change');
        assert.equal(operations.filter((op) => op.operation === 'UPDATE_ORDER').length, 1);

        // With the header off (`none`), nothing names the request: each is a new one.
        const plain = await clientFor(stack, { updateOrderIdempotencyHeader: undefined });
        const other = await plain.updateOrder(ISSUER, 'card-change', { type: 'ACCELERATE' }, { requestId });
        assert.notEqual(other.operationId, first.operationId);
        await Promise.all([client.close(), plain.close()]);
      },
      { D1_SIM_STEP_DELAY: '1h', D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'X-Request-Id' },
    ));

  it('talks mutual TLS, and is refused without a client certificate', async () => {
    const pki = await makeTestPki();
    await withStack(
      async (stack) => {
        const { readFile } = await import('node:fs/promises');
        const tls = {
          cert: await readFile(pki.clientCert),
          key: await readFile(pki.clientKey),
          ca: await readFile(pki.caCert),
        };
        const client = await clientFor(stack, { tls });
        await assert.rejects(client.getProductionStatus(ISSUER, 'nothing-here'), { code: 'ERR_D1_NOT_FOUND' });
        await client.close();
        const anonymous = await clientFor(stack, { tls: { ca: tls.ca } });
        await assert.rejects(anonymous.getToken(ISSUER), { code: 'ERR_D1_NETWORK', retryable: true });
        await anonymous.close();
      },
      {
        D1_SIM_TLS_CERT_FILE: pki.serverCert,
        D1_SIM_TLS_KEY_FILE: pki.serverKey,
        D1_SIM_TLS_CA_FILE: pki.caCert,
        D1_SIM_REQUIRE_CLIENT_CERT: 'true',
      },
    );
  });
});
