/**
 * Checks of a fail-closed setting, shared by the webhook's and the codec server's tests: the ConfigError a
 * resolver throws, and a process that exits at once naming what is missing.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { projectRoot } from '../../config/config.js';
import { ConfigError } from '../../common/errors.js';

/** The ConfigError `resolve` throws; fails the test when it throws none (or another error). */
export function configRefusal(resolve: () => unknown, what: string): ConfigError {
  try {
    resolve();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail(`${what} was accepted`);
}

/** Runs `entry` with `env` (and PATH, HOME) to its exit; returns its code and everything it printed. */
export async function runToExit(
  entry: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, entry)], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}
