/**
 * The stack's Go-built programs: the Temporal server and `temporal-sql-tool` (with the PostgreSQL schemas of the
 * same release) and the Web UI server. Built once per user into the cache every clone shares, like the CLI.
 *
 * @module
 */
import { cp, chmod, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { TemporalCliNotFoundError } from '../../common/errors.js';
import { findGo, goInstall, goModuleDir, isExecutable, type Say } from '../lib/go-tools.js';

/** The server release the CLI v1.5.1 dev server bundles too, so `npm start` and the stack run the same server. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
/** The newest ui-server release that builds with this machine's Go. */
export const TEMPORAL_UI_SERVER_VERSION = 'v2.55.0';

const SERVER_MODULE = 'go.temporal.io/server';
const UI_SERVER_MODULE = 'github.com/temporalio/ui-server/v2';

export interface StackBinaries {
  temporalServer: string;
  sqlTool: string;
  /** `schema/postgresql/v12` of the server release: `temporal/versioned` and `visibility/versioned`. */
  postgresSchemaDir: string;
  uiServer: string;
}

function paths(config: Config): StackBinaries {
  const serverDir = path.join(config.cacheDir, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  return {
    temporalServer: path.join(serverDir, 'temporal-server'),
    sqlTool: path.join(serverDir, 'temporal-sql-tool'),
    postgresSchemaDir: path.join(serverDir, 'schema', 'postgresql', 'v12'),
    uiServer: path.join(config.cacheDir, `temporal-ui-server-${TEMPORAL_UI_SERVER_VERSION}`, 'ui-server'),
  };
}

async function schemaPresent(dir: string): Promise<boolean> {
  try {
    return (await readdir(path.join(dir, 'temporal', 'versioned'))).length > 0;
  } catch {
    return false;
  }
}

/**
 * The stack's binaries, built with Go into the per-user cache when missing (about 5 to 8 minutes on 2 cores, once;
 * three times that on a busy machine).
 *
 * @throws {TemporalCliNotFoundError} when a binary is missing and Go is not installed.
 */
export async function resolveStackBinaries(config: Config, say: Say): Promise<StackBinaries> {
  const wanted = paths(config);
  const serverReady =
    (await isExecutable(wanted.temporalServer)) &&
    (await isExecutable(wanted.sqlTool)) &&
    (await schemaPresent(wanted.postgresSchemaDir));
  const uiReady = await isExecutable(wanted.uiServer);
  if (serverReady && uiReady) return wanted;

  const go = await findGo(config);
  if (!go) {
    throw new TemporalCliNotFoundError(
      `The stack needs the Temporal server ${TEMPORAL_SERVER_VERSION} and ui-server ${TEMPORAL_UI_SERVER_VERSION} in ` +
        `${config.cacheDir}, and Go on PATH to build them there (nothing is downloaded as a release binary).`,
    );
  }
  if (!serverReady) {
    const serverDir = path.dirname(wanted.temporalServer);
    say(
      `Building the Temporal server and temporal-sql-tool ${TEMPORAL_SERVER_VERSION} with Go into ${serverDir}.\n` +
        'This is a one-time build shared by every clone; it takes about 5 minutes on 2 cores.',
    );
    await goInstall(go, config, {
      version: TEMPORAL_SERVER_VERSION,
      targetDir: serverDir,
      packages: [
        { pkg: `${SERVER_MODULE}/cmd/server`, builds: 'server', cachedAs: 'temporal-server' },
        { pkg: `${SERVER_MODULE}/cmd/tools/sql`, builds: 'sql', cachedAs: 'temporal-sql-tool' },
      ],
    });
    // The schemas of the same release, next to the binaries: the module cache may be cleaned at any time.
    const moduleDir = await goModuleDir(go, SERVER_MODULE, TEMPORAL_SERVER_VERSION);
    await cp(path.join(moduleDir, 'schema', 'postgresql', 'v12'), wanted.postgresSchemaDir, { recursive: true });
    // The module cache is read-only; the copy must not be, or the cache cannot be cleaned either.
    await chmodTree(path.join(serverDir, 'schema'));
  }
  if (!uiReady) {
    const uiDir = path.dirname(wanted.uiServer);
    say(
      `Building the Temporal Web UI server ${TEMPORAL_UI_SERVER_VERSION} with Go into ${uiDir} (about 2 minutes, once).`,
    );
    await goInstall(go, config, {
      version: TEMPORAL_UI_SERVER_VERSION,
      targetDir: uiDir,
      packages: [{ pkg: `${UI_SERVER_MODULE}/cmd/server`, builds: 'server', cachedAs: 'ui-server' }],
    });
  }
  return wanted;
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await chmodTree(child);
    else await chmod(child, 0o644);
  }
}
