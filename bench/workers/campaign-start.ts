/**
 * C1's CLI-like process: what `campaign start` does, in a process of its own so its memory can be measured. With the
 * service's settings in its environment (TEMPORAL_*, KEYS_DIR, CAMPAIGN_STORE_DIR, D1_BATCH_SIZE...), it connects a
 * `CardOrdersClient`, calls `startCampaign` on `BENCH_CAMPAIGN_FILE` under `BENCH_CAMPAIGN_ID`, and exits. With
 * `BENCH_CAMPAIGN_IDLE=1` it only connects and closes (the idle process, C1's memory baseline). Either way it writes
 * one JSON line on stdout: its timings (epoch ms), the manifest's counts and its own peak resident memory (VmHWM).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadConfig } from '../../config/config.js';

/** What the process reports on stdout. */
export interface CampaignStartReport {
  /** When the process began (performance.timeOrigin). */
  processStartedAt: number;
  /** Just before `startCampaign` was called (after the client connected). */
  calledAt: number;
  /** When each page was stored: [epoch ms, pages so far]. */
  pages: [number, number][];
  /** When `startCampaign` returned (the workflow started and the status read). */
  returnedAt: number;
  total: number;
  valid: number;
  invalid: number;
  state: string;
  /** VmRSS and VmHWM of this process just before it exits, MB. */
  rssMb: number;
  peakMb: number;
  /** This process's CPU time, s. */
  cpuS: number;
}

async function memory(): Promise<{ rssMb: number; peakMb: number }> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

const config = loadConfig();
const client = await CardOrdersClient.connect({ config });
const pages: [number, number][] = [];
let report: Omit<CampaignStartReport, 'rssMb' | 'peakMb' | 'cpuS'>;
try {
  const calledAt = Date.now();
  if (process.env.BENCH_CAMPAIGN_IDLE === '1') {
    report = {
      processStartedAt: performance.timeOrigin,
      calledAt,
      pages,
      returnedAt: calledAt,
      total: 0,
      valid: 0,
      invalid: 0,
      state: 'IDLE',
    };
  } else {
    const file = process.env.BENCH_CAMPAIGN_FILE;
    const campaignId = process.env.BENCH_CAMPAIGN_ID;
    if (!file || !campaignId) throw new Error('BENCH_CAMPAIGN_FILE and BENCH_CAMPAIGN_ID must be set');
    const status = await client.startCampaign({
      file,
      campaignId,
      onPage: (manifest) => pages.push([Date.now(), manifest.pages]),
    });
    report = {
      processStartedAt: performance.timeOrigin,
      calledAt,
      pages,
      returnedAt: Date.now(),
      total: status.total,
      valid: status.valid,
      invalid: status.invalid,
      state: status.state,
    };
  }
} finally {
  await client.close();
}
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ...report, ...(await memory()), cpuS: (cpu.user + cpu.system) / 1e6 })}\n`);
