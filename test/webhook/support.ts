/**
 * What the webhook tests share: a webhook on a real Temporal server (the run's dev server, or one of the test's
 * own), tokens, notification calls, and readers for what reached the workflows.
 *
 * @module
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createDataConverter } from '../../codec/data-converter.js';
import { loadConfig, type Config } from '../../config/config.js';
import type { Operation } from '../../d1/report-schemas.js';
import { WebhookMetrics } from '../../webhook/metrics.js';
import { unmatchedWorkflowId } from '../../temporal/notification-router.js';
import { createWebhookServer, type WebhookServer } from '../../webhook/server.js';
import { loadTokenSecret, webhookClients, WebhookTokens } from '../../webhook/tokens.js';
import { unmatchedNotificationsQuery } from '../../rules/contracts/unmatched-notifications.js';
import { LogCapture, makeKeysDir } from '../helpers/d1-stack.js';
import { uniqueName } from '../helpers/temporal.js';

export const ISSUER = 'ISSUER0001';
export const basic = `Basic ${Buffer.from('d1-simulator:d1-simulator-secret').toString('base64')}`;
export const codecKeysFile = path.join(import.meta.dirname, '../fixtures/codec-keys.json');

/** A valid PRODUCE operation for `cardId`, with a fresh operationId. */
export function operation(cardId: string, overrides: Partial<Operation> = {}): Operation {
  return {
    operationId: uniqueName('op'),
    operation: 'PRODUCE',
    status: 'PENDING',
    startTime: '2026-11-24T10:00:00.000Z',
    cardId,
    details: { status: 'CARD_PROD_ONGOING' },
    ...overrides,
  };
}

/** A card id no other test uses (D1 allows 48 characters). */
export const newCardId = (prefix = 'card') => uniqueName(prefix).slice(0, 40);

export interface Harness {
  config: Config;
  webhook: WebhookServer;
  metrics: WebhookMetrics;
  client: Client;
  logs: LogCapture;
  close(): Promise<void>;
}

/** A webhook in demo mode (the simulator's credentials), on its own task queue. `extraEnv` overrides settings. */
export async function startWebhook(
  env: { address: string; connection?: Connection },
  extraEnv: Record<string, string> = {},
): Promise<Harness> {
  const keysDir = await makeKeysDir();
  const config = loadConfig({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DEMO_MODE: 'true',
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: uniqueName('webhook'),
    KEYS_DIR: keysDir,
    PAYLOAD_CODEC_KEYS_FILE: codecKeysFile,
    WEBHOOK_PORT: '0',
    WEBHOOK_BODY_LIMIT_BYTES: '4096',
    WEBHOOK_SIGNAL_TIMEOUT: '2s',
    ...extraEnv,
  });
  const connection = env.connection ?? Connection.lazy({ address: env.address });
  const client = new Client({ connection, dataConverter: await createDataConverter(config) });
  const logs = new LogCapture();
  const tokens = new WebhookTokens(webhookClients(config), await loadTokenSecret(config.webhook.tokenSecret), 60_000);
  const metrics = new WebhookMetrics();
  const webhook = await createWebhookServer(config, { client, tokens, logger: logs.logger, metrics });
  return {
    config,
    webhook,
    metrics,
    client,
    logs,
    close: async () => {
      await webhook.close();
      if (!env.connection) await connection.close();
    },
  };
}

export async function token(h: Harness): Promise<string> {
  const response = await h.webhook.app.inject({
    method: 'POST',
    url: '/authz/d1/v1/oauth2/token',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ access_token: string }>().access_token;
}

export function notify(
  h: Harness,
  bearer: string | undefined,
  body: unknown,
  issuerId = ISSUER,
  contentType = 'application/json',
) {
  return h.webhook.app.inject({
    method: 'POST',
    url: `/notifications/d1/v2/issuers/${issuerId}/cards`,
    headers: { 'content-type': contentType, ...(bearer && { authorization: `Bearer ${bearer}` }) },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The unmatched notifications recorded for a card (a worker must run), or undefined when none were. */
export async function recorded(h: Harness, cardId: string): Promise<Operation[] | undefined> {
  try {
    const kept = await h.client.workflow
      .getHandle(unmatchedWorkflowId(ISSUER, cardId))
      .query(unmatchedNotificationsQuery);
    return kept.map((entry) => entry.operation);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Whether a workflow with this id exists at all (running or closed). */
export async function exists(h: Harness, workflowId: string): Promise<boolean> {
  try {
    await h.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * The `d1Notification` signals in a workflow's history, each as the operation ids it carried, decoded with the
 * payload codec. Needs no worker: the server records a signal when it takes it.
 */
export async function signalsIn(h: Harness, workflowId: string): Promise<string[][]> {
  const codec = (await createDataConverter(h.config)).payloadCodecs?.[0];
  assert.ok(codec);
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const signals: string[][] = [];
  for (const event of history.events ?? []) {
    const signalled = event.workflowExecutionSignaledEventAttributes;
    if (signalled?.signalName !== 'd1Notification') continue;
    const [payload] = await codec.decode(signalled.input?.payloads ?? []);
    assert.ok(payload);
    const { operations } = defaultPayloadConverter.fromPayload<{ operations: Operation[] }>(payload);
    signals.push(operations.map((op) => op.operationId));
  }
  return signals;
}

/** The current value of a webhook counter (summed over labels matching `labels`). */
export async function counter(h: Harness, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = h.metrics.registry.getSingleMetric(name);
  assert.ok(metric, name);
  const { values } = await metric.get();
  return values
    .filter((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}
