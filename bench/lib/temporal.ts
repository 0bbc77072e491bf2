/**
 * The run's Temporal server: the one given with `--temporal-address`, or a dev server started for the run on a
 * SQLite file in WAL mode (as `npm run temporal` runs it), with the card-order search attributes registered.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { loadConfig } from '../../config/config.js';
import { waitForTemporal } from '../../temporal/connection.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { freePort, progress } from './util.js';

export interface BenchTemporal {
  address: string;
  connection: Connection;
  /** The dev server's process, when the run started one. */
  server: ChildProcess | undefined;
  /** The server's Prometheus endpoint (its `action` counter: billable actions), when known. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Starts a dev server in `workDir` (or connects to `address`) and returns a connection to it. */
export async function startBenchTemporal(
  address: string | undefined,
  workDir: string,
  metricsUrl?: string,
): Promise<BenchTemporal> {
  if (address) {
    const connection = await waitForTemporal(address, 30_000);
    await checkSearchAttributes(connection);
    return { address, connection, server: undefined, metricsUrl, close: () => connection.close() };
  }
  const cli = await resolveTemporalCli(loadConfig(), progress);
  const port = await freePort();
  const metricsPort = await freePort();
  const own = `127.0.0.1:${port}`;
  const dbFile = path.join(workDir, 'temporal.sqlite');
  // The server's own complaints under load go to a file, not between the progress lines.
  const log = await open(path.join(workDir, 'temporal-server.log'), 'w');
  const server = spawn(
    cli,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--headless',
      '--namespace',
      'default',
      '--db-filename',
      dbFile,
      '--sqlite-pragma',
      'journal_mode=WAL',
      '--log-level',
      'error',
      // The server's own count of billable actions (`action`), as Temporal's guide to estimating Cloud actions reads it.
      '--metrics-port',
      String(metricsPort),
      ...cardOrderSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ],
    { stdio: ['ignore', 'ignore', log.fd] },
  );
  await log.close();
  progress(`Temporal dev server (pid ${server.pid}) on ${own}, SQLite ${dbFile} (WAL)`);
  const connection = await waitForTemporal(own, 60_000);
  return {
    address: own,
    connection,
    server,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    async close() {
      await connection.close();
      if (server.exitCode === null && server.signalCode === null) {
        server.kill('SIGTERM');
        await Promise.race([once(server, 'exit'), new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      }
    },
  };
}

/** Fails early when a server given with --temporal-address lacks the card-order search attributes. */
async function checkSearchAttributes(connection: Connection): Promise<void> {
  const client = new Client({ connection });
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({
    namespace: client.options.namespace,
  });
  const missing = cardOrderSearchAttributes.filter((key) => !customAttributes?.[key.name]).map((key) => key.name);
  if (missing.length > 0) {
    throw new Error(
      `the Temporal server lacks the search attributes ${missing.join(', ')} (temporal operator search-attribute create)`,
    );
  }
}

/** CPU seconds (user + system) a process used so far, from /proc; undefined when it is gone. */
export async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The pollers Temporal saw on a task queue (workflow tasks), by identity. */
export async function workflowPollers(client: Client, taskQueue: string): Promise<string[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (response.pollers ?? []).map((poller) => poller.identity ?? '');
}

/**
 * The server's `action` counter (Temporal Cloud's billable actions, exported by the server since 1.17), summed over
 * its labels for one namespace; undefined without a metrics endpoint. Read before and after a run: the difference is
 * what the run cost.
 */
export async function actionCount(metricsUrl: string | undefined, namespace: string): Promise<number | undefined> {
  if (!metricsUrl) return undefined;
  const text = await (await fetch(metricsUrl)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^action(?:\{([^}]*)\})?\s+([0-9.eE+-]+)/.exec(line);
    if (!match) continue;
    if (!(match[1] ?? '').includes(`namespace="${namespace}"`)) continue;
    sum += Number(match[2]);
  }
  return sum;
}
