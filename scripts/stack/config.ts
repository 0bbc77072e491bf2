/**
 * Settings of `npm run stack` beyond the service's own (`config/config.ts`): where the stack keeps its data and
 * which private ports PostgreSQL and the Temporal server's internal services take. Read once, validated by zod.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../common/errors.js';
import { projectRoot, type Config } from '../../config/config.js';
import { parseHostPort } from '../../temporal/connection.js';

const port = z.coerce.number().int().min(1).max(65535);

/** How many ports the Temporal server's services take from STACK_TEMPORAL_INTERNAL_PORT up. */
export const TEMPORAL_INTERNAL_PORTS = 9;

const stackEnvSchema = z.object({
  /** PostgreSQL's data, the Temporal server's config and the generated database password. @default .data/stack */
  STACK_DATA_DIR: z.string().min(1).default('.data/stack'),
  /** PostgreSQL's port (loopback only). @default 55432 */
  STACK_POSTGRES_PORT: port.default(55432),
  /**
   * The first of the ports the Temporal server's history, matching and worker services and their membership
   * take (loopback only). Membership ports must stay below 32768, the kernel's ephemeral range. @default 17234
   */
  STACK_TEMPORAL_INTERNAL_PORT: port
    .max(32767 - TEMPORAL_INTERNAL_PORTS, `must leave ${TEMPORAL_INTERNAL_PORTS} ports below 32768`)
    .default(17234),
  /** The webhook replicas' ports, comma-separated; the simulator posts to them in turn. @default 8091,8092 */
  STACK_WEBHOOK_PORTS: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
        .map(Number),
    )
    .pipe(z.array(z.number().int().min(1).max(65535)).min(1, 'must list at least one port'))
    .default([8091, 8092]),
  /** How many card-order workers to run. @default 2 */
  STACK_WORKERS: z.coerce.number().int().min(1).max(8).default(2),
  /** The development identity provider's port (Web UI's login; loopback only). @default 9099 */
  STACK_IDENTITY_PORT: port.default(9099),
  /** Web UI's write actions (terminate, cancel, reset, signal, update, batch, start): off unless `true`. */
  STACK_WEB_UI_WRITE_ACTIONS: z.stringbool().default(false),
});

/** What starts the stack's long-running processes: the Supervisor in `npm run stack`, a test's own in tests. */
export interface Spawner {
  spawn(name: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess;
}

export interface StackConfig {
  dataDir: string;
  postgres: { port: number; dataDir: string; socketDir: string; passwordFile: string };
  temporal: {
    /** The frontend's gRPC port, from TEMPORAL_ADDRESS. */
    frontendPort: number;
    internalPortBase: number;
    /** The server's config directory (`--root` below it, `--config config`). */
    rootDir: string;
  };
  ui: { port: number; rootDir: string; writeActions: boolean };
  identity: { port: number; dir: string };
  webhookPorts: number[];
  workers: number;
}

/** @throws {ConfigError} naming each invalid variable; also when TEMPORAL_ADDRESS is not on this machine. */
export function loadStackConfig(config: Config, env: NodeJS.ProcessEnv = process.env): StackConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = stackEnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => ({ key: issue.path.join('.'), reason: issue.message })));
  }
  const { host, port: frontendPort } = parseHostPort(config.temporal.address);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new ConfigError([
      {
        key: 'TEMPORAL_ADDRESS',
        reason: `the stack runs its Temporal server on this machine; ${config.temporal.address} is not a loopback address`,
      },
    ]);
  }
  const stackEnv = parsed.data;
  const dataDir = path.resolve(projectRoot, stackEnv.STACK_DATA_DIR);
  return {
    dataDir,
    postgres: {
      port: stackEnv.STACK_POSTGRES_PORT,
      dataDir: path.join(dataDir, 'postgres'),
      socketDir: path.join(dataDir, 'postgres-socket'),
      passwordFile: path.join(dataDir, 'postgres-password'),
    },
    temporal: {
      frontendPort,
      internalPortBase: stackEnv.STACK_TEMPORAL_INTERNAL_PORT,
      rootDir: path.join(dataDir, 'temporal'),
    },
    ui: {
      port: config.temporal.uiPort,
      rootDir: path.join(dataDir, 'ui'),
      writeActions: stackEnv.STACK_WEB_UI_WRITE_ACTIONS,
    },
    identity: { port: stackEnv.STACK_IDENTITY_PORT, dir: path.join(dataDir, 'identity') },
    webhookPorts: stackEnv.STACK_WEBHOOK_PORTS,
    workers: stackEnv.STACK_WORKERS,
  };
}
