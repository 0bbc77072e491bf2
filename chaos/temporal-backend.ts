/**
 * What Temporal runs on in a chaos run: the embedded default (the Temporal CLI dev server on a SQLite file), or, with
 * `--stack`, the production engine as `npm run stack` runs it (PostgreSQL, the Temporal server on it, its schemas and
 * the campaign store set up by the stack's own steps). Either way the fault plan kills its processes and starts them
 * again by name, and each start waits until the process answers.
 *
 * @module
 */
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../config/config.js';
import { waitForTemporal } from '../temporal/connection.js';
import { freePort, freePortRun } from '../scripts/lib/ports.js';
import { resolveStackBinaries } from '../scripts/stack/binaries.js';
import { setUpStackCampaignStore, stackCampaignStoreEnv } from '../scripts/stack/campaign-store.js';
import { loadStackConfig, TEMPORAL_INTERNAL_PORTS } from '../scripts/stack/config.js';
import { startPostgres, waitForPostgres } from '../scripts/stack/postgres.js';
import { setUpSchemas, startTemporalServer } from '../scripts/stack/temporal-server.js';
import { resolveTemporalCli } from '../scripts/temporal-cli.js';
import { devServerArgs } from '../scripts/temporal-dev-server.js';
import { describeSetup, setUpTemporal } from '../scripts/temporal-setup.js';
import type { ChaosProcesses } from './processes.js';

export interface TemporalBackend {
  /** What it is, for the terminal. */
  label: string;
  /** The processes the fault plan kills and starts again. */
  processes: readonly string[];
  /** Settings every process of ours needs on it (the stack's campaign store). */
  env: Record<string, string>;
  /** SIGKILLs `name`, as a crash of its machine would (PostgreSQL's backends with it). */
  kill(name: string): Promise<void>;
  /** Starts `name` again, unless it runs, and resolves once it answers. */
  start(name: string): Promise<void>;
}

const say = (message: string) => process.stderr.write(`${message}\n`);

async function untilTemporalAnswers(config: Config): Promise<void> {
  const connection = await waitForTemporal(config.temporal.address, 120_000);
  await connection.close();
}

/** The Temporal CLI dev server, on `config`'s address and SQLite file. */
export async function startDevServerBackend(config: Config, processes: ChaosProcesses): Promise<TemporalBackend> {
  const name = 'temporal';
  const cli = await resolveTemporalCli(config, say);
  processes.start(name, cli, devServerArgs(config), process.env);
  await untilTemporalAnswers(config);
  return {
    label: 'the Temporal dev server (SQLite)',
    processes: [name],
    env: {},
    kill: () => processes.kill(name),
    start: async () => {
      if (!processes.isRunning(name)) processes.restart(name);
      await untilTemporalAnswers(config);
    },
  };
}

/** The PIDs of `pid`'s children (PostgreSQL's backends of its postmaster), from /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * PostgreSQL and the Temporal server v1.29.1 on it, as `npm run stack` starts them, in `dataDir`, on free ports:
 * schemas set up by temporal-sql-tool, the campaign store's database created, the namespace and search attributes
 * registered (`temporal:setup`).
 */
export async function startStackBackend(
  config: Config,
  processes: ChaosProcesses,
  dataDir: string,
): Promise<TemporalBackend> {
  // PostgreSQL runs as the postgres user when we are root: it must reach its data folder through the run's.
  await mkdir(dataDir, { recursive: true });
  await chmod(path.dirname(dataDir), 0o711);
  await chmod(dataDir, 0o711);
  const stack = loadStackConfig(config, {
    STACK_DATA_DIR: dataDir,
    STACK_POSTGRES_PORT: String(await freePort()),
    STACK_TEMPORAL_INTERNAL_PORT: String(await freePortRun(TEMPORAL_INTERNAL_PORTS)),
  });
  const binaries = await resolveStackBinaries(config, say);
  const spawner = {
    spawn: (name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) =>
      processes.start(name, command, args, env),
  };
  const postgres = await startPostgres(stack, spawner, say);
  await setUpSchemas(binaries, postgres, say);
  await setUpStackCampaignStore(postgres);
  await startTemporalServer(config, stack, binaries, postgres, spawner);
  const setup = await setUpTemporal(config);
  if (!setup.ok) throw new Error(`the Temporal setup is incomplete:\n${describeSetup(setup)}`);
  const env = stackCampaignStoreEnv(config, stack, postgres);
  return {
    label: 'PostgreSQL and the Temporal server',
    processes: ['temporal-server', 'postgres'],
    env,
    async kill(name) {
      if (name !== 'postgres') return processes.kill(name);
      // The whole database at once, as a crash of its machine: the postmaster and every backend.
      const pid = processes.pid(name);
      const backends = pid === undefined ? [] : await childrenOf(pid);
      await processes.kill(name);
      for (const backend of backends) if (alive(backend)) process.kill(backend, 'SIGKILL');
      while (backends.some(alive)) await delay(50);
    },
    async start(name) {
      if (!processes.isRunning(name)) processes.restart(name);
      if (name === 'postgres') await waitForPostgres(stack.postgres.port, 120_000);
      else await untilTemporalAnswers(config);
    },
  };
}
