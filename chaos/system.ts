/**
 * The system under chaos, started the way `npm start` runs it, on private ports and a private run folder: the
 * Temporal dev server (SQLite file, so a killed server restarts with every workflow), the codec server, the D1
 * simulator, two webhook replicas the simulator posts to in turn, and the worker processes. Every process of ours
 * runs as a child, `node --import tsx <entry>`, from the code root it is given (the current checkout, or an older
 * one during `--upgrade-from`). Timings are shortened explicitly, as the demo's are; nothing else differs from a
 * user's run.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, projectRoot, type Config } from '../config/config.js';
import { ensureDemoKeys } from '../d1/keys.js';
import { waitForPoller } from '../scripts/lib/pollers.js';
import { freePort } from '../scripts/lib/ports.js';
import { ChaosProcesses } from './processes.js';
import { startDevServerBackend, startStackBackend, type TemporalBackend } from './temporal-backend.js';

/** The process names, as the fault plan and the report use them. */
export const workerProcess = (i: number) => `worker-${i + 1}`;
export const webhookProcess = (i: number) => `webhook-${i + 1}`;
const webhookReplicas = 2;

/**
 * The service's settings for the run: the demo's shortened timings, stated here rather than inherited, so a run's
 * behaviour does not depend on the caller's environment.
 */
const runTimings: Record<string, string> = {
  // Notifications late: polls begin after 15 s of silence, then every 5 to 20 s.
  ORDER_NOTIFICATION_TIMEOUT: '15s',
  ORDER_POLL_INTERVAL: '5s',
  ORDER_POLL_MAX_INTERVAL: '20s',
  // A D1 outage longer than this is waited out with back-off up to ORDER_D1_OUTAGE_MAX_INTERVAL.
  ORDER_D1_RETRY_TIMEOUT: '20s',
  ORDER_D1_OUTAGE_MAX_INTERVAL: '10s',
  ORDER_OUT_OF_STOCK_REORDER_DELAY: '3s',
  ORDER_CHANGE_VERDICT_TIMEOUT: '2m',
  // A shipped card is listened to for 20 s (production: 30 days); a returned one waits 10 minutes for its address.
  ORDER_DELIVERY_WINDOW: '20s',
  ORDER_RESHIP_WAIT: '10m',
  D1_REQUEST_TIMEOUT: '5s',
  // Campaign pages of 10 cards, looked at every 2 to 10 s.
  D1_BATCH_SIZE: '10',
  D1_BATCH_REQUEST_TIMEOUT: '10s',
  CAMPAIGN_CHECK_INTERVAL: '2s',
  CAMPAIGN_CHECK_MAX_INTERVAL: '10s',
  CAMPAIGN_CARD_SUBMIT_TIMEOUT: '60s',
  CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT: '10s',
  WEBHOOK_SIGNAL_TIMEOUT: '5s',
};

export interface ChaosSystem {
  /** The settings every process of ours gets. */
  env: Record<string, string>;
  config: Config;
  processes: ChaosProcesses;
  workers: string[];
  webhooks: string[];
  simulatorUrl: string;
  codecUrl: string;
  /** Bundles the workflows of the code at `codeRoot`, ahead of a roll to it. */
  prepareWorkerCode(codeRoot: string): Promise<void>;
  /** Stops worker `name` (SIGTERM) and starts it again from the code at `codeRoot`. */
  rollWorker(name: string, codeRoot: string): Promise<void>;
  /** What Temporal runs on, and its processes the fault plan kills. */
  temporal: TemporalBackend;
  stop(): Promise<void>;
}

/** `node --import tsx <codeRoot>/<entry>`, as `npm start` runs each process. */
function nodeArgs(codeRoot: string, entry: string): string[] {
  return ['--import', 'tsx', path.join(codeRoot, entry)];
}

/** Builds the workflow bundle of the code at `codeRoot` into `bundlePath` (`npm run build`), so restarts are quick. */
async function buildBundle(codeRoot: string, bundlePath: string): Promise<void> {
  const child = spawn(process.execPath, nodeArgs(codeRoot, 'scripts/build-workflow-bundle.ts'), {
    cwd: codeRoot,
    env: { ...process.env, WORKFLOW_BUNDLE_PATH: bundlePath },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`building the workflow bundle of ${codeRoot} failed:\n${errors}`);
}

/**
 * Starts the system in `runDir`, the workers from `workerCodeRoot` (default: this checkout), and resolves once a
 * worker polls.
 */
export async function startChaosSystem({
  runDir,
  workers,
  startedAt,
  seed,
  stack,
  workerCodeRoot = projectRoot,
}: {
  runDir: string;
  workers: number;
  startedAt: number;
  seed: number;
  /** The production engine (PostgreSQL and the Temporal server) instead of the dev server. */
  stack: boolean;
  workerCodeRoot?: string;
}): Promise<ChaosSystem> {
  const logsDir = path.join(runDir, 'logs');
  const keysDir = path.join(runDir, 'keys');
  await mkdir(logsDir, { recursive: true });
  await ensureDemoKeys(keysDir);
  const [temporalPort, uiPort, codecPort, simulatorPort, ...webhookPorts] = await Promise.all(
    Array.from({ length: 4 + webhookReplicas }, () => freePort()),
  );
  const simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    // Where the Go-built Temporal binaries are cached.
    ...(process.env.XDG_CACHE_HOME && { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME }),
    // The demo's relaxations (the simulator's public webhook credentials, a codec server without a token).
    DEMO_MODE: 'true',
    LOG_LEVEL: 'info',
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_UI_PORT: String(uiPort),
    TEMPORAL_DB_FILE: path.join(runDir, 'temporal.sqlite'),
    KEYS_DIR: keysDir,
    LOGS_DIR: logsDir,
    CAMPAIGN_STORE_DIR: path.join(runDir, 'campaigns'),
    CODEC_SERVER_PORT: String(codecPort),
    D1_BASE_URL: simulatorUrl,
    WORKER_METRICS_PORT: '0',
    WEBHOOK_METRICS_PORT: '0',
    CODEC_SERVER_METRICS_PORT: '0',
    ...(process.env.TEMPORAL_CLI_PATH && { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH }),
    ...runTimings,
  };
  const processes = new ChaosProcesses(logsDir, startedAt);
  const temporal = stack
    ? await startStackBackend(loadConfig(env), processes, path.join(runDir, 'stack'))
    : await startDevServerBackend(loadConfig(env), processes);
  Object.assign(env, temporal.env);
  const config = loadConfig(env);

  processes.start('codec-server', process.execPath, nodeArgs(projectRoot, 'codec/main.ts'), env, projectRoot);
  const webhooks = webhookPorts.map((port, i) => {
    const name = webhookProcess(i);
    processes.start(
      name,
      process.execPath,
      nodeArgs(projectRoot, 'webhook/main.ts'),
      { ...env, WEBHOOK_PORT: String(port) },
      projectRoot,
    );
    return name;
  });
  processes.start(
    'd1-simulator',
    process.execPath,
    nodeArgs(projectRoot, 'simulator/main.ts'),
    {
      ...env,
      D1_SIM_PORT: String(simulatorPort),
      D1_SIM_WEBHOOK_URL: webhookPorts.map((port) => `http://127.0.0.1:${port}`).join(','),
      D1_SIM_STEP_DELAY: '1500ms',
      D1_SIM_NOTIFY_RETRY_BASE: '200ms',
      D1_SIM_FAULTS: JSON.stringify({ seed }),
    },
    projectRoot,
  );

  // Each code root's workflows bundled once, so a worker restarted by the fault plan starts in about a second.
  const bundles = new Map<string, Promise<string>>();
  const prepareWorkerCode = (codeRoot: string) => {
    let bundle = bundles.get(codeRoot);
    if (!bundle) {
      const bundlePath = path.join(runDir, `workflow-bundle-${bundles.size + 1}.js`);
      bundle = buildBundle(codeRoot, bundlePath).then(() => bundlePath);
      bundles.set(codeRoot, bundle);
    }
    return bundle;
  };
  const workerStart = async (codeRoot: string) => ({
    args: nodeArgs(codeRoot, 'workers/main.ts'),
    env: { ...env, WORKFLOW_BUNDLE_PATH: await prepareWorkerCode(codeRoot) },
    cwd: codeRoot,
  });
  const initial = await workerStart(workerCodeRoot);
  const workerNames = Array.from({ length: workers }, (_, i) => workerProcess(i));
  for (const name of workerNames) processes.start(name, process.execPath, initial.args, initial.env, initial.cwd);
  await waitForPoller(config, 120_000);

  return {
    env,
    config,
    processes,
    workers: workerNames,
    webhooks,
    simulatorUrl,
    codecUrl: `http://127.0.0.1:${codecPort}`,
    prepareWorkerCode: async (codeRoot) => {
      await prepareWorkerCode(codeRoot);
    },
    rollWorker: async (name, codeRoot) => {
      const next = await workerStart(codeRoot);
      // As a deploy does: the old process is asked to stop (it finishes its tasks), then the new one starts.
      // The fault plan may start the old one again meanwhile (it killed it first): stopped again, then replaced.
      do await processes.kill(name, 'SIGTERM');
      while (processes.isRunning(name));
      processes.restart(name, next);
    },
    temporal,
    stop: () => processes.stopAll(),
  };
}
