/**
 * `npm run webhook`: the notification webhook, until SIGINT or SIGTERM. It starts even while Temporal is down
 * (`/readyz` says so, and batches get 503 until it is back), but not without WEBHOOK_CLIENTS outside the demo
 * (DEMO_MODE): it fails closed.
 *
 * @module
 */
import { Client, Connection } from '@temporalio/client';
import { createDataConverter } from '../codec/data-converter.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../common/logger.js';
import { WebhookMetrics } from './metrics.js';
import { createWebhookServer } from './server.js';
import { loadTokenSecret, webhookClients, WebhookTokens } from './tokens.js';
import { temporalConnectionOptions } from '../temporal/connection.js';

const config = loadConfig();
// Fails closed before anything else: no WEBHOOK_CLIENTS outside the demo is a ConfigError naming it.
const clients = webhookClients(config);
const logger = createLogger(config, 'webhook');
const connection = Connection.lazy(temporalConnectionOptions(config.temporal));
const client = new Client({
  connection,
  namespace: config.temporal.namespace,
  dataConverter: await createDataConverter(config),
});
const tokens = new WebhookTokens(clients, await loadTokenSecret(config.webhook.tokenSecret), config.webhook.tokenTtlMs);
const metrics = new WebhookMetrics();
const metricsEndpoint =
  config.webhook.metrics && (await metrics.serve(config.webhook.metrics.host, config.webhook.metrics.port));
const server = await createWebhookServer(config, { client, tokens, logger, metrics });
logger.info({ url: server.url, metrics: metricsEndpoint?.url }, 'webhook listening');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server
      .close()
      .then(() => connection.close())
      .then(() => metricsEndpoint?.server.close())
      .finally(() => logger.info('webhook stopped'));
  });
}
