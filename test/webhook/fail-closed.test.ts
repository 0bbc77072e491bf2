import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/config.js';
import { webhookClients } from '../../webhook/tokens.js';
import { configRefusal, runToExit } from '../helpers/fail-closed.js';
import { codecKeysFile } from './support.js';

const clients = (entries: unknown) => JSON.stringify(entries);
const demoClient = { clientId: 'd1-simulator', clientSecret: 'd1-simulator-secret', issuerIds: ['ISSUER0001'] };
const realClient = { clientId: 'd1-prod', clientSecret: 'a-long-production-secret', issuerIds: ['ISSUER0001'] };

const refusal = (env: Record<string, string>) =>
  configRefusal(() => webhookClients(loadConfig(env)), 'the webhook clients');

describe('webhook clients fail closed', () => {
  it('refuses to run without WEBHOOK_CLIENTS, naming it, unless DEMO_MODE is on', () => {
    const error = refusal({});
    assert.deepEqual(
      error.issues.map((issue) => issue.key),
      ['WEBHOOK_CLIENTS'],
    );
    assert.match(error.message, /DEMO_MODE/);
    assert.equal(refusal({ DEMO_MODE: 'false' }).issues[0]?.key, 'WEBHOOK_CLIENTS');

    assert.deepEqual(webhookClients(loadConfig({ DEMO_MODE: 'true', D1_ISSUER_ID: 'ISSUER0042' })), [
      { clientId: 'd1-simulator', clientSecret: 'd1-simulator-secret', issuerIds: ['ISSUER0042'] },
    ]);
  });

  it('refuses the public demo credentials outside the demo, even when WEBHOOK_CLIENTS names them', () => {
    const named = refusal({ WEBHOOK_CLIENTS: clients([realClient, demoClient]) });
    assert.equal(named.issues[0]?.key, 'WEBHOOK_CLIENTS.1');
    const secretOnly = refusal({
      WEBHOOK_CLIENTS: clients([{ ...realClient, clientSecret: demoClient.clientSecret }]),
    });
    assert.equal(secretOnly.issues[0]?.key, 'WEBHOOK_CLIENTS.0');

    assert.deepEqual(webhookClients(loadConfig({ WEBHOOK_CLIENTS: clients([realClient]) })), [realClient]);
    assert.deepEqual(webhookClients(loadConfig({ WEBHOOK_CLIENTS: clients([demoClient]), DEMO_MODE: 'true' })), [
      demoClient,
    ]);
  });

  it('`npm run webhook` exits at once without WEBHOOK_CLIENTS, naming it, and never listens', async () => {
    const { code, output } = await runToExit('webhook/main.ts', {
      PAYLOAD_CODEC_KEYS_FILE: codecKeysFile,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      WEBHOOK_PORT: '0',
      WEBHOOK_METRICS_PORT: '0',
    });
    assert.notEqual(code, 0);
    assert.match(output, /ERR_CONFIG_INVALID|Invalid configuration/);
    assert.match(output, /WEBHOOK_CLIENTS: must be set/);
    assert.doesNotMatch(output, /webhook listening/);
  });
});
