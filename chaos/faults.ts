/**
 * The fault plan, played while orders run: seeded loops that SIGKILL the workers every few seconds (now and then
 * all of them), kill the webhook replicas and the Temporal server (and, on the stack, PostgreSQL) and start them
 * again, storm the D1 simulator
 * (503s, 429s with Retry-After, calls held until the client gives up, duplicated and reordered notifications) and
 * take D1 down for longer than ORDER_D1_RETRY_TIMEOUT once. Each loop has its own random stream, so the plan of one
 * does not depend on how long another's steps took.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { SeededRandom } from './random.js';
import type { SimulatorControl, Storm } from './simulator-control.js';
import type { ChaosSystem } from './system.js';

/** The kinds of fault the plan injects, in the report's order. */
export const faultKinds = [
  'worker-kill',
  'all-workers-kill',
  'webhook-kill',
  'temporal-kill',
  'postgres-kill',
  'd1-storm',
  'd1-outage',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface InjectedFault {
  kind: FaultKind;
  /** The process killed, or the storm's knobs. */
  target: string;
  /** Seconds since the run started. */
  atS: number;
  /** How long the process was down, or the storm lasted, in seconds. */
  forS: number;
}

export interface FaultPlanOptions {
  system: ChaosSystem;
  simulator: SimulatorControl;
  random: SeededRandom;
  startedAt: number;
  /** Faults stop when it aborts. */
  signal: AbortSignal;
  /** How long an outage lasts: longer than ORDER_D1_RETRY_TIMEOUT. */
  outageMs: number;
  /** When in the run the outage begins, in ms from the start. */
  outageAtMs: number;
}

/** The storms drawn from: each a mix of the simulator's failure knobs. */
const storms: readonly Storm[] = [
  { errorRate: 0.3 },
  { rateLimitRate: 0.3, retryAfterSeconds: 2 },
  { timeoutRate: 0.15 },
  { duplicateNotificationRate: 0.5, reorderNotifications: true, batchSize: 10, batchWindowMs: 1_000 },
  { errorRate: 0.2, rateLimitRate: 0.2, retryAfterSeconds: 1, duplicateNotificationRate: 0.3 },
];

const describeStorm = (storm: Storm) =>
  Object.entries(storm)
    .map(([knob, value]) => `${knob}=${String(value)}`)
    .join(' ');

/** Plays the plan until `signal` aborts; resolves with what was injected, once every process is back. */
export async function injectFaults(options: FaultPlanOptions): Promise<InjectedFault[]> {
  const { system, simulator, random, startedAt, signal } = options;
  const injected: InjectedFault[] = [];
  const atS = () => Math.round((Date.now() - startedAt) / 1000);
  /** Waits `ms`; false when the plan ended first. */
  const wait = (ms: number): Promise<boolean> => delay<boolean>(ms, true, { signal }).catch(() => false);
  const down = async (
    kind: FaultKind,
    names: readonly string[],
    forMs: number,
    { kill, start }: { kill: (name: string) => Promise<void>; start: (name: string) => Promise<void> },
  ) => {
    const at = atS();
    await Promise.all(names.map(kill));
    // Back up even when the plan ends meanwhile: the orders still need every process.
    await delay(forMs);
    await Promise.all(names.map(start));
    injected.push({ kind, target: names.join(' '), atS: at, forS: Math.round(forMs / 100) / 10 });
  };
  const ours = {
    kill: (name: string) => system.processes.kill(name),
    start: (name: string) => {
      if (!system.processes.isRunning(name)) system.processes.restart(name);
      return Promise.resolve();
    },
  };
  const backend = {
    kill: (name: string) => system.temporal.kill(name),
    start: (name: string) => system.temporal.start(name),
  };

  const workerKills = async (stream: SeededRandom) => {
    while (await wait(stream.between(3_000, 8_000))) {
      const all = stream.chance(0.15);
      const names = all ? system.workers : [stream.pick(system.workers)];
      await down(all ? 'all-workers-kill' : 'worker-kill', names, stream.between(500, 3_000), ours);
    }
  };
  const webhookKills = async (stream: SeededRandom) => {
    while (await wait(stream.between(8_000, 20_000))) {
      const names = [stream.pick(system.webhooks)];
      await down('webhook-kill', names, stream.between(1_000, 5_000), ours);
    }
  };
  // Temporal's processes in turn (the server, then PostgreSQL on the stack), the first soon enough for a quick run.
  const temporalKills = async (stream: SeededRandom) => {
    for (let i = 0; await wait(i === 0 ? stream.between(15_000, 30_000) : stream.between(25_000, 50_000)); i++) {
      const name = system.temporal.processes[i % system.temporal.processes.length] ?? 'temporal';
      await down(
        name === 'postgres' ? 'postgres-kill' : 'temporal-kill',
        [name],
        stream.between(2_000, 6_000),
        backend,
      );
    }
  };
  const d1Storms = async (stream: SeededRandom) => {
    while (await wait(stream.between(8_000, 20_000))) {
      const storm = stream.pick(storms);
      const forMs = stream.between(5_000, 15_000);
      const at = atS();
      await simulator.storm(storm);
      await delay(forMs);
      await simulator.storm({});
      injected.push({ kind: 'd1-storm', target: describeStorm(storm), atS: at, forS: Math.round(forMs / 100) / 10 });
    }
  };
  const d1Outage = async () => {
    if (!(await wait(options.outageAtMs))) return;
    const at = atS();
    await simulator.outage(true);
    await delay(options.outageMs);
    await simulator.outage(false);
    injected.push({
      kind: 'd1-outage',
      target: 'every banking call 503',
      atS: at,
      forS: Math.round(options.outageMs / 100) / 10,
    });
  };

  await Promise.all([
    workerKills(random.fork('workers')),
    webhookKills(random.fork('webhooks')),
    temporalKills(random.fork('temporal')),
    d1Storms(random.fork('storms')),
    d1Outage(),
  ]);
  return injected.sort((a, b) => a.atS - b.atS);
}

/** Faults injected, by kind. */
export function countFaults(injected: readonly InjectedFault[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(faultKinds.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  for (const fault of injected) counts[fault.kind] += 1;
  return counts;
}
