/**
 * P6, what an order really costs over its whole life: what an issuer pays Temporal (billable actions, history
 * events, workflow tasks, activities, timers) and D1 (calls) per order. Orders run through D1's real timeline with
 * every duration divided by one factor: five production stages {@link STAGE_HOURS} h apart (D1's notification for
 * each), then the 30-day delivery window with three carrier updates {@link STAGE_HOURS} h apart, on the order's
 * production timings (ORDER_* defaults, each divided by the factor too). Three variants: notifications delivered;
 * every notification lost (the order learns everything by polling); D1 down from just before the orders are placed
 * until two hours after their submit met it (every banking call answered 503, the status endpoint too). The counts
 * must not depend on the factor: the whole run is made at two factors and both are printed.
 *
 * Actions are the server's own count: its `action` counter on the Prometheus endpoint (Temporal server 1.17+),
 * summed over its labels for the run's namespace, read before and after each arm, as Temporal's guide to estimating
 * Cloud actions from a self-hosted server does. D1 calls are counted by the simulator (`apiCalls` of
 * `GET /__sim/stats`: every banking call, failed ones included; token calls apart).
 *
 * Baseline: the bare workflow of the same business shape (bench/workflows/bare-order.ts, `tellIssuer: 'each'`): one
 * activity for the submit, one signal per stage as D1's notifications come, the delivery window on one timer taking
 * the carrier updates as signals, and a no-op issuer-event activity wherever ours tells the issuer (after the submit,
 * at the first stage, at the shipment, at each carrier update, at the end: 7). The arms run one after the other, so
 * each one's actions are its own.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import { mapBounded } from '../common/bounded-concurrency.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import { startStack, type Stack } from './lib/stack.js';
import { simulatorStats } from './lib/simulator-process.js';
import { actionCount } from './lib/temporal.js';
import { entry, type BenchContext, type Benchmark } from './lib/types.js';
import { delay, progress, round, waitUntil } from './lib/util.js';
import { spawnWorker, type WorkerProcess } from './lib/worker-process.js';
import { bareNotificationSignal } from './workflows/bare-order.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/**
 * Hours between two production stages (five stages: about 4 days) and between two carrier updates. An order polls
 * at the latest 24 h (ORDER_POLL_MAX_INTERVAL) after its last news while D1's shipment date lies ahead: 20 h keeps
 * every notification 4 h clear of that poll, so the counts never hang on a race whatever the factor.
 */
const STAGE_HOURS = 20;
const STAGES = ['DATA_PREPARED', 'CARD_PROD_READY', 'CARD_PROD_ONGOING', 'CARD_PROD_DONE', 'CARD_SHIPPED'] as const;
const CARRIER_UPDATES = ['IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED'];
/** The delivery window (production's ORDER_DELIVERY_WINDOW); --quick: 4 days, room for the carrier updates. */
const WINDOW_DAYS = 30;
const QUICK_WINDOW_DAYS = 4;
/** The outage: from just before the orders are placed until 2 h (scaled) after every order's submit met it. */
const OUTAGE_MS = 2 * HOUR_MS;
/** Time divided by these (1 day: 1 s, then 2 s); --quick: the first alone (with the short window). */
const FACTORS = [86_400, 43_200];
const QUICK_FACTORS = [86_400];
const ORDERS = 5;
const QUICK_ORDERS = 2;
/**
 * The submit's activity retry policy (mustSucceedActivities in workflows/card-order/order-activities.ts): not scaled
 * by the factor, so its back-off is real time against the outage's scaled length.
 */
const SUBMIT_RETRY = { initialMs: 1_000, coefficient: 2, maxMs: 5 * 60_000 };

/** Retries of the submit's policy that come within `outageMs` (real) of the try that met the outage. */
function backOffStepsWithin(outageMs: number): number {
  let steps = 0;
  for (let at = SUBMIT_RETRY.initialMs, wait = SUBMIT_RETRY.initialMs; at < outageMs; steps += 1) {
    wait = Math.min(wait * SUBMIT_RETRY.coefficient, SUBMIT_RETRY.maxMs);
    at += wait;
  }
  return steps;
}

/**
 * The order's own back-off while D1 is unreachable (ORDER_D1_RETRY_TIMEOUT, then waits doubling up to
 * ORDER_D1_OUTAGE_MAX_INTERVAL, as `productionTimings` sets them), scaled with the outage: the tries after the first
 * that come within it.
 */
function orderBackOffStepsWithin(outageMs: number): number {
  const retryTimeoutMs = productionTimings.ORDER_D1_RETRY_TIMEOUT as number;
  const maxIntervalMs = productionTimings.ORDER_D1_OUTAGE_MAX_INTERVAL as number;
  let steps = 0;
  for (let at = retryTimeoutMs, wait = retryTimeoutMs; at + wait <= outageMs; steps += 1) {
    at += wait;
    wait = Math.min(wait * 2, maxIntervalMs);
  }
  return steps;
}

/**
 * Extra D1 calls the outage may cost: the try that meets it, and one per back-off step that fits in it, the submit
 * activity's (real time) and the order's own (scaled) alike; the call of a step may be the submit or a status poll.
 */
const outageAllowance = (factor: number) =>
  1 + backOffStepsWithin(OUTAGE_MS / factor) + orderBackOffStepsWithin(OUTAGE_MS);

/** The order's production timings (the ORDER_* defaults), to be divided by the factor. */
const productionTimings: Record<string, number> = {
  ORDER_NOTIFICATION_TIMEOUT: 4 * HOUR_MS,
  ORDER_POLL_INTERVAL: 4 * HOUR_MS,
  ORDER_POLL_MAX_INTERVAL: DAY_MS,
  ORDER_CHANGE_VERDICT_TIMEOUT: 15 * 60_000,
  ORDER_PRODUCTION_DEADLINE: 30 * DAY_MS,
  ORDER_OUT_OF_STOCK_REORDER_DELAY: HOUR_MS,
  ORDER_D1_RETRY_TIMEOUT: HOUR_MS,
  ORDER_D1_OUTAGE_MAX_INTERVAL: 6 * HOUR_MS,
  ISSUER_EVENTS_RETRY_INTERVAL: 60_000,
  ISSUER_EVENTS_MAX_RETRY_INTERVAL: 6 * HOUR_MS,
  ORDER_RESHIP_WAIT: 30 * DAY_MS,
};

type Variant = 'delivered' | 'lost' | 'outage';

/** Per order, mean over the arm's orders. */
interface Cost {
  events: number;
  workflowTasks: number;
  /** Activities scheduled (D1 calls, issuer events...). */
  activities: number;
  /** Local activities (markers). */
  localActivities: number;
  timers: number;
  /** Signals and updates taken. */
  messages: number;
  actions: number;
  d1Calls: number;
  /** How the workflows ended, e.g. `{"COMPLETED": 5}`. */
  ends: Record<string, number>;
  /** Activities scheduled per order, by type. */
  byType: Record<string, number>;
}

/** What the histories of `ids` hold, per workflow. */
async function historyCost(client: Client, ids: readonly string[]) {
  const sum = { events: 0, workflowTasks: 0, activities: 0, localActivities: 0, timers: 0, messages: 0 };
  const ends: Record<string, number> = {};
  const byType: Record<string, number> = {};
  await mapBounded(ids, 8, async (id) => {
    const handle = client.workflow.getHandle(id);
    const status = (await handle.describe()).status.name;
    ends[status] = (ends[status] ?? 0) + 1;
    const events = (await handle.fetchHistory()).events ?? [];
    sum.events += events.length;
    for (const e of events) {
      if (e.workflowTaskCompletedEventAttributes) sum.workflowTasks += 1;
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) {
        sum.activities += 1;
        const type = scheduled.activityType?.name ?? '?';
        byType[type] = (byType[type] ?? 0) + 1 / Math.max(ids.length, 1);
      }
      if (e.markerRecordedEventAttributes) sum.localActivities += 1;
      if (e.timerStartedEventAttributes) sum.timers += 1;
      if (e.workflowExecutionSignaledEventAttributes || e.workflowExecutionUpdateAcceptedEventAttributes) {
        sum.messages += 1;
      }
    }
  });
  const n = Math.max(ids.length, 1);
  return {
    events: sum.events / n,
    workflowTasks: sum.workflowTasks / n,
    activities: sum.activities / n,
    localActivities: sum.localActivities / n,
    timers: sum.timers / n,
    messages: sum.messages / n,
    ends,
    byType: Object.fromEntries(Object.entries(byType).map(([type, per]) => [type, round(per, 2)])),
  };
}

/** Waits until none of `ids` runs any more. */
async function waitClosed(client: Client, ids: readonly string[], timeoutMs: number, what: string): Promise<void> {
  let open = [...ids];
  await waitUntil(
    async () => {
      const still: string[] = [];
      await mapBounded(open, 8, async (id) => {
        if ((await client.workflow.getHandle(id).describe()).status.name === 'RUNNING') still.push(id);
      });
      open = still;
      return open.length === 0;
    },
    { timeoutMs, intervalMs: 500, what },
  );
}

async function simulatorApiCalls(stack: Stack): Promise<number> {
  return (await simulatorStats(stack.simulator)).apiCalls;
}

interface FactorRun {
  factor: number;
  bare: Cost;
  ours: Record<Variant, Cost>;
  /** Submit calls (the single-card order endpoint) answered 503 during the outage, per order. */
  outageSubmits: number;
}

async function runFactor(context: BenchContext, factor: number): Promise<FactorRun> {
  const { quick } = context.options;
  const count = quick ? QUICK_ORDERS : ORDERS;
  const scaled = (ms: number) => Math.max(1, Math.round(ms / factor));
  const stageMs = scaled(STAGE_HOURS * HOUR_MS);
  const windowMs = scaled((quick ? QUICK_WINDOW_DAYS : WINDOW_DAYS) * DAY_MS);
  const lifeMs = stageMs * STAGES.length + windowMs;
  const env = Object.fromEntries([
    ...Object.entries(productionTimings).map(([key, ms]) => [key, `${scaled(ms)}ms`]),
    ['ORDER_DELIVERY_WINDOW', `${windowMs}ms`],
  ]) as Record<string, string>;
  const stack = await startStack(context, `p6f${factor}`, {
    stepDelayMs: stageMs,
    faults: { shipmentUpdates: CARRIER_UPDATES },
    env,
  });
  const bareQueue = `${stack.taskQueue}-bare`;
  const workers: WorkerProcess[] = [];
  const { namespace, metricsUrl } = context;
  let nextIndex = 0;
  let outageSubmits = 0;
  try {
    const ours = spawnWorker('ours', { ...stack.workerEnv, WORKFLOW_BUNDLE_PATH: context.oursBundlePath });
    workers.push(ours);
    await ours.firstPoll(context.client, stack.taskQueue);
    const bare = spawnWorker('bare', {
      ...stack.workerEnv,
      TEMPORAL_TASK_QUEUE: bareQueue,
      BENCH_BARE_BUNDLE: context.bareBundlePath,
    });
    workers.push(bare);
    await bare.firstPoll(context.client, bareQueue);

    /** One arm: `body` starts the workflows and returns their ids; its actions and D1 calls are counted around it. */
    const arm = async (name: string, body: () => Promise<string[]>): Promise<Cost> => {
      progress(`  factor ${factor}: ${name}, ${count} orders, about ${(lifeMs / 1000).toFixed(0)} s each`);
      await delay(1_000);
      const actions0 = await actionCount(metricsUrl, namespace);
      const calls0 = await simulatorApiCalls(stack);
      const ids = await body();
      await waitClosed(context.client, ids, lifeMs * 4 + 120_000, `the ${name} workflows to end`);
      // The last completions are counted by the time the server answered; a moment for the scrape to see them.
      await delay(1_000);
      const actions1 = await actionCount(metricsUrl, namespace);
      const calls1 = await simulatorApiCalls(stack);
      const cost = await historyCost(context.client, ids);
      return {
        ...cost,
        actions: actions0 === undefined || actions1 === undefined ? Number.NaN : (actions1 - actions0) / ids.length,
        d1Calls: (calls1 - calls0) / ids.length,
      };
    };

    const oursArm = (variant: Variant) =>
      arm(`ours, ${variant}`, async () => {
        if (variant === 'lost') await stack.simulatorFaults({ dropNotificationRate: 1 });
        const indexes = Array.from({ length: count }, () => nextIndex++);
        let submits0 = 0;
        if (variant === 'outage') {
          await stack.simulatorFaults({ errorRate: 1, statusFault: 'UNAVAILABLE' });
          submits0 = (await simulatorStats(stack.simulator)).orderRequests;
        }
        const ids = await mapBounded(indexes, count, async (index) => {
          const order = stack.newOrder(index);
          await stack.client.orderCard(order);
          return cardOrderWorkflowId(order.issuerId, order.issuerRequestId);
        });
        if (variant === 'outage') {
          // 2 h scaled is shorter than placing an order takes (83 ms at a day per second): the 2 h run from the
          // moment every order's submit has met the outage, so each order sees D1 down for 2 h of its timeline.
          await waitUntil(async () => (await simulatorStats(stack.simulator)).orderRequests - submits0 >= count, {
            timeoutMs: 60_000,
            intervalMs: 5,
            what: 'every submit to meet the outage',
          });
          await delay(scaled(OUTAGE_MS));
          outageSubmits = ((await simulatorStats(stack.simulator)).orderRequests - submits0) / count;
          await stack.simulatorFaults({ errorRate: 0, statusFault: 'NONE' });
        }
        return ids;
      }).finally(() =>
        variant === 'lost'
          ? stack.simulatorFaults({ dropNotificationRate: 0 })
          : variant === 'outage'
            ? stack.simulatorFaults({ errorRate: 0, statusFault: 'NONE' })
            : undefined,
      );

    const bareCost = await arm('bare', async () => {
      const ids = Array.from({ length: count }, (_, i) => `bare-p6-${context.runId}-${factor}-${i}`);
      await mapBounded(ids, count, (id) =>
        stack.plain.workflow.start('bareOrder', {
          taskQueue: bareQueue,
          workflowId: id,
          args: [id, windowMs, { tellIssuer: 'each' }],
        }),
      );
      // D1's timeline, as signals: the stages, then the carrier updates.
      const signal = (stage: string, final: boolean) =>
        mapBounded(ids, count, (id) =>
          stack.plain.workflow.getHandle(id).signal(bareNotificationSignal, { stage, final }),
        );
      for (const stage of STAGES) {
        await delay(stageMs);
        await signal(stage, stage === 'CARD_SHIPPED');
      }
      for (const status of CARRIER_UPDATES) {
        await delay(stageMs);
        await signal(`CARD_SHIPPED ${status}`, false);
      }
      return ids;
    });
    const delivered = await oursArm('delivered');
    const lost = await oursArm('lost');
    const outage = await oursArm('outage');
    return { factor, bare: bareCost, ours: { delivered, lost, outage }, outageSubmits };
  } finally {
    for (const w of workers) await w.kill('SIGKILL');
    await stack.close();
  }
}

const describeCost = (c: Cost) =>
  `${round(c.events, 1)} events, ${round(c.workflowTasks, 1)} workflow tasks, ${round(c.activities, 1)} activities ` +
  `(+${round(c.localActivities, 1)} local), ${round(c.timers, 1)} timers, ${round(c.messages, 1)} signals/updates, ` +
  `${round(c.actions, 1)} actions, ${round(c.d1Calls, 2)} D1 calls; activities ${JSON.stringify(c.byType)}; ` +
  `ended ${JSON.stringify(c.ends)}`;

/** One line per arm and factor, for the detail of the entries and docs/performance.md. */
function runSummary(runs: readonly FactorRun[]): string {
  return runs
    .map(
      (r) =>
        `factor ${r.factor}: bare ${describeCost(r.bare)} | ours delivered ${describeCost(r.ours.delivered)} | ` +
        `ours lost ${describeCost(r.ours.lost)} | ours outage ${describeCost(r.ours.outage)} ` +
        `(${round(r.outageSubmits, 2)} submit tries per order answered 503)`,
    )
    .join(' || ');
}

export const benchmark: Benchmark = {
  id: 'P6',
  title: "an order's whole life: Temporal actions and D1 calls per order, notifications delivered, lost, D1 down",
  async run(context) {
    const factors = context.options.quick ? QUICK_FACTORS : FACTORS;
    const runs: FactorRun[] = [];
    for (const factor of factors) {
      const run = await runFactor(context, factor);
      progress(`  factor ${factor}: ${runSummary([run])}`);
      runs.push(run);
    }
    const [first] = runs as [FactorRun, ...FactorRun[]];
    const { bare, ours } = first;
    const across = (pick: (r: FactorRun) => number) => runs.map((r) => round(pick(r), 2)).join(' / ');
    const factorsNote = `factors ${factors.join(' / ')}`;
    const summary = runSummary(runs);
    const actionsKnown = context.metricsUrl !== undefined;
    return [
      entry(
        'P6 events/order',
        'events',
        ours.delivered.events,
        bare.events,
        'lower',
        { on: 'ratio', op: '<=', value: 1.2 },
        `notifications delivered: history events per order over its whole life (${factorsNote}: ours ${across((r) => r.ours.delivered.events)}, bare ${across((r) => r.bare.events)}); bare: a no-op submit activity, the stages and carrier updates as signals, the window on one timer, and a no-op issuer-event activity wherever ours tells the issuer (after the submit, at the first stage, at the shipment, at each carrier update, at the end: ${across((r) => r.bare.byType.bareIssuerEvent ?? 0)} per order); ${summary}`,
      ),
      entry(
        'P6 actions/order',
        'actions',
        ours.delivered.actions,
        bare.actions,
        'lower',
        { on: 'ratio', op: '<=', value: 1.2 },
        actionsKnown
          ? `notifications delivered: the server's action counter (summed over labels, namespace ${context.namespace}) before and after each arm, per order (${factorsNote}: ours ${across((r) => r.ours.delivered.actions)}, bare ${across((r) => r.bare.actions)})`
          : 'no metrics endpoint for the server (--temporal-metrics): actions not counted',
      ),
      entry(
        'P6 D1 calls/order',
        'calls',
        ours.delivered.d1Calls,
        bare.byType.bareSubmit ?? Number.NaN,
        'lower',
        { on: 'ours', op: '<=', value: 5 },
        `notifications delivered: banking calls D1 received per order, counted by the simulator; baseline: the bare workflow's submit (${factorsNote}: ours ${across((r) => r.ours.delivered.d1Calls)})`,
      ),
      entry(
        'P6 D1 calls/order, notifications lost',
        'calls',
        ours.lost.d1Calls,
        ours.delivered.d1Calls,
        'lower',
        { on: 'ours', op: '<=', value: 40 },
        `every notification lost, the order polls: D1 calls per order; baseline: the same with notifications delivered (${factorsNote}: ${across((r) => r.ours.lost.d1Calls)})`,
      ),
      entry(
        'P6 D1 calls/order, D1 outage',
        'calls',
        ours.outage.d1Calls,
        ours.delivered.d1Calls,
        'lower',
        { on: 'ours', op: '<=', value: round(ours.delivered.d1Calls + outageAllowance(first.factor), 2) },
        `notifications delivered, D1 down (503, status endpoint too) from just before the orders are placed until 2 h of the order's timeline after every order's submit met it (submit tries per order answered 503: ${across((r) => r.outageSubmits)}): D1 calls per order; baseline: without the outage; target: at most ${outageAllowance(first.factor)} more: the try that meets it, and one per back-off step of the submit's activity retry policy (1 s, x2, at most 5 min, not scaled) that fits in the outage's real length (${runs.map((r) => `${round(OUTAGE_MS / r.factor, 0)} ms: ${backOffStepsWithin(OUTAGE_MS / r.factor)}`).join(' / ')}), and one per wait of the order's own while D1 is unreachable (ORDER_D1_RETRY_TIMEOUT 1 h, then doubling, scaled) that ends within the 2 h (${orderBackOffStepsWithin(OUTAGE_MS)}); a step's call is the submit again or a status poll (${factorsNote}: ${across((r) => r.ours.outage.d1Calls)})`,
      ),
    ];
  },
};
