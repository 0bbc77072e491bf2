/**
 * `npm run temporal`: the embedded Temporal dev server, with a persistent SQLite file under `.data/`, the Web UI,
 * and the project's search attributes registered. A restart keeps every workflow.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from '../config/config.js';
import { parseHostPort, waitForTemporal } from '../temporal/connection.js';
import { cardOrderSearchAttributes } from '../rules/contracts/search-attributes.js';
import { displayPath, Supervisor } from './lib/supervisor.js';
import { resolveTemporalCli } from './temporal-cli.js';

/** The `temporal server start-dev` arguments for this configuration. */
export function devServerArgs(config: Config): string[] {
  const { host, port } = parseHostPort(config.temporal.address);
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  return [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--ui-port',
    String(config.temporal.uiPort),
    '--namespace',
    config.temporal.namespace,
    '--db-filename',
    config.temporal.dbFile,
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--log-level',
    verbose ? 'info' : 'error',
    // Web UI decodes the encrypted payloads through our codec server.
    '--ui-codec-endpoint',
    `http://${config.codecServer.host}:${config.codecServer.port}`,
    ...cardOrderSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
}

/** The Web UI address for this configuration. */
export function webUiUrl(config: Config): string {
  const { host } = parseHostPort(config.temporal.address);
  return `http://${host === '127.0.0.1' || host === '0.0.0.0' ? 'localhost' : host}:${config.temporal.uiPort}`;
}

/** The dev server's name under the supervisor, and so of its log file. */
const devServerName = 'temporal';

/** Starts the dev server under `supervisor` and resolves once its frontend answers. */
export async function startDevServer(config: Config, supervisor: Supervisor): Promise<void> {
  const cli = await resolveTemporalCli(config, (message) => process.stderr.write(`${message}\n`));
  await mkdir(path.dirname(config.temporal.dbFile), { recursive: true });
  supervisor.spawn(devServerName, cli, devServerArgs(config));
  const connection = await waitForTemporal(config.temporal.address, 60_000);
  await connection.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = loadConfig();
  const supervisor = new Supervisor();
  supervisor.stopOnSignals();
  startDevServer(config, supervisor).then(
    () =>
      process.stderr.write(
        `Temporal dev server on ${config.temporal.address} (namespace ${config.temporal.namespace}), ` +
          `data in ${config.temporal.dbFile}\nWeb UI: ${webUiUrl(config)}\n` +
          `Log: ${displayPath(supervisor.logFile(devServerName))}\n`,
      ),
    async (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      await supervisor.stop();
      process.exit(1);
    },
  );
}
