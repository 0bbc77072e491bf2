/**
 * The card-order worker: workflows and activities on the cards' task queue, and campaigns on a queue of their own
 * (`{taskQueue}-campaigns`), in one process.
 *
 * @module
 */
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';

type WorkflowBundleOption = NonNullable<WorkerOptions['workflowBundle']>;
import { createActivities } from '../activities/index.js';
import { failureConverterPath, loadCodecKeyRing } from '../codec/data-converter.js';
import { AesGcmPayloadCodec } from '../codec/payload-codec.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../common/logger.js';
import { D1Client } from '../d1/client.js';
import { loadSigningKey } from '../d1/keys.js';
import { loadProgramCatalog } from '../orders/program-catalog.js';
import { syncReconcileSchedule } from './reconcile-schedule.js';
import { openCampaignStore, sweepCampaignStore } from '../campaigns/store.js';
import { loadWorkflowBundle } from './workflow-bundle.js';

export interface CardOrderWorker {
  /** The cards' task queue (card orders, reconciliation, dead-letter records). */
  worker: Worker;
  /** The campaigns' task queue: a backlog of card tasks never holds a campaign up. */
  campaignWorker: Worker;
  /** Runs both until the process is told to stop (or one fails: the other is shut down). */
  run(): Promise<void>;
  /** Runs both until `body` settles, then shuts them down. */
  runUntil<R>(body: Promise<R> | (() => Promise<R>)): Promise<R>;
  /** Releases what the worker holds besides the Temporal connection (the D1 connection pool). */
  close(): Promise<void>;
}

/**
 * Creates (but does not run) the worker for `config`, on an open connection. `workflowBundle` replaces the
 * configured one (tests share one bundle per run).
 */
export async function createCardOrderWorker(
  config: Config,
  connection: NativeConnection,
  logger: Logger,
  { workflowBundle: givenBundle }: { workflowBundle?: WorkflowBundleOption } = {},
): Promise<CardOrderWorker> {
  const [workflowBundle, catalog, codecKeys, d1] = await Promise.all([
    givenBundle ?? loadWorkflowBundle(config.worker.workflowBundlePath, (reason) => logger.warn(reason)),
    loadProgramCatalog(config.programCatalogFile),
    loadCodecKeyRing(config.payloadCodec),
    D1Client.fromConfig(config.d1, logger),
  ]);
  const issuerEvents = config.issuerEvents.url
    ? {
        url: config.issuerEvents.url,
        signingKey: await loadSigningKey(config.issuerEvents.signingKey),
        timeoutMs: config.d1.requestTimeoutMs,
      }
    : undefined;
  const payloadCodecs = [new AesGcmPayloadCodec(codecKeys, { namespace: config.payloadCodec.sealedTo })];
  const dataConverter = { payloadCodecs, failureConverterPath };
  // The reconciliation lists, queries and signals orders, and keeps its Schedule, over the worker's connection.
  const temporal = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  const reconcile = { temporal, taskQueue: config.temporal.taskQueue, ...config.reconcile };
  const campaignStore = openCampaignStore(config.campaigns, payloadCodecs);
  const activities = createActivities({
    d1,
    catalog,
    issuerEvents,
    reconcile,
    replacesCardIdField: config.d1.replacesCardIdField,
    // Campaigns start card orders and read the pages the CLI stored, with the same codec keys.
    campaigns: {
      temporal,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      codecs: payloadCodecs,
      store: campaignStore,
      batchRequestTimeoutMs: config.campaigns.batchRequestTimeoutMs,
      replacesCardIdField: config.d1.replacesCardIdField,
    },
  });
  const common = {
    connection,
    namespace: config.temporal.namespace,
    workflowBundle,
    activities,
    dataConverter,
    // The SDK default is 0: in-flight activities would be cancelled at once on shutdown.
    shutdownGraceTime: config.worker.shutdownGraceMs,
  };
  // Both at once: each starts a workflow thread that loads the bundle, which is most of a worker's start.
  const [worker, campaignWorker] = await createBoth([
    Worker.create({
      ...common,
      taskQueue: config.temporal.taskQueue,
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      ...(config.d1.rateLimitPerSecond && { maxTaskQueueActivitiesPerSecond: config.d1.rateLimitPerSecond }),
    }),
    // Few campaigns run at once, each a page at a time: small limits. Their D1 batch calls are one per page.
    Worker.create({
      ...common,
      taskQueue: config.temporal.campaignTaskQueue,
      maxConcurrentActivityTaskExecutions: CAMPAIGN_ACTIVITIES_AT_ONCE,
      maxCachedWorkflows: CAMPAIGN_WORKFLOWS_CACHED,
    }),
  ]);
  // Orders matter more than the nightly job: a Schedule Temporal refuses (permissions, say) is an operator's alert,
  // not a reason to stop the worker.
  try {
    const sync = await syncReconcileSchedule(temporal, config);
    if (sync !== 'off') logger.info({ schedule: config.reconcile.schedule ?? null, sync }, 'reconciliation schedule');
  } catch (err) {
    const { message, cause } = err as Error;
    logger.error(
      { err: { message, cause: cause instanceof Error ? cause.message : undefined } },
      'the reconciliation schedule could not be kept',
    );
  }
  const stopSweeps = startRetentionSweeps(campaignStore, temporal, config.campaigns.retentionMs, logger);
  return {
    worker,
    campaignWorker,
    // Both stop on the SDK's shutdown signals, each in its own time (one runUntil inside the other would fail when
    // the outer one drains first); one that fails stops the other.
    run: async () => {
      const stop = (other: Worker) => () => {
        if (other.getState() === 'RUNNING') other.shutdown();
      };
      const results = await Promise.allSettled([
        worker.run().finally(stop(campaignWorker)),
        campaignWorker.run().finally(stop(worker)),
      ]);
      const failure = results.find((result) => result.status === 'rejected');
      if (failure) throw failure.reason;
    },
    runUntil: (body) => worker.runUntil(campaignWorker.runUntil(body)),
    close: async () => {
      stopSweeps();
      await Promise.all([d1.close(), campaignStore.close()]);
    },
  };
}

/**
 * Both workers, or none: when one cannot be created, the other (if it was) is run to an immediate end, so it lets go
 * of the connection and its threads before the first failure is thrown (the process then exits to be restarted).
 */
async function createBoth(creating: [Promise<Worker>, Promise<Worker>]): Promise<[Worker, Worker]> {
  const [first, second] = await Promise.allSettled(creating);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  for (const created of [first, second]) {
    if (created.status === 'fulfilled') await created.value.runUntil(Promise.resolve());
  }
  throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason;
}

/** Campaign activities (pages, counts, pulls) one worker runs at once, and campaign workflows it keeps cached. */
const CAMPAIGN_ACTIVITIES_AT_ONCE = 8;
const CAMPAIGN_WORKFLOWS_CACHED = 100;

/** How often a worker deletes the pages of campaigns past CAMPAIGN_STORE_RETENTION (every worker does; idempotent). */
const RETENTION_SWEEP_INTERVAL_MS = 3_600_000;

/**
 * The retention sweep, a minute after start and then hourly, on a timer that does not keep the process alive: a
 * failed sweep is logged (code and message, never a setting) and tried again at the next turn.
 */
function startRetentionSweeps(
  store: Parameters<typeof sweepCampaignStore>[0],
  temporal: Client,
  retentionMs: number,
  logger: Logger,
): () => void {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const swept = await sweepCampaignStore(store, temporal, retentionMs);
      if (swept.pages > 0) logger.info({ ...swept }, 'deleted the pages of campaigns past CAMPAIGN_STORE_RETENTION');
    } catch (err) {
      const { message, code } = err as Error & { code?: unknown };
      logger.warn({ err: { message, code } }, 'the campaign store retention sweep failed; trying again later');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void sweep(), 60_000);
  first.unref();
  const timer = setInterval(() => void sweep(), RETENTION_SWEEP_INTERVAL_MS);
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
