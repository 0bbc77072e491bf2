/**
 * P5, worker start: the time from spawning a worker process until Temporal sees it poll, the production build's
 * worker (`node dist/workers/main.js`, as the image runs it) against the worker run from its TypeScript sources
 * through tsx (`node --import tsx workers/main.ts`, as every process ran before the production build). Both on the
 * same prebuilt workflow bundle (`npm run build`'s), so what differs is only loading the code: compiled JavaScript
 * against transpiling every module at start. The build is made first (`npm run build`, into `dist/`). Each arm on a
 * fresh task queue, started in turns; the median counts.
 *
 * @module
 */
import { build } from '../scripts/build.js';
import { entry, type Benchmark } from './lib/types.js';
import { spawnWorker } from './lib/worker-process.js';
import { median, progress } from './lib/util.js';
import { startStack } from './lib/stack.js';

export const benchmark: Benchmark = {
  id: 'P5',
  title: 'worker start: the production build against tsx',
  async run(context) {
    const { starts } = context.options;
    progress('building the processes (npm run build, into dist/)');
    await build(undefined, progress);
    const stack = await startStack(context, 'p5', { stepDelayMs: 3_600_000 });
    const compiled: number[] = [];
    const tsx: number[] = [];
    const floor: number[] = [];
    try {
      for (let i = 1; i <= starts; i += 1) {
        for (const [arm, samples] of [
          ['production build', compiled],
          ['tsx', tsx],
        ] as const) {
          const taskQueue = `${stack.taskQueue}-${i}-${samples === compiled ? 'js' : 'tsx'}`;
          const worker = spawnWorker(
            'ours',
            { ...stack.workerEnv, TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: context.oursBundlePath },
            { compiled: samples === compiled },
          );
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
        median(compiled) / 1000,
        median(tsx) / 1000,
        'lower',
        { on: 'ratio', op: '<=', value: 0.5 },
        `spawn to first workflow poll seen by Temporal, median of ${starts}, both on the prebuilt bundle; production build (node dist/workers/main.js): ${fmt(compiled)} s; tsx (workers/main.ts): ${fmt(tsx)} s; for reference, the bare worker (tsx, SDK, connection, a tiny bundle) ${fmt(floor)} s`,
      ),
    ];
  },
};
