/**
 * What the campaign benchmarks (C1, C2) share: the simulator's counts of D1 order calls, and the CLI-like process
 * that starts a campaign (`bench/workers/campaign-start.ts`) in a process of its own, so its memory can be measured.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { request } from 'undici';
import { projectRoot } from '../../config/config.js';
import type { CampaignStartReport } from '../workers/campaign-start.js';
import type { Stack } from './stack.js';

/** What the simulator's `GET /__sim/stats` counts: the D1 order calls it received, the notifications not yet sent. */
export interface SimulatorStats {
  orderRequests: number;
  batchRequests: number;
  batchCards: number;
  notificationsPending: number;
}

export async function simulatorStats(stack: Stack): Promise<SimulatorStats> {
  const response = await request(`${stack.simulator.url}/__sim/stats`);
  return (await response.body.json()) as SimulatorStats;
}

/** Runs the CLI-like process to its end and returns its report. */
export async function runCampaignStart(env: Record<string, string | undefined>): Promise<CampaignStartReport> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, '../workers/campaign-start.ts')],
    {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`the campaign start process exited (${code ?? signal}):\n${stderr}`);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as CampaignStartReport;
}
