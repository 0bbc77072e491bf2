/**
 * Puts a running workflow into the situation of the stuck cancel (shared/evidence/chaos-nondeterminism) on purpose:
 * the workflow task after a quiet point times out because its worker died, and one fresh task then carries an
 * activity completion, a signal and an update together. The history that comes out is replayed offline with
 * `Worker.runReplayHistory`, which is where that order went wrong.
 *
 * 1. A workflow worker runs in a child process (`spawnWorkflowWorker`, or any `startWorker`) until the workflow is
 *    quiet (`settled`, e.g. its activity started), then dies by SIGKILL: its sticky queue is gone, nobody says so.
 * 2. With no workflow worker running: the activity completes, the signal arrives, the update is admitted.
 * 3. The task the activity completion scheduled on the dead worker's sticky queue times out (schedule-to-start).
 * 4. A fresh worker takes the rescheduled task, which now holds all three; the helper waits for that task to end.
 * 5. The history is fetched and replayed.
 *
 * This file is also the child worker's entry point (`--stale-task-worker`), so it imports nothing of the project.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WorkflowUpdateStage, type Client } from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundle,
  type WorkflowBundlePath,
} from '@temporalio/worker';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type History = temporal.api.history.v1.IHistory;
const { EventType, UpdateWorkflowExecutionLifecycleStage } = proto.temporal.api.enums.v1;

const WORKER_FLAG = '--stale-task-worker';
const thisFile = fileURLToPath(import.meta.url);

/** A running workflow worker the helper can kill (SIGKILL, no goodbye) or stop (gracefully). */
export interface WorkflowWorkerHandle {
  /** The identity the worker reports, as it shows in history (`WorkflowTaskStarted.identity`). */
  readonly identity: string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** What the child worker process needs; passed as JSON in its environment. */
interface ChildWorkerConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  bundlePath: string;
  identity: string;
  stickyQueueScheduleToStartTimeoutMs: number;
}

export interface SpawnWorkflowWorkerOptions {
  address: string;
  namespace?: string;
  taskQueue: string;
  /** The workflow bundle as a file: `{ codePath }` (see `workflowBundleFile`). */
  bundlePath: string;
  identity?: string;
  /** How long a task waits on this worker's sticky queue once the worker is gone; short keeps tests fast. */
  stickyQueueScheduleToStartTimeoutMs?: number;
}

/**
 * Starts a workflow-only worker (no activities) in a child process and resolves once it polls. The child is this
 * very file run with `--stale-task-worker`.
 */
export async function spawnWorkflowWorker(options: SpawnWorkflowWorkerOptions): Promise<WorkflowWorkerHandle> {
  const identity = options.identity ?? `stale-task-worker-${randomUUID()}`;
  const config: ChildWorkerConfig = {
    address: options.address,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    bundlePath: options.bundlePath,
    identity,
    stickyQueueScheduleToStartTimeoutMs: options.stickyQueueScheduleToStartTimeoutMs ?? 1_000,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', thisFile, WORKER_FLAG], {
    env: { ...process.env, STALE_TASK_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') resolve();
    });
  });
  const outcome = await Promise.race([ready.then(() => 'ready' as const), exited.then(() => 'exited' as const)]);
  if (outcome === 'exited') {
    throw new Error(`workflow worker ${identity} exited before polling:\n${stderr.join('\n')}`);
  }
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { identity, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

/** The bundle as a file a child process can load, and a function that removes that file when it was written here. */
export async function workflowBundleFile(
  bundle: WorkflowBundle | WorkflowBundlePath,
): Promise<{ bundlePath: string; cleanup: () => Promise<void> }> {
  if ('codePath' in bundle) return { bundlePath: bundle.codePath, cleanup: async () => {} };
  const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'stale-task-bundle-'));
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  await writeFile(bundlePath, bundle.code);
  return { bundlePath, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Sends an update and resolves as soon as the server has admitted it, with no worker running. The update call goes
 * on in the background (the client waits for a worker to accept it); `accepted` settles when it does or fails, and
 * never rejects. Read the update's outcome with `getUpdateHandle(updateId).result()`.
 */
export async function sendUpdateAdmitted(
  client: Client,
  {
    workflowId,
    name,
    args = [],
    updateId = randomUUID(),
  }: { workflowId: string; name: string; args?: unknown[]; updateId?: string },
  { timeoutMs = 10_000 } = {},
): Promise<{ updateId: string; accepted: Promise<unknown> }> {
  const accepted = client.workflow
    .getHandle(workflowId)
    .startUpdate<unknown, [unknown, ...unknown[]]>(name, {
      args: args as [unknown, ...unknown[]],
      updateId,
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    })
    .catch((err: unknown) => err);
  // The server cannot answer an update call at the admitted stage, but a poll for that stage answers at once once
  // the update is there (NOT_FOUND before): the request and the poll race only by the network round trip.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflowService.pollWorkflowExecutionUpdate({
        namespace: client.options.namespace,
        updateRef: { workflowExecution: { workflowId }, updateId },
        identity: client.options.identity,
        waitPolicy: {
          lifecycleStage: UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED,
        },
      });
      return { updateId, accepted };
    } catch (err) {
      if (!isGrpcNotFound(err) || Date.now() > deadline) throw err;
      await delay(20);
    }
  }
}

function isGrpcNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === grpcStatus.NOT_FOUND;
}

/**
 * Long-polls the workflow's history until an event matches (no sleeps: the server answers when events arrive).
 * Returns the matching event; fails after `timeoutMs` or when the history ends without one.
 */
export async function waitForHistoryEvent(
  client: Client,
  workflowId: string,
  matches: (event: HistoryEvent) => boolean,
  { timeoutMs = 30_000, what = 'a history event' } = {},
): Promise<HistoryEvent> {
  const deadline = Date.now() + timeoutMs;
  let nextPageToken: Uint8Array | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} in ${workflowId}`);
    const response = await client.withAbortSignal(AbortSignal.timeout(left), () =>
      client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId },
        waitNewEvent: true,
        nextPageToken,
      }),
    );
    const found = response.history?.events?.find(matches);
    if (found) return found;
    if (!response.nextPageToken?.length) throw new Error(`${workflowId} ended without ${what}`);
    nextPageToken = response.nextPageToken;
  }
}

const eventId = (event: HistoryEvent): number => Number(event.eventId ?? 0);

export interface StaleWorkflowTaskOptions {
  client: Client;
  /** The workflow task queue the workers poll. */
  taskQueue: string;
  /** A workflow already started on `taskQueue` (nothing polls it yet). */
  workflowId: string;
  /** Starts a workflow worker on `taskQueue`; called twice: the one that dies, then the fresh one. */
  startWorker: (role: 'killed' | 'fresh') => Promise<WorkflowWorkerHandle>;
  /** Resolves once the workflow sits waiting, e.g. when the activity it waits for has started. */
  settled: () => Promise<void>;
  /** Run in this order while no workflow worker runs; each resolves once the server has it. */
  whileNoWorker: {
    completeActivity?: () => Promise<void>;
    sendSignal?: () => Promise<void>;
    /** Must resolve once the update is admitted, not wait for its result (see `sendUpdateAdmitted`). */
    sendUpdate?: () => Promise<void>;
  };
  /** The bundle to replay with (the same code the workers run). */
  workflowBundle: WorkflowBundle | WorkflowBundlePath;
  timeoutMs?: number;
}

export interface StaleWorkflowTaskResult {
  history: History;
  /** The `WorkflowTaskTimedOut` event of the dead worker's task. */
  timedOut: HistoryEvent;
  /** The events the fresh worker's first task produced, in order (after its `WorkflowTaskCompleted`). */
  freshTaskEvents: HistoryEvent[];
  /** Whether the fresh task completed (or failed, e.g. with a nondeterminism error live). */
  freshTaskOutcome: 'completed' | 'failed';
  /** The error `Worker.runReplayHistory` threw on the fetched history, if any. */
  replayError: Error | undefined;
}

/** Drives a workflow through the stale-task situation described at the top of this file and replays the result. */
export async function runStaleWorkflowTask(options: StaleWorkflowTaskOptions): Promise<StaleWorkflowTaskResult> {
  const { client, workflowId, whileNoWorker } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const handle = client.workflow.getHandle(workflowId);

  const killed = await options.startWorker('killed');
  try {
    await options.settled();
    const description = await handle.describe();
    const pending = description.raw.pendingWorkflowTask;
    if (pending) throw new Error(`${workflowId} is not quiet: a workflow task is pending (${pending.state})`);
    const history = await handle.fetchHistory();
    const lastStarted = [...(history.events ?? [])]
      .reverse()
      .find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    const startedBy = lastStarted?.workflowTaskStartedEventAttributes?.identity;
    if (startedBy !== killed.identity) {
      throw new Error(`the last workflow task of ${workflowId} ran on ${startedBy}, not on ${killed.identity}`);
    }
  } finally {
    await killed.kill();
  }
  const killedAfter = eventId((await handle.fetchHistory()).events?.at(-1) ?? {});

  await whileNoWorker.completeActivity?.();
  await whileNoWorker.sendSignal?.();
  await whileNoWorker.sendUpdate?.();

  const timedOut = await waitForHistoryEvent(
    client,
    workflowId,
    (event) => eventId(event) > killedAfter && event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    { timeoutMs, what: "the dead worker's workflow task to time out" },
  );

  const fresh = await options.startWorker('fresh');
  let ended: HistoryEvent;
  try {
    ended = await waitForHistoryEvent(
      client,
      workflowId,
      (event) =>
        eventId(event) > eventId(timedOut) &&
        (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED ||
          event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
      { timeoutMs, what: 'the fresh worker to end its first workflow task' },
    );
  } finally {
    await fresh.stop();
  }

  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const freshTaskEvents: HistoryEvent[] = [];
  for (const event of events) {
    if (eventId(event) <= eventId(ended)) continue;
    const completedBy =
      event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED ||
      Object.values(event as Record<string, unknown>).some(
        (attrs) =>
          attrs != null &&
          typeof attrs === 'object' &&
          'workflowTaskCompletedEventId' in attrs &&
          Number(attrs.workflowTaskCompletedEventId) === eventId(ended),
      );
    if (!completedBy) break;
    freshTaskEvents.push(event);
  }

  let replayError: Error | undefined;
  try {
    await Worker.runReplayHistory({ workflowBundle: options.workflowBundle, replayName: workflowId }, history);
  } catch (err) {
    replayError = err instanceof Error ? err : new Error(String(err));
  }
  return {
    history,
    timedOut,
    freshTaskEvents,
    freshTaskOutcome: ended.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED ? 'completed' : 'failed',
    replayError,
  };
}

/** A readable list of events, e.g. `28 UpsertWorkflowSearchAttributes`, for assertion messages. */
export function describeEvents(events: readonly HistoryEvent[]): string[] {
  return events.map((event) => {
    const name = EventType[event.eventType ?? 0] ?? String(event.eventType);
    return `${eventId(event)} ${name.replace(/^EVENT_TYPE_/, '')}`;
  });
}

async function runChildWorker(config: ChildWorkerConfig): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: config.address });
  const worker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    workflowBundle: { codePath: config.bundlePath },
    identity: config.identity,
    stickyQueueScheduleToStartTimeout: config.stickyQueueScheduleToStartTimeoutMs,
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
}

if (process.argv[1] === thisFile && process.argv.includes(WORKER_FLAG)) {
  const config = JSON.parse(process.env.STALE_TASK_WORKER_CONFIG ?? '{}') as ChildWorkerConfig;
  await runChildWorker(config);
}
