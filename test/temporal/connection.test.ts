import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/config.js';
import { ConfigError, KeyMaterialError } from '../../common/errors.js';
import { temporalConnectionOptions } from '../../temporal/connection.js';

describe('Temporal connection options', () => {
  it('connects in plain text to the local dev server by default', () => {
    assert.deepEqual(temporalConnectionOptions(loadConfig({}).temporal), { address: '127.0.0.1:7233' });
  });

  it('uses TLS with an API key, as Temporal Cloud wants', () => {
    const options = temporalConnectionOptions(
      loadConfig({ TEMPORAL_ADDRESS: 'cards.a1b2c.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key-123' }).temporal,
    );
    assert.deepEqual(options, { address: 'cards.a1b2c.tmprl.cloud:7233', apiKey: 'key-123', tls: {} });
  });

  it('presents a client certificate for mutual TLS, and names a file it cannot read', async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'temporal-tls-'));
    for (const name of ['client.pem', 'client.key', 'ca.pem']) await writeFile(path.join(dir, name), name);
    const options = temporalConnectionOptions(
      loadConfig({
        TEMPORAL_TLS_CERT_FILE: path.join(dir, 'client.pem'),
        TEMPORAL_TLS_KEY_FILE: path.join(dir, 'client.key'),
        TEMPORAL_TLS_CA_FILE: path.join(dir, 'ca.pem'),
      }).temporal,
    );
    assert.equal(options.tls?.clientCertPair?.crt.toString(), 'client.pem');
    assert.equal(options.tls?.serverRootCACertificate?.toString(), 'ca.pem');
    const missing = loadConfig({ TEMPORAL_TLS_CA_FILE: path.join(dir, 'nope.pem') }).temporal;
    assert.throws(() => temporalConnectionOptions(missing), KeyMaterialError);
    assert.throws(() => loadConfig({ TEMPORAL_TLS_CERT_FILE: 'client.pem' }), ConfigError);
  });
});
