/**
 * P4, open orders. First: N orders parked waiting for production (the simulator's steps are hours apart), the worker
 * process's resident memory (VmRSS from /proc) with all of them open, then the time for all of them to move again
 * after that worker is killed with SIGKILL and a new one started: from the restart until every order applied
 * the shipment D1 then reports for each (through the webhook, in batches) and completed. Baseline: the bare
 * same-shape workflow parked the same way (after its submit activity, waiting for signals), its worker killed and
 * restarted the same way, the shipments sent as signals at the same concurrency.
 *
 * Then the delivery window: what an order costs the server while it waits after shipment. Up to
 * {@link WINDOW_ORDERS} orders with a short window are shipped and sent {@link CARRIER_UPDATES} carrier updates
 * each; counted are the history events each adds from its parking to its completion, and the D1 calls (activities)
 * and timers after shipment. Baseline: the bare workflow, shipped the same way, waiting out the same window on one
 * timer while it takes the same signals: the least any design can cost.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import { countWorkflows, parkOrders, reportOf, WebhookPoster, type ParkedOrder } from './lib/parking.js';
import { startStack } from './lib/stack.js';
import { entry, type BenchContext, type Benchmark } from './lib/types.js';
import { spawnWorker, type WorkerProcess } from './lib/worker-process.js';
import { mapBounded } from '../common/bounded-concurrency.js';
import { delay, progress, waitUntil } from './lib/util.js';
import { bareNotificationSignal } from './workflows/bare-order.js';

const HOUR_MS = 3_600_000;
/** Operations per webhook POST when D1 reports the shipments, and POSTs in flight. */
const BATCH = 100;
const POSTS_IN_FLIGHT = 4;
/** Orders shipped into their delivery window, the window, and the carrier updates each then gets. */
const WINDOW_ORDERS = 200;
/** The delivery window (10 s with --quick). */
const WINDOW_S = 30;
const CARRIER_UPDATES = ['IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED'] as const;

interface Resume {
  /** From the restart until every workflow completed, s. */
  allMs: number;
  firstPollMs: number;
  /** From the restart until the first workflow completed. */
  firstDoneMs: number;
  /** From the restart until every notification was taken by Temporal. */
  deliveredMs: number;
}

/** Waits until `count` workflows of the queue completed; the ms since `since` when the first and the last did. */
async function waitCompleted(context: BenchContext, taskQueue: string, count: number, since: number) {
  let firstDoneMs = Number.NaN;
  let last = -1;
  await waitUntil(
    async () => {
      const done = await countWorkflows(context, taskQueue, `ExecutionStatus = 'Completed'`);
      if (done > 0 && Number.isNaN(firstDoneMs)) firstDoneMs = Date.now() - since;
      if (done !== last && (done === count || Math.random() < 0.2)) progress(`  ${done}/${count} moved on`);
      last = done;
      return done >= count;
    },
    { timeoutMs: 3_600_000, intervalMs: 500, what: `${count} workflows to complete` },
  );
  return { allMs: Date.now() - since, firstDoneMs };
}

async function parkBare(context: BenchContext, plain: Client, taskQueue: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `bare-p4-${context.runId}-${i}`);
  let started = 0;
  const ticker = setInterval(() => progress(`  started ${started}/${count}`), 10_000);
  try {
    await mapBounded(ids, context.options.startConcurrency, async (id) => {
      await plain.workflow.start('bareOrder', { taskQueue, workflowId: id, args: [id] });
      started += 1;
    });
  } finally {
    clearInterval(ticker);
  }
  // Parked: started, one workflow task, the submit activity, one more workflow task (10 events), and waiting.
  let waiting = ids;
  await waitUntil(
    async () => {
      const still: string[] = [];
      await mapBounded(waiting, 32, async (id) => {
        const { historyLength } = await plain.workflow.getHandle(id).describe();
        if (historyLength < 10) still.push(id);
      });
      waiting = still;
      progress(`  parked ${count - waiting.length}/${count}`);
      return waiting.length === 0;
    },
    { timeoutMs: 3_600_000, intervalMs: 2_000, what: `${count} bare workflows to park` },
  );
  return ids;
}

/** History lengths of `ids`, by id. */
async function historyLengths(client: Client, ids: readonly string[]): Promise<Map<string, number>> {
  const lengths = new Map<string, number>();
  await mapBounded(ids, 32, async (id) => {
    lengths.set(id, (await client.workflow.getHandle(id).describe()).historyLength);
  });
  return lengths;
}

/** Mean events each workflow added between two readings. */
function meanGrowth(before: Map<string, number>, after: Map<string, number>): number {
  let sum = 0;
  for (const [id, length] of after) sum += length - (before.get(id) ?? 0);
  return sum / Math.max(after.size, 1);
}

/** Activities scheduled and timers started after the shipment (signal `shipmentSignal`, 0-based), per workflow. */
async function afterShipmentCommands(client: Client, ids: readonly string[], shipmentSignal: number) {
  let activities = 0;
  let timers = 0;
  const sample = ids.slice(0, 20);
  for (const id of sample) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const signals = events.flatMap((e, i) => (e.workflowExecutionSignaledEventAttributes ? [i] : []));
    for (const e of events.slice((signals[shipmentSignal] ?? events.length) + 1)) {
      if (e.activityTaskScheduledEventAttributes) activities += 1;
      if (e.timerStartedEventAttributes) timers += 1;
    }
  }
  return { activities: activities / sample.length, timers: timers / sample.length };
}

/** Posts one batch as D1 does: a batch the webhook could not store (503) is sent again after a while. */
async function postUntilTaken(
  poster: WebhookPoster,
  batch: readonly ParkedOrder[],
  report: (order: ParkedOrder) => ReturnType<typeof reportOf>,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const status = await poster.post(batch[0]!.issuerId, batch.map(report));
    if (status < 300) return;
    if (attempt >= 20) throw new Error(`the webhook answered ${status} ${attempt} times`);
    await delay(500);
  }
}

async function settle(worker: WorkerProcess): Promise<{ rssMb: number; peakMb: number }> {
  await delay(3_000);
  return worker.memory();
}

export const benchmark: Benchmark = {
  id: 'P4',
  title: 'open orders: worker memory, and resuming after SIGKILL',
  async run(context) {
    const { openOrders: count } = context.options;
    const stack = await startStack(context, 'p4', {
      stepDelayMs: HOUR_MS,
      faults: { batchSize: BATCH, batchWindowMs: 50 },
    });
    const bareQueue = `${stack.taskQueue}-bare`;
    const oursEnv = { ...stack.workerEnv, WORKFLOW_BUNDLE_PATH: context.oursBundlePath };
    const bareEnv = { ...stack.workerEnv, TEMPORAL_TASK_QUEUE: bareQueue, BENCH_BARE_BUNDLE: context.bareBundlePath };
    const workers: WorkerProcess[] = [];
    const poster = new WebhookPoster(stack.webhook.url, POSTS_IN_FLIGHT);
    try {
      // Ours.
      let worker = spawnWorker('ours', oursEnv);
      workers.push(worker);
      await worker.firstPoll(context.client, stack.taskQueue);
      progress(`parking ${count} orders of ours`);
      const parked: ParkedOrder[] = await parkOrders(context, stack, count);
      const oursMemory = await settle(worker);
      progress(
        `ours: ${count} open orders, worker RSS ${oursMemory.rssMb.toFixed(0)} MB (peak ${oursMemory.peakMb.toFixed(0)} MB)`,
      );
      await poster.fetchToken();
      await worker.kill('SIGKILL');
      const restart = Date.now();
      worker = spawnWorker('ours', oursEnv);
      workers.push(worker);
      const oursPoll = worker.firstPoll(context.client, stack.taskQueue);
      const batches = Array.from({ length: Math.ceil(parked.length / BATCH) }, (_, i) =>
        parked.slice(i * BATCH, (i + 1) * BATCH),
      );
      const oursDelivered = mapBounded(batches, POSTS_IN_FLIGHT, (batch) =>
        postUntilTaken(poster, batch, (order) => reportOf(order, 'CARD_SHIPPED')),
      ).then(() => Date.now() - restart);
      const oursDone = await waitCompleted(context, stack.taskQueue, count, restart);
      const ours: Resume = { ...oursDone, firstPollMs: await oursPoll, deliveredMs: await oursDelivered };
      await worker.kill('SIGKILL');

      // Baseline.
      let bare = spawnWorker('bare', bareEnv);
      workers.push(bare);
      await bare.firstPoll(context.client, bareQueue);
      progress(`parking ${count} bare workflows`);
      const ids = await parkBare(context, stack.plain, bareQueue, count);
      const bareMemory = await settle(bare);
      progress(
        `bare: ${count} open workflows, worker RSS ${bareMemory.rssMb.toFixed(0)} MB (peak ${bareMemory.peakMb.toFixed(0)} MB)`,
      );
      await bare.kill('SIGKILL');
      const bareRestart = Date.now();
      bare = spawnWorker('bare', bareEnv);
      workers.push(bare);
      const barePoll = bare.firstPoll(context.client, bareQueue);
      const bareDelivered = mapBounded(ids, POSTS_IN_FLIGHT * 32, (id) =>
        stack.plain.workflow.getHandle(id).signal(bareNotificationSignal, { stage: 'CARD_SHIPPED', final: true }),
      ).then(() => Date.now() - bareRestart);
      const bareDone = await waitCompleted(context, bareQueue, count, bareRestart);
      const baseline: Resume = { ...bareDone, firstPollMs: await barePoll, deliveredMs: await bareDelivered };

      // The delivery window, ours.
      const windowed = Math.min(count, WINDOW_ORDERS);
      const windowS = context.options.quick ? 10 : WINDOW_S;
      progress(
        `delivery window: ${windowed} orders shipped into a ${windowS} s window, ${CARRIER_UPDATES.length} carrier updates each`,
      );
      worker = spawnWorker('ours', oursEnv);
      workers.push(worker);
      await worker.firstPoll(context.client, stack.taskQueue);
      const listening = await parkOrders(context, stack, windowed, {
        firstIndex: count,
        timings: { deliveryWindow: `${windowS}s` },
        expectParked: windowed,
      });
      const oursIds = listening.map((o) => o.workflowId);
      const oursParked = await historyLengths(context.client, oursIds);
      const windowBatches = Array.from({ length: Math.ceil(listening.length / BATCH) }, (_, i) =>
        listening.slice(i * BATCH, (i + 1) * BATCH),
      );
      // The first token may have expired during the long phases before.
      await poster.fetchToken();
      const windowStart = Date.now();
      for (const status of ['PICKED_UP', ...CARRIER_UPDATES]) {
        await mapBounded(windowBatches, POSTS_IN_FLIGHT, (batch) =>
          postUntilTaken(poster, batch, (order) => reportOf(order, 'CARD_SHIPPED', status)),
        );
      }
      await waitCompleted(context, stack.taskQueue, count + windowed, windowStart);
      const oursWindowEvents = meanGrowth(oursParked, await historyLengths(context.client, oursIds));
      // Ours took CARD_PROD_REQUESTED before its shipment; the bare workflow took nothing.
      const oursCommands = await afterShipmentCommands(context.client, oursIds, 1);

      // The delivery window, bare.
      const bareIds = Array.from({ length: windowed }, (_, i) => `bare-p4-window-${context.runId}-${i}`);
      await mapBounded(bareIds, context.options.startConcurrency, (id) =>
        stack.plain.workflow.start('bareOrder', { taskQueue: bareQueue, workflowId: id, args: [id, windowS * 1000] }),
      );
      await waitUntil(
        async () => [...(await historyLengths(stack.plain, bareIds)).values()].every((length) => length >= 10),
        { timeoutMs: 600_000, intervalMs: 1_000, what: 'the bare window workflows to park' },
      );
      const bareParked = await historyLengths(stack.plain, bareIds);
      const bareWindowStart = Date.now();
      for (const [i] of ['PICKED_UP', ...CARRIER_UPDATES].entries()) {
        await mapBounded(bareIds, POSTS_IN_FLIGHT * 32, (id) =>
          stack.plain.workflow.getHandle(id).signal(bareNotificationSignal, { stage: 'CARD_SHIPPED', final: i === 0 }),
        );
      }
      await waitCompleted(context, bareQueue, count + windowed, bareWindowStart);
      const bareWindowEvents = meanGrowth(bareParked, await historyLengths(stack.plain, bareIds));
      const bareCommands = await afterShipmentCommands(stack.plain, bareIds, 0);

      const engine = context.options.stack
        ? 'on the production engine (Temporal server on PostgreSQL, --stack)'
        : "on the run's server";
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      const resumeNote = (r: Resume) =>
        `first poll ${s(r.firstPollMs)}, all notifications taken ${s(r.deliveredMs)}, first done ${s(r.firstDoneMs)}, all done ${s(r.allMs)}`;
      return [
        entry(
          'P4 worker RSS MB',
          'MB',
          oursMemory.rssMb,
          bareMemory.rssMb,
          'lower',
          { on: 'ours', op: '<', value: 1024 },
          `${engine}: ${count} open orders, VmRSS of the worker process once all were parked; peak (VmHWM) ours ${oursMemory.peakMb.toFixed(0)} MB, bare ${bareMemory.peakMb.toFixed(0)} MB`,
        ),
        entry(
          'P4 resume s',
          's',
          ours.allMs / 1000,
          baseline.allMs / 1000,
          'lower',
          // Against bare, not a fixed time: the engine's own pace (25 to 30 completions/s on two cores) bounds both.
          { on: 'ratio', op: '<=', value: 1.1 },
          `${engine}: ${count} open orders, from the restart after SIGKILL until every one applied its shipment and completed (the shipments sent from the restart on: ours through the webhook, ${BATCH} per POST, ${POSTS_IN_FLIGHT} POSTs in flight; bare as ${POSTS_IN_FLIGHT * 32} signals in flight); webhook answers outside 2xx (retried): ${JSON.stringify(Object.fromEntries(poster.failures))}; ours: ${resumeNote(ours)}; bare: ${resumeNote(baseline)}`,
        ),
        entry(
          'P4 delivery window events/order',
          'events',
          oursWindowEvents,
          bareWindowEvents,
          'lower',
          { on: 'ratio', op: '<=', value: 1.5 },
          `${windowed} orders shipped into a ${windowS} s delivery window with ${CARRIER_UPDATES.length} carrier updates each: history events per order from parked to completed; after shipment, per order, ours ${oursCommands.activities} activities (issuer-event deliveries; D1 calls would be among them) and ${oursCommands.timers} timers, bare ${bareCommands.activities} activities and ${bareCommands.timers} timers`,
        ),
      ];
    } finally {
      await poster.close();
      for (const w of workers) await w.kill('SIGKILL');
      await stack.close();
    }
  },
};
