/**
 * C1, a bulk campaign (`npm run bench -- --campaign [N]`, N cards, default 10,000; only when asked): a CSV of N
 * sample cards (`writeSampleCampaignFile`) started with `CardOrdersClient.startCampaign` in a CLI-like process of
 * its own (`bench/workers/campaign-start.ts`), stored in the embedded page store (a folder), run by our worker
 * process against the D1 simulator's batch API (1,000 cards per call), each card to SHIPPED, the campaign to
 * COMPLETED. Baselines, measured in the same run on the same stack and worker: single orders end to end as P1's arm
 * of ours places them (the single-order rate), the single-order path's D1 calls, the idle CLI process and the worker
 * after the single orders (memory), and a raw `readline` pass over the same file (ingestion).
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { writeSampleCampaignFile } from '../campaigns/sample-file.js';
import { campaignWorkflowId } from '../client/campaigns.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import { cpuNote, measureArm, type ArmResult } from './p1-end-to-end.bench.js';
import { runCampaignStart } from './lib/campaign.js';
import { simulatorStats, type SimulatorStats } from './lib/simulator-process.js';
import { startStack, type ReceivedEvent, type Stack } from './lib/stack.js';
import { cpuSeconds } from './lib/temporal.js';
import { entry, type BenchContext, type Benchmark } from './lib/types.js';
import { spawnWorker } from './lib/worker-process.js';
import { delay, median, perSecond, progress } from './lib/util.js';
import type { CampaignStartReport } from './workers/campaign-start.js';

/** D1 calls (single orders and batches) between two readings. */
function callsBetween(a: SimulatorStats, b: SimulatorStats): { calls: number; batches: number; cards: number } {
  const batches = b.batchRequests - a.batchRequests;
  return {
    calls: b.orderRequests - a.orderRequests + batches,
    batches,
    cards: b.batchCards - a.batchCards,
  };
}

/** Lines of `file` per second read line by line and not checked: the best of a few passes' median. */
async function rawReadRate(file: string): Promise<{ lines: number; linesPerSecond: number }> {
  const rates: number[] = [];
  let lines = 0;
  for (let pass = 0; pass < 3; pass += 1) {
    const started = process.hrtime.bigint();
    lines = 0;
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (line.length > 0) lines += 1;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    rates.push(perSecond(lines - 1, ms)); // the CSV header holds no card
  }
  return { lines: lines - 1, linesPerSecond: median(rates) };
}

/** The simulator's notification POSTs of the cards whose issuerRequestId starts with `prefix` (its last 10,000). */
async function notificationRetries(stack: Stack, prefix: string): Promise<string> {
  const response = await request(`${stack.simulator.url}/__sim/notifications`);
  const records = (await response.body.json()) as {
    operations: { issuerRequestId?: string }[];
    attempts: number;
    lastStatus?: number;
    lastError?: string;
  }[];
  const mine = records.filter((r) => r.operations.some((o) => o.issuerRequestId?.startsWith(prefix)));
  const retried = mine.filter((r) => r.attempts > 1);
  const why = new Map<string, number>();
  for (const r of retried) {
    const key = String(r.lastStatus ?? r.lastError ?? '?');
    why.set(key, (why.get(key) ?? 0) + 1);
  }
  const extra = retried.reduce((sum, r) => sum + r.attempts - 1, 0);
  return (
    `simulator notification POSTs ${mine.length} (of its last 10,000 kept), ${retried.length} retried ` +
    `(${extra} more tries${why.size > 0 ? `; last answer ${[...why].map(([k, n]) => `${k} x${n}`).join(', ')}` : ''})`
  );
}

const mb = (value: number) => `${value.toFixed(0)} MB`;

export const benchmark: Benchmark = {
  id: 'C1',
  title: 'a bulk campaign from a file to all SHIPPED, against single orders on the same stack',
  enabled: (options) => options.campaign !== undefined,
  async run(context: BenchContext) {
    const { stepMs, startConcurrency, notifyBatch, notifyWindowMs, orders } = context.options;
    const cards = context.options.campaign ?? 10_000;
    const singles = Math.min(cards, orders);
    const storeDir = path.join(context.workDir, 'campaign-store');
    const NOTIFY_BATCH = { batchSize: notifyBatch, batchWindowMs: notifyWindowMs };
    // P1's simulator (steps of --step-ms, notifications as P1 sends them), so the single-order arm is P1's; the
    // campaign checks visibility every second, backing off to 5 s. Here D1 takes seconds, not days, so every card in
    // flight is busy at once: the worker's cache must hold them all (and the campaign), or each of their tasks
    // replays its history (an LRU cache walked round by a larger set misses every time). So the campaign keeps at
    // most --campaign-in-flight cards in flight (1,000: a page at a time) and the worker caches 500 more, for both arms.
    const inFlight = context.options.campaignInFlight;
    const workerCache = inFlight + 500;
    // A D1 that throttles the issuer's calls (--d1-rate): where one call per card costs the single orders most.
    const d1Rate = context.options.campaignD1Rate;
    const stack = await startStack(context, 'c1', {
      stepDelayMs: stepMs,
      faults: NOTIFY_BATCH,
      env: {
        CAMPAIGN_STORE_DIR: storeDir,
        D1_BATCH_SIZE: '1000',
        CAMPAIGN_CHECK_INTERVAL: '1s',
        CAMPAIGN_CHECK_MAX_INTERVAL: '5s',
        CAMPAIGN_MAX_IN_FLIGHT: String(inFlight),
        WORKER_MAX_CACHED_WORKFLOWS: String(workerCache),
        ...(d1Rate !== undefined && { D1_RATE_LIMIT_PER_SECOND: String(d1Rate) }),
      },
    });
    const worker = spawnWorker('ours', { ...stack.workerEnv, WORKFLOW_BUNDLE_PATH: context.oursBundlePath });
    const stopListening: (() => void)[] = [];
    try {
      const issuerId = stack.config.d1.issuerId;
      const prefix = `c1${context.runId}`;
      const file = path.join(context.workDir, `campaign-${cards}.csv`);
      progress(`writing a sample CSV of ${cards} cards`);
      await writeSampleCampaignFile(file, { cards, format: 'csv', issuerId, prefix });
      await worker.firstPoll(context.client, stack.taskQueue);

      // Baselines that need no worker: a raw read of the file, and the CLI process connecting and exiting.
      const raw = await rawReadRate(file);
      const idleCli = await runCampaignStart({ ...stack.workerEnv, BENCH_CAMPAIGN_IDLE: '1' });

      // The single-order rate, as P1's arm of ours measures it, on this stack and worker.
      let next = 0;
      const placeOne = async () => {
        const order = stack.newOrder(next++);
        await stack.client.orderCard(order);
        return async () => {
          const result = await stack.client.waitForOrder(order.issuerRequestId);
          if (result.status !== 'SHIPPED') throw new Error(`order ${order.issuerRequestId} ended ${result.status}`);
        };
      };
      const warmUp = Math.min(10, Math.max(2, Math.floor(singles / 20)));
      progress(`warming up: ${warmUp} single orders`);
      await measureArm(context, worker, warmUp, startConcurrency, placeOne);
      progress(`${singles} single orders (the baseline)`);
      const singleStats0 = await simulatorStats(stack.simulator);
      const single: ArmResult = await measureArm(context, worker, singles, startConcurrency, placeOne);
      const singleCalls = callsBetween(singleStats0, await simulatorStats(stack.simulator));
      const workerAfterSingles = await worker.memory();
      const singleRate = perSecond(single.orders, single.ms);

      // The campaign: every card's shipment noted as the issuer's endpoint receives it.
      const expected = new Set(
        Array.from({ length: cards }, (_, i) =>
          cardOrderWorkflowId(issuerId, `${prefix}-${String(i).padStart(6, '0')}`),
        ),
      );
      const shipped = new Map<string, number>();
      const failed: ReceivedEvent[] = [];
      stopListening.push(
        stack.events.onEvent((event) => {
          if (!expected.has(event.workflowId)) return;
          if (event.type === 'shipped' && !shipped.has(event.workflowId)) shipped.set(event.workflowId, event.at);
          if (['failed', 'compensated', 'cancelled', 'returned'].includes(event.type)) failed.push(event);
        }),
      );
      const campaignId = `bench-${context.runId}-c1`;
      const stats0 = await simulatorStats(stack.simulator);
      const [server0, worker0] = await Promise.all([cpuSeconds(context.serverPid), cpuSeconds(worker.pid)]);
      const bench0 = process.cpuUsage();
      progress(`campaign ${campaignId}: ${cards} cards`);
      // The worker's RSS as the campaign goes: the highest seen while each tenth of the cards shipped, to show whether
      // it grows with the campaign's size or only with the cards in flight.
      const rssByTenth: number[] = [];
      const ticker = setInterval(() => {
        progress(`  campaign: ${shipped.size}/${cards} shipped`);
        const tenth = Math.min(9, Math.floor((shipped.size * 10) / cards));
        void worker.memory().then(({ rssMb }) => {
          rssByTenth[tenth] = Math.max(rssByTenth[tenth] ?? 0, rssMb);
        });
      }, 5_000);
      let cli: CampaignStartReport;
      let lastShippedAt: number;
      try {
        cli = await runCampaignStart({
          ...stack.workerEnv,
          BENCH_CAMPAIGN_FILE: file,
          BENCH_CAMPAIGN_ID: campaignId,
        });
        if (cli.valid !== cards) throw new Error(`the campaign took ${cli.valid} of ${cards} cards`);
        progress(`  stored ${cli.total} lines in ${cli.pages.length} page(s); the campaign is ${cli.state}`);
        // Until every card shipped; fails when one fails, or when nothing ships for 5 minutes.
        let seen = -1;
        let movedAt = Date.now();
        while (shipped.size < cards) {
          if (failed.length > 0) {
            throw new Error(`${failed.length} campaign card(s) did not ship, e.g. ${JSON.stringify(failed[0])}`);
          }
          if (shipped.size !== seen) [seen, movedAt] = [shipped.size, Date.now()];
          if (Date.now() - movedAt > 300_000) throw new Error(`no card shipped for 5 minutes (${seen}/${cards})`);
          await delay(100);
        }
        lastShippedAt = Math.max(...shipped.values());
      } finally {
        clearInterval(ticker);
      }
      const ms = lastShippedAt - cli.calledAt;
      const bench = process.cpuUsage(bench0);
      const [server1, worker1] = await Promise.all([cpuSeconds(context.serverPid), cpuSeconds(worker.pid)]);
      const campaignArm: ArmResult = {
        orders: cards,
        ms,
        latenciesMs: [],
        serverCpu: (server1 ?? Number.NaN) - (server0 ?? Number.NaN),
        workerCpu: (worker1 ?? Number.NaN) - (worker0 ?? Number.NaN),
        benchCpu: (bench.user + bench.system) / 1e6,
        simulatorCpu: Number.NaN,
      };

      // The campaign itself ends once its visibility check sees no card open.
      const handle = stack.plain.workflow.getHandle(campaignWorkflowId(issuerId, campaignId));
      const view = (await handle.result()) as { state: string; accepted: number; refused: number; conflicts: number };
      const completedAt = Date.now();
      if (view.state !== 'COMPLETED') throw new Error(`the campaign ended ${view.state}`);
      const stats1 = await simulatorStats(stack.simulator);
      const campaignCalls = callsBetween(stats0, stats1);
      const workerPeak = await worker.memory();
      const workflowStartedAt = (await handle.describe()).startTime.getTime();
      const ingestMs = workflowStartedAt - cli.calledAt;
      const lastPageAt = cli.pages.at(-1)?.[0] ?? Number.NaN;
      const storedRate = perSecond(cli.total, ingestMs);
      const [campaignNotes, singleNotes] = await Promise.all([
        notificationRetries(stack, prefix),
        notificationRetries(stack, `r-${context.runId}-c1-`),
      ]);

      const rate = perSecond(cards, ms);
      // A page holds up to 1,000 cards: fewer cards, or a last page not full, cost one call all the same.
      const fewestCalls = Math.ceil(cards / 1000);
      const callsTarget = Number(((1.05 * fewestCalls * 1000) / cards).toFixed(3));
      const setting =
        `simulator step ${stepMs} ms, notifications ${NOTIFY_BATCH.batchSize} operation(s) per POST ` +
        `(window ${NOTIFY_BATCH.batchWindowMs} ms), one POST at a time; D1_BATCH_SIZE 1000, campaign checks every ` +
        `1 s backing off to 5 s, CAMPAIGN_MAX_IN_FLIGHT ${inFlight}; WORKER_MAX_CACHED_WORKFLOWS ${workerCache} and ` +
        `${d1Rate === undefined ? 'no D1 rate limit' : `D1_RATE_LIMIT_PER_SECOND ${d1Rate}`} for both arms`;
      return [
        entry(
          'C1 campaign cards/s',
          'cards/s',
          rate,
          singleRate,
          'higher',
          { on: 'ratio', op: '>=', value: 1.0 },
          `ours: ${cards} cards from a CSV through startCampaign in a CLI-like process, from its call to the last ` +
            `card's 'shipped' event at the issuer endpoint (${(ms / 1000).toFixed(1)} s; the campaign workflow saw ` +
            `it COMPLETED ${((completedAt - lastShippedAt) / 1000).toFixed(1)} s later: ${view.accepted} accepted, ` +
            `${view.refused} refused, ${view.conflicts} conflicts); baseline: ${singles} single orders end to end ` +
            `as P1's arm of ours (orderCard, ${startConcurrency} starts in flight, to SHIPPED) on the same stack ` +
            `and worker just before; ${setting}; campaign: ${cpuNote(campaignArm)}; CLI process ` +
            `${cli.cpuS.toFixed(1)} s CPU; ${campaignNotes}; single orders: ${cpuNote(single)}; ${singleNotes}`,
        ),
        entry(
          'C1 D1 calls per 1000 cards',
          'calls',
          (campaignCalls.calls * 1000) / cards,
          (singleCalls.calls * 1000) / singles,
          'lower',
          { on: 'ours', op: '<=', value: callsTarget },
          `calls D1 (the simulator's GET /__sim/stats) received from the campaign's start to its end: ` +
            `${campaignCalls.batches} batch call(s) carrying ${campaignCalls.cards} cards, ` +
            `${campaignCalls.calls - campaignCalls.batches} single-order call(s), no faults; baseline: the ` +
            `${singles} single orders' calls the same way (${singleCalls.calls}); the target is 1.05 per 1000 ` +
            `cards for full pages of 1,000, so 1.05 x the fewest calls possible, ceil(N / 1000) ` +
            `(${fewestCalls} here)`,
        ),
        entry(
          'C1 CLI peak RSS MB',
          'MB',
          cli.peakMb,
          idleCli.peakMb,
          'lower',
          { on: 'ours', op: '<', value: 1024 },
          `VmHWM of the startCampaign process (node --import tsx, as the CLI runs) read by itself just before it ` +
            `exits (RSS then ${mb(cli.rssMb)}); baseline: the same process connecting and exiting without a ` +
            `campaign; the target is for 100,000 cards (this run: ${cards})`,
        ),
        entry(
          'C1 worker peak RSS MB',
          'MB',
          workerPeak.peakMb,
          workerAfterSingles.peakMb,
          'lower',
          { on: 'ours', op: '<', value: 1024 },
          `VmHWM of our worker process after the campaign (RSS then ${mb(workerPeak.rssMb)}); baseline: the same ` +
            `process's VmHWM after the ${singles} single orders (and warm-up) that ran on it first, so ours is at ` +
            `least the baseline; the target is for 100,000 cards (this run: ${cards}); its RSS at its highest while ` +
            `each tenth of the cards shipped: ${Array.from(rssByTenth, (v) => (v === undefined ? '-' : v.toFixed(0))).join(', ')} MB`,
        ),
        entry(
          'C1 ingestion lines/s',
          'lines/s',
          storedRate,
          raw.linesPerSecond,
          'higher',
          undefined,
          `${cli.total} lines checked (schema, program, issuer, duplicate ids), encrypted and stored in ` +
            `${cli.pages.length} page(s), from the startCampaign call to the campaign workflow's start ` +
            `(${(ingestMs / 1000).toFixed(2)} s; the last page was stored after ` +
            `${((lastPageAt - cli.calledAt) / 1000).toFixed(2)} s); baseline: the same file read line by line with ` +
            `readline in the bench process, nothing checked (median of 3 passes over ${raw.lines} lines)`,
        ),
      ];
    } finally {
      for (const stop of stopListening) stop();
      await worker.kill('SIGTERM');
      await stack.close();
    }
  },
};
