/**
 * `npm start`: the whole system on this machine, on the embedded defaults. Creates the demo keys, starts the
 * Temporal dev server (unless one already answers at TEMPORAL_ADDRESS), the codec server, the D1 simulator, the
 * notification webhook and the card-order worker,
 * places the example orders and shows their progress, keeps running for more orders from the CLI, and stops
 * everything cleanly on Ctrl-C.
 *
 * @module
 */
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { loadConfig, projectRoot, type Config } from '../common/config.js';
import { parseHostPort, temporalConnectionOptions, waitForTemporal } from '../common/temporal.js';
import { CardOrdersClient } from '../client/card-orders-client.js';
import { ensureDemoKeys } from '../d1/keys.js';
import { loadSimulatorConfig } from '../simulator/config.js';
import { cancelDemoOrder, placeDemoOrders, showDemoProgress } from './lib/demo-orders.js';
import { assertPortFree } from './lib/ports.js';
import { Supervisor } from './lib/supervisor.js';
import { startDevServer, webUiUrl } from './temporal-server.js';

const say = (message: string) => process.stderr.write(`${message}\n`);

async function temporalAlreadyRunning(config: Config): Promise<boolean> {
  try {
    const connection = await waitForTemporal(
      config.temporal.address,
      1_000,
      temporalConnectionOptions(config.temporal),
    );
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** Resolves once a worker polls the task queue, so "ready" means ready. */
async function waitForPoller(config: Config, timeoutMs: number): Promise<void> {
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: config.temporal.namespace,
        taskQueue: { name: config.temporal.taskQueue },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (pollers.length > 0) return;
      await delay(250);
    }
    throw new Error(`no worker polled task queue ${config.temporal.taskQueue} within ${timeoutMs} ms`);
  } finally {
    await connection.close();
  }
}

async function main(config: Config, supervisor: Supervisor): Promise<void> {
  const temporalRunning = await temporalAlreadyRunning(config);
  // Every port is checked before anything starts, so a clash is one clear message, not a half-started stack.
  const simulator = loadSimulatorConfig();
  const { host, port } = parseHostPort(config.temporal.address);
  if (!temporalRunning) {
    await assertPortFree(host, port, 'TEMPORAL_ADDRESS');
    await assertPortFree(host, config.temporal.uiPort, 'TEMPORAL_UI_PORT');
  }
  await assertPortFree(simulator.host, simulator.port, 'D1_SIM_PORT');
  await assertPortFree(config.webhook.host, config.webhook.port, 'WEBHOOK_PORT');
  await assertPortFree(config.codecServer.host, config.codecServer.port, 'CODEC_SERVER_PORT');

  if (await ensureDemoKeys(config.keysDir)) {
    say(`Created the demo key set in ${path.relative(projectRoot, config.keysDir)}`);
  }
  const run = (name: string, entry: string) =>
    supervisor.spawn(name, process.execPath, ['--import', 'tsx', path.join(projectRoot, entry)]);
  run('codec-server', 'codec/main.ts');
  if (temporalRunning) {
    say(`Using the Temporal server already running at ${config.temporal.address}`);
  } else {
    say(`Starting the Temporal dev server (data in ${path.relative(projectRoot, config.temporal.dbFile)})`);
    await startDevServer(config, supervisor);
  }
  run('d1-simulator', 'simulator/main.ts');
  run('webhook', 'webhook/main.ts');
  run('worker', 'workers/main.ts');
  await waitForPoller(config, 120_000);
  const orders = await CardOrdersClient.connect({ config });
  try {
    say('\nPlacing the example orders (npm start places them once per data set):');
    await placeDemoOrders(config, orders);
    await Promise.all([
      cancelDemoOrder(orders),
      showDemoProgress(config, orders, webUiUrl(config), {
        isTTY: process.stdout.isTTY,
        write: (text) => process.stdout.write(text),
      }),
    ]);
  } finally {
    await orders.close();
  }
  say(
    [
      '',
      `Temporal Web UI:  ${webUiUrl(config)}/namespaces/${config.temporal.namespace}/workflows`,
      `Worker polling:   task queue ${config.temporal.taskQueue} on ${config.temporal.address}`,
      `D1 simulator:     ${config.d1.baseUrl}`,
      `Codec server:     http://${config.codecServer.host}:${config.codecServer.port} (Web UI decodes payloads through it)`,
      `D1 webhook:       http://${config.webhook.host}:${config.webhook.port}/notifications/d1/v2/issuers/${config.d1.issuerId}/cards`,
      'Place an order:   npx card-orders order --file examples/order-individual.json',
      'Press Ctrl-C to stop.',
    ].join('\n'),
  );
}

const config = loadConfig();
const supervisor = new Supervisor();
supervisor.stopOnSignals(() => say('Stopping...'));
main(config, supervisor).catch(async (err: Error) => {
  say(err.message);
  await supervisor.stop();
  process.exit(1);
});
