/**
 * C2, a campaign at the size users run (`npm run bench -- --campaign-scale [N]`, N cards, default 100,000; only when
 * asked): N sample cards ingested by a CLI-like process, submitted in pages of 1,000 (one D1 batch each) with no
 * in-flight bound in the way (pages wait only for the worker to take the cards' tasks), and parked in production at
 * the simulator (its stages take a day: nothing ships). Half way through, the worker is SIGKILLed and a new one takes
 * over. Measured: the time to submit every card, D1 calls per 1,000 cards, each card's D1 orders (one each), the
 * CLI's and the workers' peak RSS, the server's CPU per card, and what `campaign watch` costs per minute at N cards
 * (its own CPU, and the server's beyond an idle minute, once the server settled).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { request } from 'undici';
import { writeSampleCampaignFile } from '../campaigns/sample-file.js';
import { campaignWorkflowId } from '../client/campaigns.js';
import { projectRoot } from '../config/config.js';
import { campaignStateQuery, type CampaignView } from '../rules/contracts/campaign.js';
import { runCampaignStart } from './lib/campaign.js';
import { simulatorStats } from './lib/simulator-process.js';
import { startStack, type Stack } from './lib/stack.js';
import { workflowTaskBacklog } from '../temporal/connection.js';
import { cpuSeconds } from './lib/temporal.js';
import { entry, type BenchContext, type Benchmark } from './lib/types.js';
import { spawnWorker, type WorkerProcess } from './lib/worker-process.js';
import { delay, perSecond, progress } from './lib/util.js';

/** The simulator's orders of cards whose issuerRequestId starts with `prefix`: one per card when none was made twice. */
async function ordersAtD1(
  stack: Stack,
  prefix: string,
): Promise<{ cards: number; orders: number; maxSubmissions: number }> {
  const response = await request(`${stack.simulator.url}/__sim/orders`);
  const orders = (
    (await response.body.json()) as { cardId: string; issuerRequestId: string; submissions: number }[]
  ).filter((o) => o.issuerRequestId.startsWith(prefix));
  return {
    cards: new Set(orders.map((o) => o.cardId)).size,
    orders: orders.length,
    maxSubmissions: Math.max(0, ...orders.map((o) => o.submissions)),
  };
}

function watchCampaign(args: string[], env: Record<string, string | undefined>) {
  return spawn(process.execPath, [path.join(projectRoot, 'bin/card-orders.js'), ...args], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

async function processCpu(pid: number | undefined): Promise<number> {
  return (await cpuSeconds(pid)) ?? Number.NaN;
}

const WATCH_MINUTE_MS = 60_000;
/** The window the server's CPU is read over while waiting for it to settle. */
const QUIET_WINDOW_MS = 10_000;

export const benchmark: Benchmark = {
  id: 'C2',
  title: 'a campaign of 100,000 cards submitted through a worker kill, and what watching it costs',
  enabled: (options) => options.campaignScale !== undefined,
  async run(context: BenchContext) {
    const cards = context.options.campaignScale ?? 100_000;
    const storeDir = path.join(context.workDir, 'campaign-scale-store');
    const stack = await startStack(context, 'c2', {
      // Production takes a day per stage here: the cards stay at D1, accepted, none ships during the run.
      stepDelayMs: 86_400_000,
      env: {
        CAMPAIGN_STORE_DIR: storeDir,
        D1_BATCH_SIZE: '1000',
        CAMPAIGN_MAX_IN_FLIGHT: String(cards + 1000),
        CAMPAIGN_CHECK_INTERVAL: '5s',
        CAMPAIGN_CHECK_MAX_INTERVAL: '1m',
        CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT: '10s',
      },
    });
    const workers: WorkerProcess[] = [];
    const startWorker = async () => {
      const worker = spawnWorker('ours', { ...stack.workerEnv, WORKFLOW_BUNDLE_PATH: context.oursBundlePath });
      workers.push(worker);
      await worker.firstPoll(context.client, stack.taskQueue);
      return worker;
    };
    try {
      const issuerId = stack.config.d1.issuerId;
      const prefix = `c2${context.runId}`;
      const file = path.join(context.workDir, `campaign-scale-${cards}.csv`);
      progress(`writing a sample CSV of ${cards} cards`);
      await writeSampleCampaignFile(file, { cards, format: 'csv', issuerId, prefix });
      let worker = await startWorker();
      const campaignId = `bench-${context.runId}-c2`;
      const handle = stack.plain.workflow.getHandle(campaignWorkflowId(issuerId, campaignId));
      // A worker busy starting a thousand cards may answer a query late: the last answer stands until the next one.
      let last: CampaignView | undefined;
      const view = async (): Promise<CampaignView> => {
        for (let attempt = 1; ; attempt += 1) {
          try {
            last = await handle.query(campaignStateQuery);
            return last;
          } catch (err) {
            if (attempt >= 20) throw err;
            progress(`  (the campaign's query failed: ${(err as Error).message}; trying again)`);
            if (last) return last;
            await delay(5_000);
          }
        }
      };
      const cardBacklog = async () =>
        (await workflowTaskBacklog(context.client, context.client.options.namespace, stack.taskQueue)) ?? 0;
      const stats0 = await simulatorStats(stack.simulator);
      const server0 = await processCpu(context.serverPid);
      progress(`campaign ${campaignId}: ${cards} cards`);
      const cli = await runCampaignStart({
        ...stack.workerEnv,
        BENCH_CAMPAIGN_FILE: file,
        BENCH_CAMPAIGN_ID: campaignId,
      });
      if (cli.valid !== cards) throw new Error(`the campaign took ${cli.valid} of ${cards} cards`);

      // Half the pages out, the worker dies mid-page; a new one takes the page over.
      const pages = Math.ceil(cards / 1000);
      let killedAt = Number.NaN;
      let peakBeforeKill = 0;
      let current = await view();
      let movedAt = Date.now();
      let seen = -1;
      // A page held for the workers is progress as long as their backlog falls: stuck is neither for 10 minutes.
      let lowestBacklog = Number.POSITIVE_INFINITY;
      while (current.pagesSubmitted < pages || (current.accepted ?? 0) < cards) {
        if (current.pagesSubmitted !== seen) {
          [seen, movedAt, lowestBacklog] = [current.pagesSubmitted, Date.now(), Number.POSITIVE_INFINITY];
        }
        if (Date.now() - movedAt > 600_000) {
          throw new Error(`no page and no fall of the card backlog for 10 minutes (${seen}/${pages})`);
        }
        if (Number.isNaN(killedAt) && current.pagesSubmitted >= Math.floor(pages / 2)) {
          peakBeforeKill = (await worker.memory()).peakMb;
          progress(`  ${current.pagesSubmitted}/${pages} pages: SIGKILL to the worker, a new one starts`);
          await worker.kill('SIGKILL');
          killedAt = Date.now();
          worker = await startWorker();
        }
        const [{ rssMb }, backlog] = await Promise.all([worker.memory(), cardBacklog()]);
        if (backlog < lowestBacklog - 100) [lowestBacklog, movedAt] = [backlog, Date.now()];
        progress(
          `  ${current.pagesSubmitted}/${pages} pages submitted, ${current.accepted} cards taken by D1, ` +
            `${backlog} card tasks queued, worker RSS ${rssMb.toFixed(0)} MB`,
        );
        await delay(5_000);
        current = await view();
      }
      const submittedAt = Date.now();
      const submitMs = submittedAt - cli.calledAt;
      const server1 = await processCpu(context.serverPid);
      const stats1 = await simulatorStats(stack.simulator);
      const calls = stats1.orderRequests - stats0.orderRequests + (stats1.batchRequests - stats0.batchRequests);
      const atD1 = await ordersAtD1(stack, prefix);
      if (atD1.orders !== cards || atD1.cards !== cards) {
        throw new Error(`D1 holds ${atD1.orders} orders of ${atD1.cards} cards for ${cards} cards`);
      }

      // D1 notifies each card's production request; the webhook signals the card, which takes a task (a replay: a
      // parked card is long out of the worker's cache). Only once every notification is in and every card task done
      // is the server idle enough to tell watch apart.
      for (let quiet = 0; quiet < 2;) {
        await delay(6_000); // past the server's cache of its statistics
        const [backlog, { notificationsPending }] = await Promise.all([cardBacklog(), simulatorStats(stack.simulator)]);
        quiet = backlog === 0 && notificationsPending === 0 ? quiet + 1 : 0;
        if (quiet === 0) progress(`  ${notificationsPending} D1 notifications to send, ${backlog} card tasks queued`);
      }
      const notifiedAt = Date.now();
      const server2 = await processCpu(context.serverPid);
      const workerPeak = Math.max(peakBeforeKill, (await worker.memory()).peakMb);

      // Watching: once the server has settled (its cards' last timers and tasks done), a minute with `campaign watch`
      // running, then an idle minute to set its share against.
      // What the run measured so far, in case the rest takes long.
      progress(
        `  submitted in ${(submitMs / 1000).toFixed(0)} s; ${calls} D1 calls; ${atD1.orders} orders of ` +
          `${atD1.cards} cards at D1; CLI peak ${cli.peakMb.toFixed(0)} MB, worker peak ${workerPeak.toFixed(0)} MB`,
      );
      const quietAt = Date.now();
      let settled = false;
      while (!settled && Date.now() - quietAt < 15 * WATCH_MINUTE_MS) {
        const before = await processCpu(context.serverPid);
        await delay(QUIET_WINDOW_MS);
        const used = (await processCpu(context.serverPid)) - before;
        settled = used < QUIET_WINDOW_MS / 1000 / 20; // under 5% of a core
        if (!settled)
          progress(`  the server is still busy (${used.toFixed(2)} s of CPU in ${QUIET_WINDOW_MS / 1000} s)`);
      }
      progress('  a minute of campaign watch, then an idle minute');
      const watch = watchCampaign(['campaign', 'watch', campaignId], { ...stack.workerEnv });
      await delay(20_000); // past its start (tsx, connecting)
      const [watch0, watched0] = await Promise.all([processCpu(watch.pid), processCpu(context.serverPid)]);
      await delay(WATCH_MINUTE_MS);
      const [watch1, watched1] = await Promise.all([processCpu(watch.pid), processCpu(context.serverPid)]);
      watch.kill('SIGKILL');
      const idle0 = await processCpu(context.serverPid);
      await delay(WATCH_MINUTE_MS);
      const idle1 = await processCpu(context.serverPid);
      const watchCpu = watch1 - watch0;
      const serverWithWatch = watched1 - watched0;
      const serverIdle = idle1 - idle0;
      const watchCost = watchCpu + Math.max(serverWithWatch - serverIdle, 0);

      const perThousand = (calls * 1000) / cards;
      const serverPerCard = ((server1 - server0) * 1000) / cards;
      const serverPerNotification = ((server2 - server1) * 1000) / cards;
      const setting =
        `pages of 1,000 (D1_BATCH_SIZE), no in-flight bound, each page held while over 1,000 card tasks wait for ` +
        `the worker (CAMPAIGN_MAX_CARD_BACKLOG), the simulator's stages a day apart (nothing ships), ` +
        `a worker SIGKILLed ${((killedAt - cli.calledAt) / 1000).toFixed(0)} s in at half the pages and replaced`;
      return [
        entry(
          'C2 cards submitted/s',
          'cards/s',
          perSecond(cards, submitMs),
          perSecond(cards, submitMs),
          'higher',
          undefined,
          `${cards} cards from startCampaign's call until every page was submitted and D1 had taken every card ` +
            `(${(submitMs / 1000).toFixed(0)} s, ingestion ${((cli.returnedAt - cli.calledAt) / 1000).toFixed(0)} s ` +
            `of it); ${setting}; every card once at D1 (${atD1.orders} orders of ${atD1.cards} cards, at most ` +
            `${atD1.maxSubmissions} submission(s) of one order: a retried page sends its cards again and D1 ` +
            `returns the same order); no baseline: the pace to plan for`,
        ),
        entry(
          'C2 D1 calls per 1000 cards',
          'calls',
          perThousand,
          1000 / Math.min(cards, 1000),
          'lower',
          { on: 'ours', op: '<=', value: 1.05 },
          `batch and single-order calls the simulator received during the campaign ` +
            `(${stats1.batchRequests - stats0.batchRequests} batches, ${stats1.orderRequests - stats0.orderRequests} ` +
            `single); baseline: one call per full page`,
        ),
        entry(
          'C2 CLI peak RSS MB',
          'MB',
          cli.peakMb,
          cli.peakMb,
          'lower',
          { on: 'ours', op: '<', value: 1024 },
          `VmHWM of the startCampaign process that ingested and stored ${cards} cards`,
        ),
        entry(
          'C2 worker peak RSS MB',
          'MB',
          workerPeak,
          workerPeak,
          'lower',
          { on: 'ours', op: '<', value: 1024 },
          `VmHWM of the worker killed half way (${peakBeforeKill.toFixed(0)} MB) and of the one after it, the higher`,
        ),
        entry(
          'C2 server CPU ms per card',
          'ms',
          serverPerCard,
          serverPerCard,
          'lower',
          undefined,
          `the dev server's CPU from the campaign's start until every card was submitted, per card (start, the ` +
            `page's signal, the first tasks and the campaign's own history)`,
        ),
        entry(
          'C2 notification tail s',
          's',
          (notifiedAt - submittedAt) / 1000,
          (notifiedAt - submittedAt) / 1000,
          'lower',
          undefined,
          `from the last page until the simulator had sent every card's CARD_PROD_REQUESTED (one per call, the simulator's ` +
            `default batchSize) and the cards had taken them: ${serverPerNotification.toFixed(1)} ms of server CPU ` +
            `per card in that time; no baseline: the tail to plan for`,
        ),
        entry(
          'C2 campaign watch CPU s per minute',
          's',
          watchCost,
          WATCH_MINUTE_MS / 1000,
          'lower',
          { on: 'ratio', op: '<=', value: 0.01 },
          `campaign watch at ${cards} cards: its own CPU over a minute past its start (${watchCpu.toFixed(2)} s) ` +
            `plus the server's beyond an idle minute's (${serverWithWatch.toFixed(2)} s against ` +
            `${serverIdle.toFixed(2)} s${settled ? '' : ', the server not settled after 15 minutes: its share is noise'}); ` +
            `baseline: a whole core for a minute (the target is under 1% of it)`,
        ),
      ];
    } finally {
      await Promise.all(workers.map((w) => w.kill('SIGKILL')));
      await stack.close();
    }
  },
};
