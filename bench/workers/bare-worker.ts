/**
 * The baseline worker process: the bare workflow (`bench/workflows/bare-order.ts`, prebuilt into
 * `BENCH_BARE_BUNDLE`) with no-op activities, on the same settings as our worker (`workers/card-order-worker.ts`):
 * the same configuration variables, concurrency, shutdown grace and payload codec. Stops on SIGINT or SIGTERM.
 *
 * @module
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { failureConverterPath, loadCodecKeyRing } from '../../codec/data-converter.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { loadConfig } from '../../config/config.js';
import { temporalConnectionOptions } from '../../temporal/connection.js';
import { bareActivities } from './bare-activities.js';

const config = loadConfig();
const codePath = process.env.BENCH_BARE_BUNDLE;
if (!codePath) throw new Error('BENCH_BARE_BUNDLE must name the bare workflow bundle');
Runtime.install({ logger: new DefaultLogger('WARN') });

const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
try {
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { codePath },
    activities: bareActivities,
    dataConverter: {
      payloadCodecs: [new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec))],
      failureConverterPath,
    },
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    shutdownGraceTime: config.worker.shutdownGraceMs,
  });
  await worker.run();
} finally {
  await connection.close();
}
