/**
 * `--stack`: the run's Temporal is the production engine `npm run stack` runs (the Temporal server on PostgreSQL,
 * schemas set up by `temporal-sql-tool`, namespace and search attributes by `temporal:setup`), started for the run
 * with its data in a folder of the run's own and ports of its own, so it neither meets nor touches a stack already
 * running on the machine. The stack's own workers, webhooks and simulator are not started: each benchmark brings
 * its own, as on the dev server.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../config/config.js';
import { resolveStackBinaries } from '../../scripts/stack/binaries.js';
import { loadStackConfig, TEMPORAL_INTERNAL_PORTS, type Spawner } from '../../scripts/stack/config.js';
import { startPostgres } from '../../scripts/stack/postgres.js';
import { setUpSchemas, startTemporalServer } from '../../scripts/stack/temporal-server.js';
import { describeSetup, setUpTemporal } from '../../scripts/temporal-setup.js';
import { waitForTemporal } from '../../temporal/connection.js';
import type { BenchTemporal } from './temporal.js';
import { freePort, progress } from './util.js';

/** The first of the server's internal ports (history, matching, worker, membership): away from the stack's 17234. */
const INTERNAL_PORT_BASE = 21_234;

export async function startProductionTemporal(workDir: string): Promise<BenchTemporal> {
  const address = `127.0.0.1:${await freePort()}`;
  // PostgreSQL runs as its own user when we are root: its data goes where that user can reach (the run's work
  // folder is ours alone), removed when the run ends.
  const dataDir = await mkdtemp('/var/tmp/d1-card-orders-bench-stack-');
  await chmod(dataDir, 0o711);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: address,
    STACK_DATA_DIR: dataDir,
    STACK_POSTGRES_PORT: String(await freePort()),
    STACK_TEMPORAL_INTERNAL_PORT: String(INTERNAL_PORT_BASE),
  };
  const config = loadConfig(env);
  const stack = loadStackConfig(config, env);
  const children: ChildProcess[] = [];
  const log = openSync(path.join(workDir, 'stack.log'), 'a');
  const supervisor: Spawner = {
    spawn(name, command, args, childEnv) {
      const child = spawn(command, args, { env: { ...process.env, ...childEnv }, stdio: ['ignore', log, log] });
      progress(`  ${name} (pid ${child.pid})`);
      children.push(child);
      return child;
    },
  };
  const close = async () => {
    // The server before its database.
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const binaries = await resolveStackBinaries(config, progress);
    progress(
      `production engine: PostgreSQL on ${stack.postgres.port}, Temporal server on ${address} ` +
        `(internal ports ${INTERNAL_PORT_BASE}..${INTERNAL_PORT_BASE + TEMPORAL_INTERNAL_PORTS - 1}), data in ${stack.dataDir}`,
    );
    const postgres = await startPostgres(stack, supervisor, progress);
    await setUpSchemas(binaries, postgres, progress);
    await startTemporalServer(config, stack, binaries, postgres, supervisor);
    const setup = await setUpTemporal(config);
    progress(describeSetup(setup));
    if (!setup.ok) throw new Error('the Temporal setup of the production engine is incomplete');
    const connection = await waitForTemporal(address, 60_000);
    return {
      address,
      connection,
      server: undefined,
      metricsUrl: undefined,
      async close() {
        await connection.close();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
