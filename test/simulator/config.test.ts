import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';
import { ConfigError } from '../../common/errors.js';
import { loadSimulatorConfig } from '../../simulator/config.js';

function configIssues(env: Record<string, string>): string[] {
  try {
    loadSimulatorConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    return err.issues.map((issue) => issue.key).sort();
  }
  assert.fail('the configuration was accepted');
}

describe('loadSimulatorConfig', () => {
  it('runs the local demo on defaults alone', () => {
    const config = loadSimulatorConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8090);
    assert.equal(config.issuerJwksFile, path.join(projectRoot, '.data/keys/issuer-signing.jwks.json'));
    assert.equal(config.encryptionKeyFile, path.join(projectRoot, '.data/keys/d1-encryption.private.jwk.json'));
    assert.equal(config.issuerIds, undefined);
    assert.deepEqual(config.webhook, {
      urls: ['http://127.0.0.1:8091'],
      clientId: 'd1-simulator',
      clientSecret: 'd1-simulator-secret',
      retryMaxAttempts: 20,
      retryBaseMs: 500,
      timeoutMs: 5_000,
    });
    assert.equal(config.stepDelayMs, 1_000);
    assert.equal(config.tokenTtlSeconds, 900);
    assert.deepEqual(config.faults, {});
    assert.equal(config.bodyLimitBytes, 1_048_576);
    assert.equal(config.tls, undefined);
    assert.equal(config.expFormat, 'YYMM');
  });

  it('reads D1_SIM_EXTRA_ORDER_FIELDS as JSON field names, none by default, refusing a body field', () => {
    assert.deepEqual(loadSimulatorConfig({}).extraOrderFields, []);
    assert.deepEqual(
      loadSimulatorConfig({ D1_SIM_EXTRA_ORDER_FIELDS: 'oldCardId, branch,oldCardId' }).extraOrderFields,
      ['oldCardId', 'branch'],
    );
    assert.deepEqual(configIssues({ D1_SIM_EXTRA_ORDER_FIELDS: 'oldCardId,old-card' }), [
      'D1_SIM_EXTRA_ORDER_FIELDS.1',
    ]);
    assert.deepEqual(configIssues({ D1_SIM_EXTRA_ORDER_FIELDS: 'services' }), ['D1_SIM_EXTRA_ORDER_FIELDS.0']);
  });

  it('deduplicates Pull & change on Idempotency-Key by default, on the header D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER names, or not', () => {
    assert.equal(loadSimulatorConfig({}).updateOrderIdempotencyHeader, 'idempotency-key');
    const named = loadSimulatorConfig({ D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'X-Request-Id' });
    assert.equal(named.updateOrderIdempotencyHeader, 'x-request-id');
    const off = loadSimulatorConfig({ D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'none' });
    assert.equal(off.updateOrderIdempotencyHeader, undefined);
    assert.deepEqual(configIssues({ D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'a key' }), [
      'D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER',
    ]);
    assert.deepEqual(configIssues({ D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER: 'authorization' }), [
      'D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER',
    ]);
  });

  it('turns notifications off with D1_SIM_WEBHOOK_URL set to none or empty', () => {
    assert.deepEqual(loadSimulatorConfig({ D1_SIM_WEBHOOK_URL: 'none' }).webhook.urls, []);
    assert.deepEqual(loadSimulatorConfig({ D1_SIM_WEBHOOK_URL: '' }).webhook.urls, []);
    assert.deepEqual(loadSimulatorConfig({ D1_SIM_WEBHOOK_URL: 'http://hooks:9000/' }).webhook.urls, [
      'http://hooks:9000',
    ]);
    assert.deepEqual(
      loadSimulatorConfig({ D1_SIM_WEBHOOK_URL: 'http://hook-a:9000, http://hook-b:9000/' }).webhook.urls,
      ['http://hook-a:9000', 'http://hook-b:9000'],
    );
  });

  it('reads durations, the issuer list, faults and TLS files', () => {
    const config = loadSimulatorConfig({
      D1_SIM_STEP_DELAY: '20ms',
      D1_SIM_ISSUER_IDS: 'ISSUER0001, ISSUER0002',
      D1_SIM_FAULTS: '{"errorRate":0.5,"outcomes":[{"at":"DATA_EXCEPTION","errorCode":"OUT_OF_STOCK"}]}',
      D1_SIM_TLS_CERT_FILE: 'certs/server.crt',
      D1_SIM_TLS_KEY_FILE: '/abs/server.key',
      D1_SIM_TLS_CA_FILE: 'certs/ca.crt',
      D1_SIM_REQUIRE_CLIENT_CERT: 'true',
      D1_SIM_EXP_FORMAT: 'MMYY',
    });
    assert.equal(config.stepDelayMs, 20);
    assert.deepEqual(config.issuerIds, ['ISSUER0001', 'ISSUER0002']);
    assert.equal(config.faults.errorRate, 0.5);
    assert.deepEqual(config.faults.outcomes?.[0]?.match, {});
    assert.deepEqual(config.tls, {
      certFile: path.join(projectRoot, 'certs/server.crt'),
      keyFile: '/abs/server.key',
      caFile: path.join(projectRoot, 'certs/ca.crt'),
      requireClientCert: true,
    });
    assert.equal(config.expFormat, 'MMYY');
  });

  it('names every invalid variable, down to the fault knob', () => {
    assert.deepEqual(
      configIssues({
        D1_SIM_PORT: '70000',
        D1_SIM_STEP_DELAY: 'soon',
        D1_SIM_FAULTS: '{"errorRate":2}',
        D1_SIM_ISSUER_IDS: 'SHORT',
        D1_SIM_EXP_FORMAT: 'DDMM',
        D1_SIM_WEBHOOK_URL: 'ftp://hooks',
      }),
      [
        'D1_SIM_EXP_FORMAT',
        'D1_SIM_FAULTS.errorRate',
        'D1_SIM_ISSUER_IDS.0',
        'D1_SIM_PORT',
        'D1_SIM_STEP_DELAY',
        'D1_SIM_WEBHOOK_URL.0',
      ],
    );
    assert.deepEqual(configIssues({ D1_SIM_FAULTS: 'not json' }), ['D1_SIM_FAULTS']);
  });

  it('refuses half a TLS setup, and client certificates without a CA', () => {
    assert.deepEqual(configIssues({ D1_SIM_TLS_CERT_FILE: 'server.crt' }), ['D1_SIM_TLS_KEY_FILE']);
    assert.deepEqual(
      configIssues({
        D1_SIM_TLS_CERT_FILE: 'server.crt',
        D1_SIM_TLS_KEY_FILE: 'server.key',
        D1_SIM_REQUIRE_CLIENT_CERT: '1',
      }),
      ['D1_SIM_REQUIRE_CLIENT_CERT'],
    );
  });
});
