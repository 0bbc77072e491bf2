/**
 * Finds a usable `temporal` CLI binary without any download from outside, and prints its path.
 *
 * Looks, in order, at: `TEMPORAL_CLI_PATH`; `temporal` on PATH; the per-user cache shared by every clone
 * (`~/.cache/d1-card-orders/temporal-cli-v1.5.1/temporal`); else builds it into that cache with `go install`;
 * else lets the Temporal SDK download it (needs internet access).
 *
 * Usage: `npm run temporal:cli` (prints the path on stdout, progress on stderr).
 *
 * @module
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig, type Config } from '../config/config.js';
import { TemporalCliNotFoundError } from '../common/errors.js';
import { findGo, findOnPath, goInstall, isExecutable, type Say } from './lib/go-tools.js';

/** The CLI release we build: later v1.x releases carry a go.mod `replace` directive that `go install` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Where the built CLI lives, shared by every clone of the project for this user. */
export function cachedCliPath(config: Config): string {
  return path.join(config.cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

async function buildWithGo(go: string, config: Config, say: Say): Promise<string> {
  const target = cachedCliPath(config);
  say(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${path.dirname(target)}.\n` +
      'This is a one-time build shared by every clone; it takes about 5 to 10 minutes on 2 cores.',
  );
  await goInstall(go, config, {
    packages: [{ pkg: TEMPORAL_CLI_MODULE, builds: 'temporal', cachedAs: 'temporal' }],
    version: TEMPORAL_CLI_VERSION,
    targetDir: path.dirname(target),
  });
  say(`Built ${target}`);
  return target;
}

/** The SDK's own download (needs internet access); it fetches the CLI while starting a throwaway server. */
async function downloadWithSdk(config: Config, say: Say): Promise<string> {
  const downloadDir = path.join(config.cacheDir, 'sdk-download');
  say(`Downloading the Temporal CLI through the Temporal SDK into ${downloadDir}`);
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir } },
  });
  await env.teardown();
  for (const name of await readdir(downloadDir)) {
    const file = path.join(downloadDir, name);
    if (name.startsWith('temporal') && !name.endsWith('.downloading') && (await isExecutable(file))) return file;
  }
  throw new Error(`the SDK download left no temporal binary in ${downloadDir}`);
}

/**
 * Returns the path of a usable `temporal` CLI, building or downloading it when needed.
 *
 * @throws {TemporalCliNotFoundError} when every way failed; the message names the three ways to provide one.
 */
export async function resolveTemporalCli(
  config: Config,
  say: Say = () => {},
  { download = downloadWithSdk }: { download?: (config: Config, say: Say) => Promise<string> } = {},
): Promise<string> {
  if (config.temporal.cliPath) {
    if (await isExecutable(config.temporal.cliPath)) return config.temporal.cliPath;
    throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${config.temporal.cliPath} is not an executable file`);
  }
  const onPath = await findOnPath('temporal', config.searchPath);
  if (onPath) return onPath;
  const cached = cachedCliPath(config);
  if (await isExecutable(cached)) return cached;

  const failures: string[] = [];
  const go = await findGo(config);
  if (go) {
    try {
      return await buildWithGo(go, config, say);
    } catch (err) {
      failures.push(`go install failed: ${(err as Error).message}`);
    }
  } else {
    failures.push('go is not installed');
  }
  try {
    return await download(config, say);
  } catch (err) {
    failures.push(`the SDK download failed: ${(err as Error).message}`);
  }
  throw new TemporalCliNotFoundError(
    `No Temporal CLI found (${failures.join('; ')}). Provide one of: ` +
      '(1) TEMPORAL_CLI_PATH=/path/to/temporal; ' +
      '(2) a `temporal` binary on PATH; ' +
      `(3) Go on PATH, to build ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} into ${path.dirname(cached)}.`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const say: Say = (message) => process.stderr.write(`${message}\n`);
  resolveTemporalCli(loadConfig(), say).then(
    (cli) => process.stdout.write(`${cli}\n`),
    (err: Error) => {
      say(err.message);
      process.exitCode = 1;
    },
  );
}
