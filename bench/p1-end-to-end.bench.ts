/**
 * P1, end to end: N orders placed through the client library, run by our worker process against the D1 simulator,
 * with D1's notifications reaching them through our webhook, each to SHIPPED. Baseline: the bare workflow of the
 * same business shape (`bench/workflows/bare-order.ts`) on a worker process with the same settings, its
 * notifications sent as signals by a plain client at the simulator's pace and the way it sends them: when each stage
 * is due, one at a time (the simulator posts one batch at a time per issuer). Without that lane the bare signals of
 * one order bunch up into shared workflow tasks, which D1's days between stages never allow, and the events per order
 * would compare a real delivery with an impossible one. The bare workflow tells the issuer where ours does (after the
 * submit, at the first stage, at the shipment: 3 no-op activities). Both on the same server, in alternating rounds.
 * History events per order are counted from the real histories.
 *
 * @module
 */
import type { WorkflowHandle } from '@temporalio/client';
import { productionLifecycle } from '../d1/report-schemas.js';
import { countHistories, describeByType } from './lib/histories.js';
import { startStack, type Stack } from './lib/stack.js';
import { cpuSeconds } from './lib/temporal.js';
import { entry, type BenchContext, type Benchmark } from './lib/types.js';
import { spawnWorker, type WorkerProcess } from './lib/worker-process.js';
import { mapBounded } from '../common/bounded-concurrency.js';
import { delay, percentile, perSecond, progress, serialLane } from './lib/util.js';
import { bareNotificationSignal, type bareOrder } from './workflows/bare-order.js';

/** The simulator's production stages after the order is received: one notification each, the last the shipment. */
export const NOTIFIED_STAGES = productionLifecycle;

export interface ArmResult {
  orders: number;
  ms: number;
  latenciesMs: number[];
  serverCpu: number;
  workerCpu: number;
  benchCpu: number;
  /** The D1 simulator's process (D1's stand-in, remote in production); NaN when not measured. */
  simulatorCpu: number;
}

/** Runs `placeAndFinish` over `count` orders and measures wall time, latencies and CPU of each party. */
export async function measureArm(
  context: BenchContext,
  worker: WorkerProcess,
  count: number,
  concurrency: number,
  place: (index: number) => Promise<() => Promise<void>>,
  simulatorPid?: number,
): Promise<ArmResult> {
  const [server0, worker0, simulator0] = await Promise.all([
    cpuSeconds(context.serverPid),
    cpuSeconds(worker.pid),
    cpuSeconds(simulatorPid),
  ]);
  const bench0 = process.cpuUsage();
  const started = Date.now();
  const latenciesMs: number[] = [];
  const finishing: Promise<void>[] = [];
  let done = 0;
  const ticker = setInterval(() => progress(`  ${worker.kind}: ${done}/${count} shipped`), 5_000);
  try {
    await mapBounded(
      Array.from({ length: count }, (_, i) => i),
      concurrency,
      async (index) => {
        const t0 = Date.now();
        const finish = await place(index);
        finishing.push(
          finish().then(() => {
            latenciesMs.push(Date.now() - t0);
            done += 1;
          }),
        );
      },
    );
    await Promise.all(finishing);
  } finally {
    clearInterval(ticker);
  }
  const ms = Date.now() - started;
  const bench = process.cpuUsage(bench0);
  const [server1, worker1, simulator1] = await Promise.all([
    cpuSeconds(context.serverPid),
    cpuSeconds(worker.pid),
    cpuSeconds(simulatorPid),
  ]);
  return {
    orders: count,
    ms,
    latenciesMs,
    serverCpu: (server1 ?? Number.NaN) - (server0 ?? Number.NaN),
    workerCpu: (worker1 ?? Number.NaN) - (worker0 ?? Number.NaN),
    benchCpu: (bench.user + bench.system) / 1e6,
    simulatorCpu: (simulator1 ?? Number.NaN) - (simulator0 ?? Number.NaN),
  };
}

function sum(results: ArmResult[]): ArmResult {
  return results.reduce((a, b) => ({
    orders: a.orders + b.orders,
    ms: a.ms + b.ms,
    latenciesMs: [...a.latenciesMs, ...b.latenciesMs],
    serverCpu: a.serverCpu + b.serverCpu,
    workerCpu: a.workerCpu + b.workerCpu,
    benchCpu: a.benchCpu + b.benchCpu,
    simulatorCpu: a.simulatorCpu + b.simulatorCpu,
  }));
}

export function cpuNote(arm: ArmResult): string {
  const per = (cpu: number) => (Number.isFinite(cpu) ? `${((cpu * 1000) / arm.orders).toFixed(1)} ms` : 'n/a');
  const busy = (cpu: number) => (Number.isFinite(cpu) ? `${((cpu * 100_000) / arm.ms).toFixed(0)}%` : 'n/a');
  return (
    `CPU per order: server ${per(arm.serverCpu)}, worker ${per(arm.workerCpu)}, bench process ${per(arm.benchCpu)}` +
    (Number.isFinite(arm.simulatorCpu) ? `, D1 simulator ${per(arm.simulatorCpu)}` : '') +
    ` (busy: server ${busy(arm.serverCpu)}, worker ${busy(arm.workerCpu)}, bench ${busy(arm.benchCpu)} of one core)`
  );
}

/**
 * Two cores bound both arms, and only ours pays D1's stand-in on them (the simulator, a process of its own): the CPU
 * per order of what we run (server, worker, client and webhook) against bare's is the ratio CPU alone allows.
 */
function withoutD1(ours: ArmResult, bare: ArmResult): string {
  const ms = (arm: ArmResult) => ((arm.serverCpu + arm.workerCpu + arm.benchCpu) * 1000) / arm.orders;
  const [o, b] = [ms(ours), ms(bare)];
  return `D1's stand-in apart, CPU per order ours ${o.toFixed(1)} ms, bare ${b.toFixed(1)} ms (bare's includes the lane that signals for D1, in the bench process): the throughput ratio CPU alone allows is ${(b / o).toFixed(2)}`;
}

export const benchmark: Benchmark = {
  id: 'P1',
  title: 'orders end to end, ours against the bare same-shape workflow',
  async run(context) {
    const { orders: total, stepMs, startConcurrency, quick } = context.options;
    const rounds = quick || total < 100 ? 1 : 2;
    const perRound = Math.ceil(total / rounds);
    // The simulator sends one batch at a time per issuer (so a card's reports keep their order); by default one
    // operation per POST, so both arms get one signal per notification.
    const NOTIFY_BATCH = { batchSize: context.options.notifyBatch, batchWindowMs: context.options.notifyWindowMs };
    const stack: Stack = await startStack(context, 'p1', { stepDelayMs: stepMs, faults: NOTIFY_BATCH });
    const bareQueue = `${stack.taskQueue}-bare`;
    const ours = spawnWorker('ours', { ...stack.workerEnv, WORKFLOW_BUNDLE_PATH: context.oursBundlePath });
    const bare = spawnWorker('bare', {
      ...stack.workerEnv,
      TEMPORAL_TASK_QUEUE: bareQueue,
      BENCH_BARE_BUNDLE: context.bareBundlePath,
    });
    try {
      await Promise.all([ours.firstPoll(context.client, stack.taskQueue), bare.firstPoll(context.client, bareQueue)]);
      let next = 0;
      const bareLane = serialLane();
      const placeOurs = async () => {
        const order = stack.newOrder(next++);
        await stack.client.orderCard(order);
        return async () => {
          const result = await stack.client.waitForOrder(order.issuerRequestId);
          if (result.status !== 'SHIPPED') throw new Error(`order ${order.issuerRequestId} ended ${result.status}`);
        };
      };
      const placeBare = async () => {
        const id = `bare-${context.runId}-${next++}`;
        const handle: WorkflowHandle<typeof bareOrder> = await stack.plain.workflow.start('bareOrder', {
          taskQueue: bareQueue,
          workflowId: id,
          args: [id, 0, { tellIssuer: 'each' }],
        });
        const base = Date.now();
        return async () => {
          // One signal per notification, at the simulator's pace (one production step every stepMs) and one at a
          // time across all orders, as the simulator's single queue per issuer posts them.
          for (const [k, stage] of NOTIFIED_STAGES.entries()) {
            const wait = base + k * stepMs - Date.now();
            if (wait > 0) await delay(wait);
            await bareLane(() => handle.signal(bareNotificationSignal, { stage, final: stage === 'CARD_SHIPPED' }));
          }
          await handle.result();
        };
      };

      const warmUp = Math.min(10, Math.max(2, Math.floor(total / 20)));
      progress(`warming up: ${warmUp} orders each`);
      await measureArm(context, ours, warmUp, startConcurrency, placeOurs, stack.simulator.pid);
      await measureArm(context, bare, warmUp, startConcurrency, placeBare);

      const oursRuns: ArmResult[] = [];
      const bareRuns: ArmResult[] = [];
      for (let round = 1; round <= rounds; round += 1) {
        progress(`round ${round}/${rounds}: ${perRound} orders of ours`);
        oursRuns.push(await measureArm(context, ours, perRound, startConcurrency, placeOurs, stack.simulator.pid));
        progress(`round ${round}/${rounds}: ${perRound} bare workflows`);
        bareRuns.push(await measureArm(context, bare, perRound, startConcurrency, placeBare));
      }
      const o = sum(oursRuns);
      const b = sum(bareRuns);

      progress('counting history events from the real histories');
      const [oursHistory, bareHistory] = await Promise.all([
        countHistories(context.client, stack.taskQueue),
        countHistories(context.client, bareQueue),
      ]);
      const rateO = perSecond(o.orders, o.ms);
      const rateB = perSecond(b.orders, b.ms);
      const setting = `${o.orders} orders per arm in ${rounds} alternating round(s), ${startConcurrency} starts in flight, simulator step ${stepMs} ms, simulator notifications ${NOTIFY_BATCH.batchSize} operation(s) per POST (window ${NOTIFY_BATCH.batchWindowMs} ms), one POST at a time; signals per order ours ${(oursHistory.byType.SIGNALED ?? 0).toFixed(1)}, bare ${(bareHistory.byType.SIGNALED ?? 0).toFixed(1)}`;
      return [
        entry(
          'P1 orders/s',
          'orders/s',
          rateO,
          rateB,
          'higher',
          { on: 'ratio', op: '>=', value: 0.9 },
          `${setting}; ours: ${cpuNote(o)}; bare: ${cpuNote(b)}; ${withoutD1(o, b)}`,
        ),
        entry(
          'P1 events/order',
          'events',
          oursHistory.eventsPerWorkflow,
          bareHistory.eventsPerWorkflow,
          'lower',
          { on: 'ratio', op: '<=', value: 1.2 },
          `counted over ${oursHistory.workflows} + ${bareHistory.workflows} real histories; ours: ${describeByType(oursHistory.byType)}; bare: ${describeByType(bareHistory.byType)}`,
        ),
        entry(
          'P1 p99 s',
          's',
          percentile(o.latenciesMs, 99) / 1000,
          percentile(b.latenciesMs, 99) / 1000,
          'lower',
          undefined,
          `start to SHIPPED; p50 ours ${(percentile(o.latenciesMs, 50) / 1000).toFixed(2)} s, bare ${(percentile(b.latenciesMs, 50) / 1000).toFixed(2)} s; the production itself takes ${(5 * stepMs) / 1000} s`,
        ),
      ];
    } finally {
      await Promise.all([ours.kill('SIGTERM'), bare.kill('SIGTERM')]);
      await stack.close();
    }
  },
};
