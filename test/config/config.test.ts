import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, projectRoot } from '../../config/config.js';
import { ConfigError, isCardOrderError } from '../../common/errors.js';

describe('loadConfig', () => {
  it('runs the local demo on defaults alone', () => {
    const config = loadConfig({ HOME: '/home/demo' });
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.taskQueue, 'card-orders');
    assert.equal(config.temporal.uiPort, 8233);
    assert.equal(config.temporal.dbFile, path.join(projectRoot, '.data/temporal.sqlite'));
    assert.equal(config.cacheDir, '/home/demo/.cache/d1-card-orders');
    assert.equal(config.worker.shutdownGraceMs, 30_000);
  });

  it('takes the Temporal address and namespace from the usual TEMPORAL_ variables', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'cards-prod' });
    assert.equal(config.temporal.address, 'temporal.internal:7233');
    assert.equal(config.temporal.namespace, 'cards-prod');
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ TEMPORAL_UI_PORT: '' }).temporal.uiPort, 8233);
  });

  it('parses durations with units into milliseconds', () => {
    assert.equal(loadConfig({ WORKER_SHUTDOWN_GRACE: '1.5m' }).worker.shutdownGraceMs, 90_000);
    assert.equal(loadConfig({ WORKER_SHUTDOWN_GRACE: '250ms' }).worker.shutdownGraceMs, 250);
  });

  it('names every invalid key and why, with a stable code', () => {
    assert.throws(
      () =>
        loadConfig({
          TEMPORAL_ADDRESS: 'no-port',
          TEMPORAL_UI_PORT: '70000',
          WORKER_SHUTDOWN_GRACE: 'soon',
          LOG_LEVEL: 'loud',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError && isCardOrderError(err));
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.deepEqual(err.issues.map((issue) => issue.key).sort(), [
          'LOG_LEVEL',
          'TEMPORAL_ADDRESS',
          'TEMPORAL_UI_PORT',
          'WORKER_SHUTDOWN_GRACE',
        ]);
        assert.match(err.message, /TEMPORAL_ADDRESS: must be host:port/);
        assert.match(err.message, /WORKER_SHUTDOWN_GRACE: must be a duration/);
        return true;
      },
    );
  });

  it('returns a frozen object, so no component can change what another reads', () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.temporal));
  });
});

describe('loadConfig for D1', () => {
  it('points the D1 client at the simulator and the demo keys by default', () => {
    const { d1, keysDir } = loadConfig({});
    assert.equal(d1.baseUrl, 'http://127.0.0.1:8090');
    assert.equal(d1.issuerId, 'ISSUER0001');
    assert.equal(d1.signingKey.file, path.join(keysDir, 'issuer-signing.private.jwk.json'));
    assert.equal(d1.encryptionKey.file, path.join(keysDir, 'd1-encryption.public.jwk.json'));
  });

  it('refuses an assertion lifetime beyond D1 limit and half a mutual TLS pair, naming both keys', () => {
    assert.throws(
      () => loadConfig({ D1_ASSERTION_TTL: '20m', D1_TLS_CERT_FILE: 'client.pem', D1_ISSUER_ID: 'SHORT' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.issues.map((issue) => issue.key).sort(), [
          'D1_ASSERTION_TTL',
          'D1_ISSUER_ID',
          'D1_TLS_KEY_FILE',
        ]);
        return true;
      },
    );
  });

  it('sends no replaced card to D1 by default, and under D1_REPLACES_CARD_ID_FIELD when it names a field', () => {
    assert.equal(loadConfig({}).d1.replacesCardIdField, undefined);
    assert.equal(loadConfig({ D1_REPLACES_CARD_ID_FIELD: '' }).d1.replacesCardIdField, undefined);
    assert.equal(loadConfig({ D1_REPLACES_CARD_ID_FIELD: 'oldCardId' }).d1.replacesCardIdField, 'oldCardId');
  });

  it('refuses a D1_REPLACES_CARD_ID_FIELD that is no JSON field name, naming the key', () => {
    for (const value of ['OldCardId', 'old-card-id', 'old card', '1card', `a${'b'.repeat(64)}`]) {
      assert.throws(
        () => loadConfig({ D1_REPLACES_CARD_ID_FIELD: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, value);
          assert.deepEqual(
            err.issues.map((issue) => issue.key),
            ['D1_REPLACES_CARD_ID_FIELD'],
          );
          assert.match(err.message, /D1_REPLACES_CARD_ID_FIELD: must be a JSON field name/);
          return true;
        },
      );
    }
  });

  it("refuses a D1_REPLACES_CARD_ID_FIELD that is one of the order body's own fields", () => {
    for (const value of ['cardProductId', 'issuerRequestId', 'services', 'shipment', 'distributionChannel']) {
      assert.throws(
        () => loadConfig({ D1_REPLACES_CARD_ID_FIELD: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, value);
          assert.equal(
            err.message,
            `Invalid configuration: D1_REPLACES_CARD_ID_FIELD: must not be ${value}, a field of the order body itself`,
          );
          return true;
        },
      );
    }
  });

  it('sends Pull & change identities in Idempotency-Key by default, under D1_UPDATE_ORDER_IDEMPOTENCY_HEADER, or none', () => {
    assert.equal(loadConfig({}).d1.updateOrderIdempotencyHeader, 'Idempotency-Key');
    const named = loadConfig({ D1_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'X-Request-Id' });
    assert.equal(named.d1.updateOrderIdempotencyHeader, 'X-Request-Id');
    assert.equal(loadConfig({ D1_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'none' }).d1.updateOrderIdempotencyHeader, undefined);
    for (const [value, reason] of [
      ['Idempotency Key', 'must be an HTTP header name (RFC 9110 token), or none'],
      ['Authorization', 'must not be Authorization, a header the D1 client sets itself'],
      ['X-Correlation-Id', 'must not be X-Correlation-Id, a header the D1 client sets itself'],
    ] as const) {
      assert.throws(
        () => loadConfig({ D1_UPDATE_ORDER_IDEMPOTENCY_HEADER: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, value);
          assert.equal(err.message, `Invalid configuration: D1_UPDATE_ORDER_IDEMPOTENCY_HEADER: ${reason}`);
          return true;
        },
      );
    }
  });

  it('caches 1,000 workflows per worker by default, and refuses a cache smaller than the concurrent tasks', () => {
    assert.equal(loadConfig({}).worker.maxCachedWorkflows, 500);
    assert.throws(
      () => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '10', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20' }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.map((issue) => issue.key).join() === 'WORKER_MAX_CACHED_WORKFLOWS',
    );
  });
});
