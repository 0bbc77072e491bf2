/**
 * The Temporal server of the stack, on PostgreSQL: its schemas created or upgraded with `temporal-sql-tool` (a
 * second start on the same data is the upgrade path: only the versions not yet applied run), its config written
 * from the stack's settings, and the server started under the supervisor.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../config/config.js';
import { waitForTemporal } from '../../temporal/connection.js';
import type { Say } from '../lib/go-tools.js';
import type { StackBinaries } from './binaries.js';
import type { Spawner, StackConfig } from './config.js';
import type { RunningPostgres } from './postgres.js';

const execFileAsync = promisify(execFile);

/** Fixed once the cluster's data exists: history shards cannot be changed afterwards. */
const HISTORY_SHARDS = 4;
export const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

export class TemporalServerError extends Error {
  readonly code = 'ERR_STACK_TEMPORAL' as const;
}

/** Runs `temporal-sql-tool` against `database`; the password goes through the environment. */
export async function sqlTool(
  binaries: StackBinaries,
  postgres: RunningPostgres,
  database: string,
  args: readonly string[],
): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(
      binaries.sqlTool,
      [
        '--plugin',
        'postgres12',
        '--endpoint',
        postgres.host,
        '--port',
        String(postgres.port),
        '--user',
        postgres.user,
        '--database',
        database,
        ...args,
      ],
      // The password goes through the environment, not the command line other users can read in `ps`.
      { env: { ...process.env, SQL_PASSWORD: postgres.password } },
    );
    return `${stdout}${stderr}`;
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string; stdout?: string };
    throw new TemporalServerError(
      `temporal-sql-tool ${args.join(' ')} on ${database} failed: ${(stderr || stdout || (err as Error).message).trim()}`,
    );
  }
}

/**
 * Creates both databases and their schemas on first start, and applies any newer schema version on later starts.
 * Every step is idempotent (create-database and setup-schema leave an existing database as it is; update-schema
 * applies only the versions not yet applied), so a start after a crash at any point completes the setup.
 */
export async function setUpSchemas(binaries: StackBinaries, postgres: RunningPostgres, say: Say): Promise<void> {
  for (const [kind, database] of Object.entries(DATABASES) as [keyof typeof DATABASES, string][]) {
    await sqlTool(binaries, postgres, database, ['create-database']);
    const setup = await sqlTool(binaries, postgres, database, ['setup-schema', '-v', '0.0']);
    const existed = /greater than initial schema version/.test(setup);
    const versioned = path.join(binaries.postgresSchemaDir, kind, 'versioned');
    const update = await sqlTool(binaries, postgres, database, ['update-schema', '-d', versioned]);
    const applied = [...update.matchAll(/---- Executing updates for version (\S+) ----/g)].map((m) => m[1]);
    if (!existed) say(`Created the ${database} database at schema version ${applied.at(-1) ?? '0.0'}`);
    else if (applied.length > 0) say(`Upgraded the ${database} schema to version ${applied.at(-1)}`);
  }
}

function serverConfigYaml(stack: StackConfig, postgres: RunningPostgres): string {
  const base = stack.temporal.internalPortBase;
  const store = (database: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "${postgres.host}:${postgres.port}"
        connectProtocol: tcp
        user: ${postgres.user}
        password: "${postgres.password}"
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (grpcPort: number, membershipPort: number, extra = '') => `
    rpc:
      grpcPort: ${grpcPort}
      membershipPort: ${membershipPort}
      bindOnLocalHost: true${extra}`;
  return `# Written by npm run stack from its settings at every start; edits here are overwritten.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${HISTORY_SHARDS}
  datastores:
    postgres-default:${store(DATABASES.temporal, 20)}
    postgres-visibility:${store(DATABASES.visibility, 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:${base + 8}"
services:
  frontend:${service(stack.temporal.frontendPort, base, `\n      httpPort: ${base + 7}`)}
  history:${service(base + 1, base + 2)}
  matching:${service(base + 3, base + 4)}
  worker:${service(base + 5, base + 6)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:${stack.temporal.frontendPort}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "${path.join(stack.temporal.rootDir, 'config', 'dynamicconfig.yaml')}"
  pollInterval: 10s
`;
}

/** Search attributes added by `temporal:setup` are usable at once, not after the next cache refresh. */
const DYNAMIC_CONFIG = `system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
    constraints: {}
`;

/** Writes the config, starts the server under `supervisor` and resolves once its frontend answers. */
export async function startTemporalServer(
  config: Config,
  stack: StackConfig,
  binaries: StackBinaries,
  postgres: RunningPostgres,
  supervisor: Spawner,
): Promise<void> {
  const configDir = path.join(stack.temporal.rootDir, 'config');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  // The config holds the database password: readable by us alone.
  await writeFile(path.join(configDir, 'stack.yaml'), serverConfigYaml(stack, postgres), { mode: 0o600 });
  await writeFile(path.join(configDir, 'dynamicconfig.yaml'), DYNAMIC_CONFIG);
  supervisor.spawn('temporal-server', binaries.temporalServer, [
    '--root',
    stack.temporal.rootDir,
    '--config',
    'config',
    '--env',
    'stack',
    // Loopback only, as in the dev server; a cluster beyond this machine sets up its authorizer and TLS.
    '--allow-no-auth',
    'start',
  ]);
  const connection = await waitForTemporal(config.temporal.address, 120_000);
  await connection.close();
}

/** The server's version, for the terminal. */
export async function temporalServerVersion(binaries: StackBinaries): Promise<string> {
  const { stdout } = await execFileAsync(binaries.temporalServer, ['--version']);
  return stdout.trim();
}
