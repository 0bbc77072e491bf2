/**
 * `npm start`: the whole system on this machine, on the embedded defaults. Creates the demo keys, starts the
 * Temporal dev server (unless one already answers at TEMPORAL_ADDRESS), the codec server, the D1 simulator, the
 * notification webhook and the card-order worker,
 * places the example orders and shows their progress, keeps running for more orders from the CLI, and stops
 * everything cleanly on Ctrl-C. Each child's output goes to its own file under LOGS_DIR, not to the terminal.
 *
 * @module
 */
import path from 'node:path';
import { request } from 'undici';
import { loadConfig, projectRoot, type Config } from '../config/config.js';
import { parseHostPort, temporalConnectionOptions, waitForTemporal } from '../temporal/connection.js';
import { ensureDemoKeys } from '../d1/keys.js';
import { loadSimulatorConfig } from '../simulator/config.js';
import { DEMO_CLI_ORDER_STEP_MS, runDemoOrders } from './lib/demo-orders.js';
import { waitForPoller } from './lib/pollers.js';
import { assertPortFree } from './lib/ports.js';
import { displayPath, superviseMain, type Supervisor } from './lib/supervisor.js';
import { startDevServer, webUiUrl } from './temporal-dev-server.js';
import { describeSetup, setUpTemporal } from './temporal-setup.js';

const say = (message: string) => process.stderr.write(`${message}\n`);

/** Whether something answers `url` with a 2xx within a second. */
async function answers(url: string, method: 'GET' | 'OPTIONS'): Promise<boolean> {
  try {
    const response = await request(url, { method, signal: AbortSignal.timeout(1_000) });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 300;
  } catch {
    return false;
  }
}

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

async function main(config: Config, supervisor: Supervisor): Promise<void> {
  const temporalRunning = await temporalAlreadyRunning(config);
  // Every port is checked before anything starts, so a clash is one clear message, not a half-started stack.
  const simulator = loadSimulatorConfig();
  const { host, port } = parseHostPort(config.temporal.address);
  if (!temporalRunning) {
    await assertPortFree(host, port, 'TEMPORAL_ADDRESS');
    await assertPortFree(host, config.temporal.uiPort, 'TEMPORAL_UI_PORT');
  }
  // A component already answering on its port is used as it is; anything else on the port is a clash.
  const components = [
    {
      name: 'codec-server',
      entry: 'codec/main.ts',
      host: config.codecServer.host,
      port: config.codecServer.port,
      variable: 'CODEC_SERVER_PORT',
      probe: { path: '/decode', method: 'OPTIONS' as const },
    },
    {
      name: 'd1-simulator',
      entry: 'simulator/main.ts',
      host: simulator.host,
      port: simulator.port,
      variable: 'D1_SIM_PORT',
      probe: { path: '/healthz', method: 'GET' as const },
    },
    {
      name: 'webhook',
      entry: 'webhook/main.ts',
      host: config.webhook.host,
      port: config.webhook.port,
      variable: 'WEBHOOK_PORT',
      probe: { path: '/healthz', method: 'GET' as const },
    },
  ];
  const toStart = [];
  for (const component of components) {
    if (await answers(`http://${component.host}:${component.port}${component.probe.path}`, component.probe.method)) {
      say(`Using the ${component.name} already running on port ${component.port}`);
    } else {
      await assertPortFree(component.host, component.port, component.variable);
      toStart.push(component);
    }
  }

  if (await ensureDemoKeys(config.keysDir)) {
    say(`Created the demo key set in ${path.relative(projectRoot, config.keysDir)}`);
  }
  // The local demo (DEMO_MODE): the webhook takes the simulator's public credentials, the codec server needs no token.
  const demoEnv = { ...process.env, DEMO_MODE: process.env.DEMO_MODE || 'true' };
  const run = (name: string, entry: string) =>
    supervisor.spawn(name, process.execPath, ['--import', 'tsx', path.join(projectRoot, entry)], demoEnv);
  say(`Logs: ${displayPath(config.logs.dir)}/`);
  if (temporalRunning) {
    say(`Using the Temporal server already running at ${config.temporal.address}`);
    // The dev server we start registers them itself; a server of someone else's may lack them.
    const setup = await setUpTemporal(config);
    say(`Temporal setup:\n${describeSetup(setup)}`);
    if (!setup.ok) throw new Error('The Temporal setup is incomplete (see above); card orders cannot run without it.');
  } else {
    say(`Starting the Temporal dev server (data in ${path.relative(projectRoot, config.temporal.dbFile)})`);
    await startDevServer(config, supervisor);
  }
  for (const component of toStart) run(component.name, component.entry);
  run('worker', 'workers/main.ts');
  await waitForPoller(config, 120_000);
  // An external server's Web UI is known only when configured: no link rather than a dead one.
  const webUi = config.temporal.uiUrl ?? (temporalRunning ? undefined : webUiUrl(config));
  await runDemoOrders(config, webUi, 'Placing the example orders (npm start places them once per data set):');
  say(
    [
      '',
      ...(webUi ? [`Temporal Web UI:  ${webUi}/namespaces/${config.temporal.namespace}/workflows`] : []),
      `Worker polling:   task queue ${config.temporal.taskQueue} on ${config.temporal.address}`,
      `D1 simulator:     ${config.d1.baseUrl}`,
      `Codec server:     http://${config.codecServer.host}:${config.codecServer.port} (Web UI decodes payloads through it)`,
      `D1 webhook:       http://${config.webhook.host}:${config.webhook.port}/notifications/d1/v2/issuers/${config.d1.issuerId}/cards`,
      'Place an order:   npx card-orders order --file examples/order-individual.json',
      `                  (it stays in production ~${(4 * DEMO_CLI_ORDER_STEP_MS) / 1000}s: time to accelerate, redirect or cancel it)`,
      'Press Ctrl-C to stop.',
    ].join('\n'),
  );
}

const config = loadConfig();
superviseMain((supervisor) => main(config, supervisor));
