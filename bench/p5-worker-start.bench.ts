/**
 * P5, worker start: the time from spawning a worker process (`workers/main.ts`) until Temporal sees it poll, with
 * the prebuilt workflow bundle (`npm run build`'s bundle and manifest) against bundling the workflows at start (no
 * prebuilt bundle at WORKFLOW_BUNDLE_PATH). Each arm on a fresh task queue, started in turns; the median counts.
 *
 * @module
 */
import path from 'node:path';
import { entry, type Benchmark } from './lib/types.js';
import { spawnWorker } from './lib/worker-process.js';
import { median, progress } from './lib/util.js';
import { startStack } from './lib/stack.js';

export const benchmark: Benchmark = {
  id: 'P5',
  title: 'worker start: prebuilt bundle against bundling at start',
  async run(context) {
    const { starts } = context.options;
    const stack = await startStack(context, 'p5', { stepDelayMs: 3_600_000 });
    const prebuilt: number[] = [];
    const bundling: number[] = [];
    const floor: number[] = [];
    try {
      for (let i = 1; i <= starts; i += 1) {
        for (const [arm, bundlePath, samples] of [
          ['prebuilt', context.oursBundlePath, prebuilt],
          ['bundling at start', path.join(context.workDir, 'no-such-bundle.js'), bundling],
        ] as const) {
          const taskQueue = `${stack.taskQueue}-${i}-${samples === prebuilt ? 'pre' : 'cold'}`;
          const worker = spawnWorker('ours', {
            ...stack.workerEnv,
            TEMPORAL_TASK_QUEUE: taskQueue,
            WORKFLOW_BUNDLE_PATH: bundlePath,
          });
          try {
            const ms = await worker.firstPoll(context.client, taskQueue);
            samples.push(ms);
            progress(`start ${i}/${starts}, ${arm}: first poll after ${(ms / 1000).toFixed(2)} s`);
          } finally {
            await worker.kill('SIGKILL');
          }
        }
      }
      // The floor: the bare worker (same process start, SDK and connection, a tiny prebuilt bundle).
      const floorQueue = `${stack.taskQueue}-floor`;
      const floorWorker = spawnWorker('bare', {
        ...stack.workerEnv,
        TEMPORAL_TASK_QUEUE: floorQueue,
        BENCH_BARE_BUNDLE: context.bareBundlePath,
      });
      try {
        floor.push(await floorWorker.firstPoll(context.client, floorQueue));
      } finally {
        await floorWorker.kill('SIGKILL');
      }
    } finally {
      await stack.close();
    }
    const fmt = (values: number[]) => values.map((ms) => (ms / 1000).toFixed(2)).join(', ');
    return [
      entry(
        'P5 worker start s',
        's',
        median(prebuilt) / 1000,
        median(bundling) / 1000,
        'lower',
        { on: 'ratio', op: '<=', value: 0.3 },
        `spawn to first workflow poll seen by Temporal, median of ${starts}; prebuilt: ${fmt(prebuilt)} s; bundling at start: ${fmt(bundling)} s; for reference, the bare worker (tsx, SDK, connection, a tiny bundle) ${fmt(floor)} s`,
      ),
    ];
  },
};
