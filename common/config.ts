/**
 * The service's configuration: one zod schema over environment variables, read once at process start and passed
 * down. Every key has a default that runs the local demo. No other module reads `process.env`.
 *
 * @module
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';

/** The repository root, where `.data/` and the prebuilt bundle live by default. */
export const projectRoot = path.resolve(import.meta.dirname, '..');

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const port = z.coerce.number().int().min(0).max(65535);

const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** A duration such as `500ms`, `30s`, `5m`, `2h` or `7d`, turned into milliseconds. */
export const durationMs = z
  .string()
  .regex(durationPattern, 'must be a duration such as 500ms, 30s, 5m, 2h or 7d')
  .transform((value) => {
    const [, amount, unit] = durationPattern.exec(value) as unknown as [string, string, keyof typeof unitMs];
    return Math.round(Number(amount) * unitMs[unit]);
  });

const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error']);

/** The environment variables this service reads, by name, with their defaults. */
export const envSchema = z.object({
  /** Temporal frontend, host:port. @default 127.0.0.1:7233 */
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  /** @default default */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue of the card-order workflows and activities. @default card-orders */
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('card-orders'),
  /** Port of the embedded dev server's Web UI. @default 8233 */
  TEMPORAL_UI_PORT: port.default(8233),
  /** SQLite file of the embedded dev server; relative paths are resolved against the repository. */
  TEMPORAL_DB_FILE: z.string().min(1).default('.data/temporal.sqlite'),
  /** A `temporal` CLI binary to use instead of searching PATH, the cache, or building one. */
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  /** Where built tools are cached, shared by every clone. @default $XDG_CACHE_HOME or ~/.cache */
  XDG_CACHE_HOME: z.string().min(1).optional(),
  HOME: z.string().min(1).optional(),
  /** Searched for `temporal` and `go`. */
  PATH: z.string().default(''),
  /** Grace period for in-flight activities when the worker shuts down. @default 30s */
  WORKER_SHUTDOWN_GRACE: durationMs.default(30_000),
  /** A prebuilt workflow bundle (`npm run build`); used when it matches the workflow sources. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).default('dist/workflow-bundle.js'),
  /** @default info */
  LOG_LEVEL: logLevel.default('info'),
});

export type Env = z.input<typeof envSchema>;

function toConfig(env: z.output<typeof envSchema>) {
  const fromRoot = (file: string) => path.resolve(projectRoot, file);
  return {
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      uiPort: env.TEMPORAL_UI_PORT,
      dbFile: fromRoot(env.TEMPORAL_DB_FILE),
      cliPath: env.TEMPORAL_CLI_PATH,
    },
    searchPath: env.PATH.split(path.delimiter).filter(Boolean),
    cacheDir: path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? '/tmp', '.cache'), 'd1-card-orders'),
    worker: {
      shutdownGraceMs: env.WORKER_SHUTDOWN_GRACE,
      workflowBundlePath: fromRoot(env.WORKFLOW_BUNDLE_PATH),
    },
    logLevel: env.LOG_LEVEL,
  };
}

/** The validated, frozen configuration every process receives. */
export type Config = Readonly<ReturnType<typeof toConfig>>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads and validates the configuration. Empty variables count as unset, so `FOO=` falls back to the default.
 *
 * @throws {ConfigError} naming every invalid variable and why.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => ({
      key: issue.path.map(String).join('.') || '(environment)',
      reason: issue.message,
    }));
    throw new ConfigError(issues);
  }
  return deepFreeze(toConfig(parsed.data));
}
