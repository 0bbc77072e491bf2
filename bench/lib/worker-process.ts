/**
 * Worker processes, as production runs them: ours is `workers/main.ts` on a prebuilt bundle; the baseline is
 * `bench/workers/bare-worker.ts` with the same worker settings. The benchmark measures them from outside: time to
 * the first poll Temporal sees, resident memory from /proc, and SIGKILL.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { projectRoot } from '../../config/config.js';
import { workflowPollers } from './temporal.js';
import { delay } from './util.js';

export type WorkerKind = 'ours' | 'bare';

export interface WorkerProcess {
  kind: WorkerKind;
  child: ChildProcess;
  pid: number;
  /** When it was spawned (Date.now()). */
  spawnedAt: number;
  /** The last lines it wrote on stderr (for errors). */
  tail(): string;
  /** Resolves once Temporal saw this process poll the task queue; the ms since the spawn. */
  firstPoll(client: Client, taskQueue: string, timeoutMs?: number): Promise<number>;
  /** VmRSS and VmHWM (peak) in MB, from /proc. */
  memory(): Promise<{ rssMb: number; peakMb: number }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns a worker process with `env` (the service's settings: TEMPORAL_*, KEYS_DIR, D1_*, WORKER_*...); ours from
 * its TypeScript source through tsx, or with `compiled` from the production build (`dist/workers/main.js`, which
 * `npm run build` makes) on plain node, as the image runs it.
 */
export function spawnWorker(
  kind: WorkerKind,
  env: Record<string, string | undefined>,
  { compiled = false }: { compiled?: boolean } = {},
): WorkerProcess {
  const entry =
    kind === 'ours'
      ? path.join(projectRoot, compiled ? 'dist/workers/main.js' : 'workers/main.ts')
      : path.join(projectRoot, 'bench/workers/bare-worker.ts');
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, compiled ? [entry] : ['--import', 'tsx', entry], {
    cwd: projectRoot,
    env: { WORKER_METRICS_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  });
  if (child.pid === undefined) throw new Error(`could not start the ${kind} worker`);
  const pid = child.pid;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    kind,
    child,
    pid,
    spawnedAt,
    tail: () => lines.join('\n'),
    async firstPoll(client, taskQueue, timeoutMs = 120_000) {
      const deadline = spawnedAt + timeoutMs;
      for (;;) {
        if (!alive())
          throw new Error(`the ${kind} worker exited (${child.exitCode ?? child.signalCode}):\n${lines.join('\n')}`);
        const identities = await workflowPollers(client, taskQueue);
        if (identities.some((identity) => identity.startsWith(`${pid}@`))) return Date.now() - spawnedAt;
        if (Date.now() > deadline) throw new Error(`the ${kind} worker did not poll within ${timeoutMs} ms`);
        await delay(25);
      }
    },
    async memory() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
      return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
    },
    async kill(signal = 'SIGKILL') {
      if (!alive()) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
