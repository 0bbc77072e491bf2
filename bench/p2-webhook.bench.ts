/**
 * P2, the webhook: notifications per second through our webhook (token check, validation, routing, signal), one
 * operation per POST as D1 sends them, against the raw rate of the same signals sent by a Temporal client (the
 * same client and codec the webhook uses) to the same parked workflows, in alternating rounds at the same
 * concurrency. Every notification is distinct (numbered), so its signal's request id is its own and the server
 * deduplicates none: both arms cost the server one signal each (signals to an order with a task pending share its
 * next task, alike in both arms). Each arm starts once the
 * workers have taken every signal sent before it, and so do the latency phases: at an eighth and at half the
 * webhook's saturation rate, the time from a POST to the order's state change (the issuer event it causes), with the
 * server's CPU per state change; every answer outside 2xx counted.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import type { Operation } from '../d1/report-schemas.js';
import { d1NotificationSignal } from '../rules/contracts/card-order.js';
import { parkOrders, reportOf, WebhookPoster, type ParkedOrder } from './lib/parking.js';
import { startStack, type Stack } from './lib/stack.js';
import { cpuSeconds } from './lib/temporal.js';
import { entry, type Benchmark } from './lib/types.js';
import { spawnWorker } from './lib/worker-process.js';
import { mapBounded } from '../common/bounded-concurrency.js';
import { delay, percentile, perSecond, progress, waitUntil } from './lib/util.js';

const HOUR_MS = 3_600_000;

/**
 * Waits until no order has a workflow task scheduled or running: every signal sent so far has been applied (a signal
 * to a workflow with no pending task schedules one).
 */
async function drained(client: Client, orders: readonly ParkedOrder[]): Promise<void> {
  await waitUntil(
    async () => {
      const pending = await mapBounded(orders, 32, async (order) => {
        const { raw } = await client.workflow.getHandle(order.workflowId).describe();
        return raw.pendingWorkflowTask ? 1 : 0;
      });
      return pending.every((p) => p === 0);
    },
    { timeoutMs: 600_000, intervalMs: 250, what: "the orders' workflow tasks to drain" },
  );
}

/** Signals in the orders' histories, all together: a deduplicated signal writes none. */
async function signalsTaken(client: Client, orders: readonly ParkedOrder[]): Promise<number> {
  const counts = await mapBounded(orders, 16, async (order) => {
    const { events } = await client.workflow.getHandle(order.workflowId).fetchHistory();
    return (events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  });
  return counts.reduce((a, b) => a + b, 0);
}

export const benchmark: Benchmark = {
  id: 'P2',
  title: 'webhook notifications against raw client signals',
  async run(context) {
    const { webhookOrders, notifications, webhookConcurrency, quick } = context.options;
    const rounds = quick ? 1 : 2;
    const stack = await startStack(context, 'p2', { stepDelayMs: HOUR_MS });
    const worker = spawnWorker('ours', { ...stack.workerEnv, WORKFLOW_BUNDLE_PATH: context.oursBundlePath });
    const poster = new WebhookPoster(stack.webhook.url, webhookConcurrency);
    try {
      await worker.firstPoll(context.client, stack.taskQueue);
      progress(`parking ${webhookOrders} orders`);
      const parked = await parkOrders(context, stack, webhookOrders);
      await poster.fetchToken();
      // Each order's first report again, made distinct by a number the order ignores (D1's schema keeps extra fields):
      // its own request id, so a full trip (validation, signal, workflow task) that changes nothing, never deduplicated.
      let sequence = 0;
      const batch = () =>
        Array.from({ length: notifications }, (_, i) => {
          const order = parked[i % parked.length] as ParkedOrder;
          const operation: Operation = { ...reportOf(order, 'CARD_PROD_REQUESTED'), benchSequence: (sequence += 1) };
          return { order, operation };
        });

      const viaWebhook = async (sends: ReturnType<typeof batch>) => {
        const started = Date.now();
        await mapBounded(sends, webhookConcurrency, ({ order, operation }) => poster.post(order.issuerId, [operation]));
        return Date.now() - started;
      };
      const viaClient = async (sends: ReturnType<typeof batch>) => {
        const started = Date.now();
        await mapBounded(sends, webhookConcurrency, ({ order, operation }) =>
          stack.client.temporal.workflow
            .getHandle(order.workflowId)
            .signal(d1NotificationSignal, { operations: [operation] }),
        );
        return Date.now() - started;
      };
      let webhookMs = 0;
      let clientMs = 0;
      // CPU of this process (webhook, the poster standing in for D1, the Temporal client) and of the server.
      let webhookCpu = 0;
      let clientCpu = 0;
      let webhookServerCpu = 0;
      let clientServerCpu = 0;
      const timed = async (arm: (sends: ReturnType<typeof batch>) => Promise<number>) => {
        const sends = batch();
        // Neither arm starts with the other's signals still queued for the worker.
        await drained(context.client, parked);
        const [server0, cpu0] = [await cpuSeconds(context.serverPid), process.cpuUsage()];
        const ms = await arm(sends);
        const cpu = process.cpuUsage(cpu0);
        const server1 = await cpuSeconds(context.serverPid);
        return { ms, cpu: (cpu.user + cpu.system) / 1e6, server: (server1 ?? Number.NaN) - (server0 ?? Number.NaN) };
      };
      const signals0 = await signalsTaken(context.client, parked);
      for (let round = 1; round <= rounds; round += 1) {
        progress(`round ${round}/${rounds}: ${notifications} notifications through the webhook`);
        const w = await timed(viaWebhook);
        webhookMs += w.ms;
        webhookCpu += w.cpu;
        webhookServerCpu += w.server;
        progress(`round ${round}/${rounds}: ${notifications} raw signals`);
        const c = await timed(viaClient);
        clientMs += c.ms;
        clientCpu += c.cpu;
        clientServerCpu += c.server;
      }
      const perNotification = (cpu: number) => `${((cpu * 1000) / (notifications * rounds)).toFixed(2)} ms`;
      const cpuNote = `CPU per notification: bench process (webhook + poster + client) ${perNotification(webhookCpu)} against ${perNotification(clientCpu)} for raw signals; server ${perNotification(webhookServerCpu)} against ${perNotification(clientServerCpu)}`;
      const webhookRate = perSecond(notifications * rounds, webhookMs);
      const clientRate = perSecond(notifications * rounds, clientMs);

      // Latency: each order moves to DATA_PREPARED once (SUBMITTED -> IN_PRODUCTION), which the issuer hears as a
      // status-changed event. Half the orders at a light pace (an eighth of saturation) show the path's own time;
      // the other half at half the webhook's saturation show it under load, with the server's CPU per state change
      // (a state change costs a signal's task, an upsert, an issuer-event activity and the task its end wakes).
      const pace = webhookRate / 2;
      const lightPace = webhookRate / 8;
      await drained(context.client, parked);
      const signalsInHistories = (await signalsTaken(context.client, parked)) - signals0;
      const half = Math.floor(parked.length / 2);
      progress(`latency: ${half} state changes at ${lightPace.toFixed(0)}/s (an eighth of the webhook's saturation)`);
      const light = await stateChangeLatencies(stack, poster, parked.slice(0, half), lightPace);
      await drained(context.client, parked);
      progress(
        `latency: ${parked.length - half} state changes at ${pace.toFixed(0)}/s (half the webhook's saturation)`,
      );
      const loadedServer0 = await cpuSeconds(context.serverPid);
      const loaded = await stateChangeLatencies(stack, poster, parked.slice(half), pace);
      await drained(context.client, parked);
      const loadedServerCpu = ((await cpuSeconds(context.serverPid)) ?? Number.NaN) - (loadedServer0 ?? Number.NaN);
      const seconds = (ms: number) => (ms / 1000).toFixed(3);
      const latencyNote = (name: string, rate: number, r: { latencies: number[]; orders: number }) =>
        `${name} (${rate.toFixed(0)}/s) POST to state change p50 ${seconds(percentile(r.latencies, 50))} s, p99 ${seconds(percentile(r.latencies, 99))} s (${r.latencies.length}/${r.orders} seen)`;
      const stateChangeCpu = `server CPU per state change under load ${((loadedServerCpu * 1000) / Math.max(loaded.orders, 1)).toFixed(1)} ms (so the server alone sustains about ${(loaded.orders / Math.max(loadedServerCpu, 1e-9)).toFixed(0)} state changes per CPU-second)`;
      const nonSuccess = poster.nonSuccessCount();
      return [
        entry(
          'P2 notifications/s',
          'notifications/s',
          webhookRate,
          clientRate,
          'higher',
          { on: 'ratio', op: '>=', value: 0.8 },
          `${notifications} notifications per arm and round, ${rounds} alternating round(s), ${webhookConcurrency} in flight, one operation per POST (ours) or signal (raw), to ${parked.length} parked orders (worker running); every notification distinct (each order's CARD_PROD_REQUESTED report with its own benchSequence number, so its own signal request id: none deduplicated by the server), the raw arm the same ${notifications} signals per round; the orders' histories took ${signalsInHistories} signals of the ${2 * notifications * rounds} sent; each arm and the latency phase start once no order has a workflow task pending; ${latencyNote('at an eighth of saturation', lightPace, light)}; ${latencyNote('at half saturation', pace, loaded)}; ${stateChangeCpu}; ${cpuNote}; non-2xx answers: ${nonSuccess}${nonSuccess > 0 ? ` (${JSON.stringify(Object.fromEntries(poster.failures))}); target 0 non-2xx: MISS` : ''}`,
        ),
      ];
    } finally {
      await poster.close();
      await worker.kill('SIGTERM');
      await stack.close();
    }
  },
};

/** Posts each order's DATA_PREPARED at `pace` per second; the time from each POST to the issuer event it causes. */
async function stateChangeLatencies(
  stack: Stack,
  poster: WebhookPoster,
  orders: ParkedOrder[],
  pace: number,
): Promise<{ latencies: number[]; orders: number }> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const stop = stack.events.onEvent((event) => {
    const t0 = sentAt.get(event.workflowId);
    if (event.type === 'status-changed' && t0 !== undefined) {
      latencies.push(event.at - t0);
      sentAt.delete(event.workflowId);
    }
  });
  try {
    const posts: Promise<number>[] = [];
    const began = Date.now();
    for (const [i, order] of orders.entries()) {
      const wait = began + (i * 1000) / pace - Date.now();
      if (wait > 0) await delay(wait);
      sentAt.set(order.workflowId, Date.now());
      posts.push(poster.post(order.issuerId, [reportOf(order, 'DATA_PREPARED')]));
    }
    await Promise.all(posts);
    const deadline = Date.now() + 60_000;
    while (latencies.length < orders.length && Date.now() < deadline) await delay(100);
    return { latencies, orders: orders.length };
  } finally {
    stop();
  }
}
