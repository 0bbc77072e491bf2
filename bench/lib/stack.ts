/**
 * What "ours" runs on in a benchmark, all real: the D1 simulator (a process of its own) notifying the webhook, which
 * signals the workflows through Temporal; an issuer-events endpoint; the client library; and the settings a worker
 * process of ours needs to join them. Each stack has its own keys and task queue. The baseline shares its server and
 * codec.
 *
 * @module
 */
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { pino } from 'pino';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { createDataConverter } from '../../codec/data-converter.js';
import { loadConfig, type Config } from '../../config/config.js';
import { demoKeyFiles, ensureDemoKeys } from '../../d1/keys.js';
import { sampleCardOrder } from '../../orders/sample-order.js';
import type { CardOrderRequest } from '../../orders/schema.js';
import type { FaultsPatch } from '../../simulator/faults.js';
import { createWebhookServer, type WebhookServer } from '../../webhook/server.js';
import { loadTokenSecret, webhookClients, WebhookTokens } from '../../webhook/tokens.js';
import { spawnSimulator, type SimulatorProcess } from './simulator-process.js';
import type { BenchContext } from './types.js';

/** One issuer event as the endpoint received it. */
export interface ReceivedEvent {
  workflowId: string;
  type: string;
  at: number;
}

/** The issuer's event endpoint: answers 204 and notes which order's event of which type came when. */
export class EventsSink {
  readonly events: ReceivedEvent[] = [];
  url = '';
  private listeners = new Set<(event: ReceivedEvent) => void>();
  private readonly server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        // A flattened JWS; the signature is the issuer's business, the bench only reads the payload.
        const jws = JSON.parse(Buffer.concat(chunks).toString()) as { payload: string };
        const event = JSON.parse(Buffer.from(jws.payload, 'base64url').toString()) as { eventId: string; type: string };
        this.note({
          workflowId: event.eventId.slice(0, event.eventId.lastIndexOf(':')),
          type: event.type,
          at: Date.now(),
        });
      } catch {
        // not an event of ours: nothing to note
      }
      response.writeHead(204).end();
    });
  });

  static async start(): Promise<EventsSink> {
    const sink = new EventsSink();
    sink.server.listen(0, '127.0.0.1');
    await once(sink.server, 'listening');
    const { port } = sink.server.address() as AddressInfo;
    sink.url = `http://127.0.0.1:${port}/events`;
    return sink;
  }

  onEvent(listener: (event: ReceivedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private note(event: ReceivedEvent): void {
    this.events.push(event);
    for (const listener of this.listeners) listener(event);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface Stack {
  config: Config;
  /** The settings of a worker process of ours on this stack (also what the bare worker gets). */
  workerEnv: Record<string, string | undefined>;
  /** In a process of its own, as D1 is remote (its CPU apart from the bench process's). */
  simulator: SimulatorProcess;
  webhook: WebhookServer;
  events: EventsSink;
  client: CardOrdersClient;
  /** A client with the same codec, for the baseline's starts and signals. */
  plain: Client;
  taskQueue: string;
  /** A valid order for a fresh card and request id. */
  newOrder(index: number): CardOrderRequest;
  simulatorFaults(patch: FaultsPatch): Promise<void>;
  close(): Promise<void>;
}

/** Settings a user may set to try worker options (`WORKER_MAX_CONCURRENT_WORKFLOW_TASKS=80 npm run bench`). */
function passedThrough(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (pair): pair is [string, string] =>
        /^(WORKER_|ORDER_|D1_MAX_CONNECTIONS$)/.test(pair[0]) && pair[1] !== undefined,
    ),
  );
}

export async function startStack(
  context: BenchContext,
  name: string,
  {
    stepDelayMs,
    faults = {},
    env: extraEnv = {},
  }: {
    stepDelayMs: number;
    faults?: FaultsPatch;
    /** More settings of the service (client, webhook and worker), e.g. C1's campaign settings. */
    env?: Record<string, string>;
  },
): Promise<Stack> {
  const keysDir = await mkdtemp(path.join(context.workDir, `keys-${name}-`));
  await ensureDemoKeys(keysDir);
  const events = await EventsSink.start();
  const taskQueue = `bench-${context.runId}-${name}`;
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: context.temporalAddress,
    TEMPORAL_NAMESPACE: context.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    KEYS_DIR: keysDir,
    WEBHOOK_PORT: '0',
    ISSUER_EVENTS_URL: events.url,
    LOG_LEVEL: 'warn',
    // The simulator notifies the webhook with its public demo credentials, allowed only in demo mode.
    DEMO_MODE: 'true',
    // Orders end at shipment, as the baselines do; P4 measures the delivery window on its own.
    ORDER_DELIVERY_WINDOW: '0ms',
    ...passedThrough(),
    ...extraEnv,
  };
  const quiet = pino({ level: 'error' });
  const clientConfig = loadConfig(env);
  const client = await CardOrdersClient.connect({ config: clientConfig, connection: context.connection });
  const plain = new Client({
    connection: context.connection,
    namespace: context.namespace,
    dataConverter: await createDataConverter(clientConfig),
  });
  const webhook = await createWebhookServer(clientConfig, {
    client: client.temporal,
    tokens: new WebhookTokens(
      webhookClients(clientConfig),
      await loadTokenSecret(clientConfig.webhook.tokenSecret),
      clientConfig.webhook.tokenTtlMs,
    ),
    logger: quiet,
  });
  const simulator = await spawnSimulator({
    D1_SIM_ISSUER_JWKS: path.join(keysDir, demoKeyFiles.signingPublicJwks),
    D1_SIM_ENCRYPTION_KEY_FILE: path.join(keysDir, demoKeyFiles.encryptionPrivateJwk),
    D1_SIM_WEBHOOK_URL: webhook.url,
    D1_SIM_NOTIFY_RETRY_BASE: '100ms',
    D1_SIM_STEP_DELAY: `${stepDelayMs}ms`,
    D1_SIM_FAULTS: JSON.stringify(faults),
  });
  const workerEnv = { ...env, D1_BASE_URL: simulator.url };
  const config = loadConfig(workerEnv);
  return {
    config,
    workerEnv,
    simulator,
    webhook,
    events,
    client,
    plain,
    taskQueue,
    newOrder: (index) =>
      sampleCardOrder(`r-${context.runId}-${name}-${index}`, {
        issuerId: config.d1.issuerId,
        cardId: `c${context.runId}${name}${index}`.slice(0, 40),
        services: { issuance: 'CREATION', delivery: 'usps-imb', cardCarrier: 'carrier-standard' },
      }),
    async simulatorFaults(patch) {
      const response = await fetch(`${simulator.url}/__sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(patch),
      });
      if (!response.ok) throw new Error(`the simulator refused the faults: ${response.status}`);
    },
    async close() {
      await simulator.close();
      await webhook.close();
      await events.close();
    },
  };
}
