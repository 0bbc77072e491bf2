/**
 * Everything a card-order saga test runs on, all real: the run's Temporal dev server and workflow bundle, the D1
 * simulator over HTTP delivering notifications to the webhook, which signals the workflows, an issuer events
 * receiver, the card-order worker on a task queue of its own, and the client library.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadConfig, projectRoot, type Config } from '../../config/config.js';
import { demoKeyFiles } from '../../d1/keys.js';
import { cardOrderWorkflowId, type CardOrderRequest } from '../../orders/schema.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';
import { createCardOrderWorker } from '../../workers/card-order-worker.js';
import { testAddress, testCard } from './fixtures.js';
import { createWebhookServer, type WebhookServer } from '../../webhook/server.js';
import { loadTokenSecret, webhookClients, WebhookTokens } from '../../webhook/tokens.js';
import { LogCapture, startD1Stack, makeKeysDir, type D1Stack } from './d1-stack.js';
import { startIssuerEventsReceiver, type IssuerEventsReceiver } from './issuer-events-receiver.js';
import { startContinueAsNewServer, testEnvironment, testWorkflowBundle, uniqueName } from './temporal.js';

const run = promisify(execFile);

/** Recorded histories of real runs, one folder per workflow generation, replayed by test/workflows/replay.test.ts. */
export const historiesDir = path.join(projectRoot, 'test/histories');
/** Where this code's runs are recorded; earlier generations' folders stay as they were recorded. */

export { testAddress, testCard } from './fixtures.js';

export interface SagaStack {
  env: TestWorkflowEnvironment;
  d1: D1Stack;
  webhook: WebhookServer;
  /** What the webhook logged. */
  webhookLogs: LogCapture;
  events: IssuerEventsReceiver;
  client: CardOrdersClient;
  config: Config;
  /** The environment variables `config` was read from (for processes and the CLI). */
  envVars: Record<string, string | undefined>;
  /** Runs `body` while a card-order worker polls the stack's task queue. */
  withWorker<T>(body: () => Promise<T>): Promise<T>;
  /** Runs only the campaigns' queue of a worker while `body` runs: the cards' tasks wait, as behind a backlog. */
  withCampaignWorkerOnly<T>(body: () => Promise<T>): Promise<T>;
  /**
   * With RECORD_HISTORIES=1, writes the order's history to `test/histories/card-order-v2/<name>.json`, for the replay tests
   * that keep later workflow changes deterministic: its latest run, or the run `runId` (a run before a continue-as-new).
   * A running order's history is the history so far. A history already kept is never overwritten; with
   * RECORD_HISTORIES_TAG=T the recording goes to `<name>--T.json`.
   */
  recordHistory(issuerRequestId: string, name: string, runId?: string): Promise<void>;
  /** The same for any workflow, into `test/histories/<generation>/<name>.json` (e.g. `campaign`). */
  recordWorkflowHistory(workflowId: string, generation: string, name: string, runId?: string): Promise<void>;
  /** A valid order for a fresh card and issuerRequestId. */
  newOrder(overrides?: Partial<CardOrderRequest>): CardOrderRequest;
  close(): Promise<void>;
}

/** Starts a stack. `serviceEnv` sets service settings (e.g. ORDER_* timings); `simulatorEnv` the simulator's. */
export async function startSagaStack({
  serviceEnv = {},
  simulatorEnv = {},
  temporal,
}: {
  serviceEnv?: Record<string, string>;
  simulatorEnv?: Record<string, string>;
  /** A Temporal server of the test's own, instead of the run's. */
  temporal?: TestWorkflowEnvironment;
} = {}): Promise<SagaStack> {
  const env = temporal ?? (await testEnvironment());
  const workflowBundle = await testWorkflowBundle();
  const keysDir = await makeKeysDir();
  const events = await startIssuerEventsReceiver(path.join(keysDir, demoKeyFiles.eventsSigningPublicJwks));
  const baseEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: uniqueName('card-orders'),
    KEYS_DIR: keysDir,
    WEBHOOK_PORT: '0',
    // A fixed, test-only key, so histories recorded from these runs can be replayed (test/histories/).
    PAYLOAD_CODEC_KEYS_FILE: path.join(projectRoot, 'test/fixtures/codec-keys.json'),
    ISSUER_EVENTS_URL: events.url,
    D1_REQUEST_TIMEOUT: '2s',
    LOG_LEVEL: 'warn',
    // The simulator notifies the webhook with its public demo credentials, allowed only in demo mode.
    DEMO_MODE: 'true',
    // Orders end at shipment unless a test is about what follows it (the delivery window).
    ORDER_DELIVERY_WINDOW: '0ms',
    ...serviceEnv,
  };
  const clientConfig = loadConfig(baseEnv);
  const client = await CardOrdersClient.connect({ config: clientConfig, connection: env.connection });
  const webhookLogs = new LogCapture();
  const webhook = await createWebhookServer(clientConfig, {
    client: client.temporal,
    tokens: new WebhookTokens(
      webhookClients(clientConfig),
      await loadTokenSecret(clientConfig.webhook.tokenSecret),
      clientConfig.webhook.tokenTtlMs,
    ),
    logger: webhookLogs.logger,
  });
  const d1 = await startD1Stack(
    { D1_SIM_WEBHOOK_URL: webhook.url, D1_SIM_NOTIFY_RETRY_BASE: '50ms', ...simulatorEnv },
    baseEnv,
    keysDir,
  );
  const config = d1.config;

  async function recordWorkflowHistory(
    workflowId: string,
    generation: string,
    name: string,
    runId?: string,
  ): Promise<void> {
    if (process.env.RECORD_HISTORIES !== '1') return;
    // The CLI's export is the format operators download and historyFromJSON reads.
    const cli = await resolveTemporalCli(config);
    const onlyRun = runId === undefined ? [] : ['-r', runId];
    const { stdout } = await run(cli, [
      'workflow',
      'show',
      '--address',
      env.address,
      '-w',
      workflowId,
      ...onlyRun,
      '-o',
      'json',
    ]);
    const dir = path.join(historiesDir, generation);
    await mkdir(dir, { recursive: true });
    // A kept history is never replaced: it is what orders of its time did. A new recording of the same path under
    // newer code takes a tag (RECORD_HISTORIES_TAG=b2 writes `<name>--b2.json`).
    const tag = process.env.RECORD_HISTORIES_TAG;
    const file = path.join(dir, `${tag ? `${name}--${tag}` : name}.json`);
    try {
      await writeFile(file, stdout, { flag: 'wx' });
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      process.stderr.write(`kept ${path.relative(historiesDir, file)} as it was recorded; set RECORD_HISTORIES_TAG\n`);
    }
  }

  return {
    env,
    d1,
    webhook,
    webhookLogs,
    events,
    client,
    config,
    envVars: { ...baseEnv, D1_BASE_URL: d1.simulator.url },
    async withWorker(body) {
      const cardOrderWorker = await createCardOrderWorker(config, env.nativeConnection, d1.logs.logger, {
        workflowBundle,
      });
      try {
        return await cardOrderWorker.runUntil(body);
      } finally {
        await cardOrderWorker.close();
      }
    },
    async withCampaignWorkerOnly(body) {
      const cardOrderWorker = await createCardOrderWorker(config, env.nativeConnection, d1.logs.logger, {
        workflowBundle,
      });
      try {
        // Created workers hold their queue until they ran: the cards' one stops at once, before any card exists.
        await cardOrderWorker.worker.runUntil(Promise.resolve());
        return await cardOrderWorker.campaignWorker.runUntil(body);
      } finally {
        await cardOrderWorker.close();
      }
    },
    recordHistory(issuerRequestId, name, runId) {
      return recordWorkflowHistory(
        cardOrderWorkflowId(config.d1.issuerId, issuerRequestId),
        'card-order-v2',
        name,
        runId,
      );
    },
    recordWorkflowHistory,
    newOrder(overrides = {}) {
      return {
        issuerId: config.d1.issuerId,
        cardId: uniqueName('card').slice(0, 40),
        consumerId: 'cons_42',
        issuerRequestId: uniqueName('req'),
        cardProductId: 'PRD_VISA_DEBIT',
        services: { issuance: 'CREATION', delivery: 'usps-imb', cardCarrier: 'carrier-standard' },
        shipment: { type: 'INDIVIDUAL', deliveryAddress: testAddress, individualAddress: testAddress },
        sensitiveData: testCard,
        ...overrides,
      };
    },
    async close() {
      await d1.close();
      await webhook.close();
      await events.close();
      await env.teardown();
    },
  };
}

/**
 * A stack on a server of its own that suggests continue-as-new after 12 events, as one does after weeks of polling,
 * with every notification lost: orders poll D1 every 100 to 200 ms, and their histories grow run after run.
 */
export async function startLongWaitStack(): Promise<SagaStack> {
  const temporal = await startContinueAsNewServer(12);
  return startSagaStack({
    temporal,
    serviceEnv: {
      ORDER_NOTIFICATION_TIMEOUT: '100ms',
      ORDER_POLL_INTERVAL: '100ms',
      ORDER_POLL_MAX_INTERVAL: '200ms',
    },
    simulatorEnv: { D1_SIM_STEP_DELAY: '400ms', D1_SIM_FAULTS: '{"dropNotificationRate":1}' },
  });
}
