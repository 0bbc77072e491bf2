/**
 * The Temporal connection, the worker process, logs, the demo mode and the keys folder. One part of the environment
 * schema (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../../common/duration.js';
import { hostPort, logLevel, port } from '../env-fields.js';

export const runtimeEnv = {
  /** Temporal frontend, host:port. @default 127.0.0.1:7233 */
  TEMPORAL_ADDRESS: hostPort
    .default('127.0.0.1:7233')
    .describe('Temporal frontend, `host:port`; the embedded dev server listens here.'),
  /** API key for Temporal Cloud (or a server with API-key auth); implies TLS. */
  TEMPORAL_API_KEY: z
    .string()
    .min(1)
    .optional()
    .describe('API key for Temporal Cloud (or a server with API-key auth); implies TLS.'),
  /** TLS to the Temporal frontend: on with any TEMPORAL_TLS_* file or an API key; `true` forces it on. */
  TEMPORAL_TLS: z
    .stringbool()
    .optional()
    .describe(
      'TLS to the Temporal frontend. Unset: on with an API key or any `TEMPORAL_TLS_*` file; `true` forces TLS with the system CAs, `false` turns it off.',
    ),
  /** mTLS client certificate and key (PEM files), and the CA of the frontend's certificate. */
  TEMPORAL_TLS_CERT_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Mutual TLS to Temporal: our client certificate (PEM file); needs `TEMPORAL_TLS_KEY_FILE`.'),
  TEMPORAL_TLS_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Mutual TLS to Temporal: our client key (PEM file); needs `TEMPORAL_TLS_CERT_FILE`.'),
  TEMPORAL_TLS_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("The CA of the Temporal frontend's certificate (PEM file), for a private CA."),
  /** @default default */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').describe('Temporal namespace (the dev server creates it).'),
  /** Task queue of the card-order workflows and activities. @default card-orders */
  TEMPORAL_TASK_QUEUE: z
    .string()
    .min(1)
    .default('card-orders')
    .describe(
      'Task queue of the card-order workflows and activities; campaigns run on `{TEMPORAL_TASK_QUEUE}-campaigns`.',
    ),
  /** Port of the embedded dev server's Web UI. @default 8233 */
  TEMPORAL_UI_PORT: port.default(8233).describe('Web UI port of the embedded dev server.'),
  /** The Web UI `npm start` links to; unset: the dev server's when it started one, else no links. */
  TEMPORAL_UI_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("The Web UI `npm start` links to; unset: the dev server's when it started one, else no links."),
  /** SQLite file of the embedded dev server; relative paths are resolved against the repository. */
  TEMPORAL_DB_FILE: z
    .string()
    .min(1)
    .default('.data/temporal.sqlite')
    .describe('SQLite file of the embedded dev server; a relative path is resolved against the repository.'),
  /** A `temporal` CLI binary to use instead of searching PATH, the cache, or building one. */
  TEMPORAL_CLI_PATH: z
    .string()
    .min(1)
    .optional()
    .describe('A `temporal` binary to use, before `PATH` and the cache (an error if it is not an executable file).'),
  /** Where built tools are cached, shared by every clone. @default $XDG_CACHE_HOME or ~/.cache */
  XDG_CACHE_HOME: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Where built tools (the Temporal CLI, server, SQL tool and UI server) are cached, shared by every clone: `d1-card-orders/` under it; unset: `~/.cache`.',
    ),
  HOME: z
    .string()
    .min(1)
    .optional()
    .describe("The user's home, for `~/.cache` when `XDG_CACHE_HOME` is unset (`/tmp` without either)."),
  /** Searched for `temporal` and `go`. */
  PATH: z.string().default('').describe('Searched for `temporal` and `go`.'),
  /** Grace period for in-flight activities when the worker shuts down. @default 30s */
  WORKER_SHUTDOWN_GRACE: durationMs
    .default(30_000)
    .describe('How long in-flight activities may finish when the worker stops.'),
  /** A prebuilt workflow bundle (`npm run build`); used when it matches the workflow sources. */
  WORKFLOW_BUNDLE_PATH: z
    .string()
    .min(1)
    .default('dist/workflow-bundle.js')
    .describe('Prebuilt workflow bundle (`npm run build`), used when it matches the workflow sources.'),
  /** @default info */
  LOG_LEVEL: logLevel.default('info').describe('Log level; logs are JSON lines on stderr.'),
  /** Where supervised children (`npm start`) write their output, one `<name>.log` each. @default .data/logs */
  LOGS_DIR: z
    .string()
    .min(1)
    .default('.data/logs')
    .describe("Where `npm start` writes each supervised child's output, as `<name>.log`."),
  /** Also show the children's raw output on the terminal, prefixed with their name. @default false */
  LOG_TO_TERMINAL: z
    .stringbool()
    .default(false)
    .describe("`npm start` also shows the children's raw output on the terminal, prefixed with their name."),
  /**
   * The local demo (`npm start`, tests). Its relaxations, all of them, each only where the production setting is
   * unset: the webhook takes the simulator's public D1 credentials (WEBHOOK_CLIENTS), and the codec server answers
   * callers without a token (CODEC_SERVER_OIDC_ISSUER, CODEC_SERVER_AUTH_TOKEN; the browser origin check stays).
   * Never set it in production: unset settings then fail closed. @default false
   */
  DEMO_MODE: z
    .stringbool()
    .default(false)
    .describe(
      "The local demo (`npm start`, tests): where the production setting is unset, the webhook takes the simulator's public credentials and the codec server answers callers without a token (see above). Never in production.",
    ),

  /** Where `npm run keys` writes the demo key set, and where the key defaults below point. @default .data/keys */
  KEYS_DIR: z
    .string()
    .min(1)
    .default('.data/keys')
    .describe('Where `npm run keys` writes the demo key set, and where the key file defaults point.'),
};
