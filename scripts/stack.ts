/**
 * `npm run stack`: the production topology on this machine, without Docker. PostgreSQL (data under
 * `.data/stack/`), the Temporal server on it (schemas set up or upgraded), the namespace and search attributes
 * (`temporal:setup`), the development identity provider, Temporal Web UI with its login and our codec server (HTTPS,
 * decoding for signed-in operators only), two card-order workers, two webhook replicas that the D1 simulator posts
 * to in turn, and the simulator. Places the example orders and shows them as `npm start`
 * does; Ctrl-C stops everything in order, and the next start resumes on the same data. The workers, webhooks, codec
 * server, simulator and identity provider run the production build's JavaScript (`dist/`, which `npm run stack`
 * builds first), as the image does; this script itself, like the other developer scripts, runs through tsx.
 *
 * @module
 */
import path from 'node:path';
import { loadConfig, projectRoot, type Config } from '../config/config.js';
import { parseHostPort } from '../temporal/connection.js';
import { ensureDemoKeys } from '../d1/keys.js';
import { loadSimulatorConfig } from '../simulator/config.js';
import { runDemoOrders } from './lib/demo-orders.js';
import { assertBuilt, compiledEntry } from './lib/entries.js';
import { assertPortFree } from './lib/ports.js';
import { waitForPoller } from './lib/pollers.js';
import { superviseMain, type Supervisor } from './lib/supervisor.js';
import { resolveStackBinaries } from './stack/binaries.js';
import { loadStackConfig, TEMPORAL_INTERNAL_PORTS, type StackConfig } from './stack/config.js';
import { setUpStackCampaignStore, stackCampaignStoreEnv } from './stack/campaign-store.js';
import { startPostgres } from './stack/postgres.js';
import { setUpSchemas, startTemporalServer, temporalServerVersion } from './stack/temporal-server.js';
import { prepareStackIdentity, stackCodecServerEnv, startStackIdentity } from './stack/identity.js';
import { ensureStackTls } from './stack/tls.js';
import { startWebUi } from './stack/web-ui.js';
import { describeSetup, setUpTemporal } from './temporal-setup.js';

const say = (message: string) => process.stderr.write(`${message}\n`);

/** Every port the stack takes, with the variable that moves it, checked before anything starts. */
function portsToCheck(config: Config, stack: StackConfig): { port: number; variable: string }[] {
  const simulator = loadSimulatorConfig();
  return [
    { port: parseHostPort(config.temporal.address).port, variable: 'TEMPORAL_ADDRESS' },
    ...Array.from({ length: TEMPORAL_INTERNAL_PORTS }, (_, i) => ({
      port: stack.temporal.internalPortBase + i,
      variable: 'STACK_TEMPORAL_INTERNAL_PORT',
    })),
    { port: stack.postgres.port, variable: 'STACK_POSTGRES_PORT' },
    { port: stack.ui.port, variable: 'TEMPORAL_UI_PORT' },
    { port: config.codecServer.port, variable: 'CODEC_SERVER_PORT' },
    ...(config.codecServer.metrics
      ? [{ port: config.codecServer.metrics.port, variable: 'CODEC_SERVER_METRICS_PORT' }]
      : []),
    { port: stack.identity.port, variable: 'STACK_IDENTITY_PORT' },
    { port: simulator.port, variable: 'D1_SIM_PORT' },
    ...stack.webhookPorts.map((port) => ({ port, variable: 'STACK_WEBHOOK_PORTS' })),
    ...metricsPorts(config, stack).map(({ port, variable }) => ({ port, variable })),
  ];
}

/** Replica i of the workers and webhooks exposes metrics on the configured port + 2i (0 keeps them off). */
function metricsPorts(config: Config, stack: StackConfig) {
  const worker = config.worker.metricsAddress ? Number(config.worker.metricsAddress.split(':').at(-1)) : 0;
  const webhook = config.webhook.metrics?.port ?? 0;
  return [
    ...Array.from({ length: stack.workers }, (_, i) => ({
      kind: 'worker' as const,
      replica: i,
      port: worker && worker + 2 * i,
      variable: 'WORKER_METRICS_PORT',
    })),
    ...stack.webhookPorts.map((_, i) => ({
      kind: 'webhook' as const,
      replica: i,
      port: webhook && webhook + 2 * i,
      variable: 'WEBHOOK_METRICS_PORT',
    })),
  ].filter(({ port }) => port > 0);
}

/** The processes the stack runs, from the production build (`npm run stack` builds it first). */
const entries = {
  worker: 'workers/main.ts',
  webhook: 'webhook/main.ts',
  codecServer: 'codec/main.ts',
  simulator: 'simulator/main.ts',
  identity: 'identity/main.ts',
} as const;

async function main(config: Config, supervisor: Supervisor): Promise<void> {
  const stack = loadStackConfig(config);
  await assertBuilt(Object.values(entries));
  for (const { port, variable } of portsToCheck(config, stack)) await assertPortFree('127.0.0.1', port, variable);
  if (await ensureDemoKeys(config.keysDir)) {
    say(`Created the demo key set in ${path.relative(projectRoot, config.keysDir)}`);
  }
  const binaries = await resolveStackBinaries(config, say);

  say(
    `Starting PostgreSQL on port ${stack.postgres.port} (data in ${path.relative(projectRoot, stack.postgres.dataDir)})`,
  );
  const postgres = await startPostgres(stack, supervisor, say);
  await setUpSchemas(binaries, postgres, say);
  const campaignStoreEnv = stackCampaignStoreEnv(config, stack, postgres);
  if (campaignStoreEnv.CAMPAIGN_STORE_URL) {
    say(
      `Campaign store: ${await setUpStackCampaignStore(postgres)} in PostgreSQL (shared by the CLI and every worker)`,
    );
  }
  say(`Starting the Temporal server ${await temporalServerVersion(binaries)} on ${config.temporal.address}`);
  await startTemporalServer(config, stack, binaries, postgres, supervisor);
  const setup = await setUpTemporal(config);
  say(`Temporal setup:\n${describeSetup(setup)}`);
  if (!setup.ok) throw new Error('The Temporal setup is incomplete (see above); card orders cannot run without it.');

  // The local demo: the webhooks accept the simulator's public demo credentials only in DEMO_MODE.
  // Every process on the one campaign store: a worker finds the pages the CLI stored, whichever takes the page.
  const demoEnv = { ...process.env, DEMO_MODE: process.env.DEMO_MODE || 'true', ...campaignStoreEnv };
  const run = (name: string, entry: string, env: NodeJS.ProcessEnv = {}) =>
    supervisor.spawn(name, process.execPath, [compiledEntry(entry)], {
      ...demoEnv,
      ...env,
    });
  const metrics = metricsPorts(config, stack);
  const metricsOf = (kind: 'worker' | 'webhook', replica: number) =>
    String(metrics.find((m) => m.kind === kind && m.replica === replica)?.port ?? 0);

  // Web UI's login: the development identity provider, and the codec server for its signed-in operators only.
  const { identity, created } = await prepareStackIdentity(stack);
  const tls = await ensureStackTls(stack.dataDir);
  await startStackIdentity(stack, identity, supervisor, compiledEntry(entries.identity));
  run('codec-server', entries.codecServer, stackCodecServerEnv(config, identity, tls.files));
  const codecEndpoint = `https://localhost:${config.codecServer.port}`;
  const webUi = await startWebUi(config, stack, binaries, supervisor, { identity, codecEndpoint });
  stack.webhookPorts.forEach((port, i) =>
    run(`webhook-${i + 1}`, entries.webhook, {
      WEBHOOK_PORT: String(port),
      WEBHOOK_METRICS_PORT: metricsOf('webhook', i),
    }),
  );
  run('d1-simulator', entries.simulator, {
    D1_SIM_WEBHOOK_URL: stack.webhookPorts.map((port) => `http://127.0.0.1:${port}`).join(','),
  });
  for (let i = 0; i < stack.workers; i += 1) {
    run(`worker-${i + 1}`, entries.worker, { WORKER_METRICS_PORT: metricsOf('worker', i) });
  }
  await waitForPoller(config, 120_000);

  await runDemoOrders(config, webUi, 'Placing the example orders (placed once per data set):');
  say(
    [
      '',
      `Temporal Web UI:  ${webUi}/namespaces/${config.temporal.namespace}/workflows`,
      `  sign in as:      operator (decodes payloads) or viewer (sees them encrypted); passwords in ${path.relative(projectRoot, identity.passwordsFile)}${created ? ' (made now)' : ''}`,
      `  codec server:    ${codecEndpoint}, its certificate from the stack's CA: let the browser trust ${path.relative(projectRoot, tls.files.caCert)} once`,
      `  write actions:   ${stack.ui.writeActions ? 'on (STACK_WEB_UI_WRITE_ACTIONS=true)' : 'off (STACK_WEB_UI_WRITE_ACTIONS=true turns them on)'}`,
      `Temporal server:  ${config.temporal.address} on PostgreSQL 127.0.0.1:${stack.postgres.port}`,
      `Workers:          ${stack.workers} on task queue ${config.temporal.taskQueue}`,
      `D1 webhooks:      ${stack.webhookPorts.map((port) => `http://127.0.0.1:${port}`).join(', ')} (the simulator posts to them in turn)`,
      `D1 simulator:     ${config.d1.baseUrl}`,
      'Place an order:   npx card-orders order --file examples/order-individual.json',
      ...(campaignStoreEnv.CAMPAIGN_STORE_URL
        ? [
            "Campaigns:        the CLI uses the stack's campaign store with",
            `                  CAMPAIGN_STORE=postgres CAMPAIGN_STORE_URL=${campaignStoreEnv.CAMPAIGN_STORE_URL} \\`,
            `                  CAMPAIGN_STORE_PASSWORD_FILE=${path.relative(projectRoot, stack.postgres.passwordFile)}`,
          ]
        : []),
      'Press Ctrl-C to stop; the next npm run stack resumes on the same data.',
    ].join('\n'),
  );
}

const config = loadConfig();
superviseMain((supervisor) => main(config, supervisor));
