/**
 * What the campaign benchmarks (C1, C2) share: the simulator's counts of D1 order calls, and the CLI-like process
 * that starts a campaign (`bench/workers/campaign-start.ts`) in a process of its own, so its memory can be measured.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { projectRoot } from '../../config/config.js';
import type { CampaignStartReport } from '../workers/campaign-start.js';

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
