/**
 * The D1 simulator in a process of its own, as D1 is remote: its CPU is not the bench process's, and a benchmark can
 * read it apart (`pid`).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { request } from 'undici';
import { projectRoot } from '../../config/config.js';
import type { OrderStats } from '../../simulator/order-records.js';
import { delay, freePort } from './util.js';

export interface SimulatorProcess {
  url: string;
  pid: number | undefined;
  close(): Promise<void>;
}

/** Starts `simulator/main.ts` with `env` (its `D1_SIM_*` settings; the port is chosen here); waits until it answers. */
export async function spawnSimulator(env: Record<string, string>): Promise<SimulatorProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'simulator/main.ts')], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'error', ...env, D1_SIM_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = once(child, 'exit').catch(() => undefined);
  const running = () => child.exitCode === null && child.signalCode === null;
  // A bench that dies before its `finally` must not leave the simulator posting to a webhook that is gone.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const close = async () => {
    process.off('exit', killOnExit);
    if (!running()) return;
    child.kill('SIGTERM');
    const patience = new AbortController();
    const stopped = await Promise.race([
      exited.then(() => true),
      delay(10_000, undefined, { signal: patience.signal }).then(
        () => false,
        () => true,
      ),
    ]);
    patience.abort();
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  for (let tries = 0; ; tries += 1) {
    if (!running()) {
      await close();
      throw new Error(`the simulator exited (${child.exitCode ?? child.signalCode}) before it answered`);
    }
    if (tries > 300) {
      await close();
      throw new Error('the simulator did not answer /healthz within 30 s');
    }
    try {
      const health = await request(`${url}/healthz`);
      await health.body.dump();
      if (health.statusCode === 200) break;
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  return { url, pid: child.pid, close };
}

/** What the simulator's `GET /__sim/stats` answers: its call counts and the notifications not yet sent. */
export type SimulatorStats = OrderStats & { notificationsPending: number };

export async function simulatorStats(simulator: Pick<SimulatorProcess, 'url'>): Promise<SimulatorStats> {
  const response = await request(`${simulator.url}/__sim/stats`);
  return (await response.body.json()) as SimulatorStats;
}
