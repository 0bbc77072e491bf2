import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { request } from 'undici';
import { loadConfig, projectRoot } from '../../config/config.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { makeKeysDir } from '../helpers/d1-stack.js';
import { freePort } from '../helpers/ports.js';
import { eventually, testEnvironment, testServerExtraArgs, uniqueName } from '../helpers/temporal.js';

/** A worker process (`npm run worker`) against `address`, its stderr (JSON log lines) collected. */
async function startWorkerProcess(address: string, extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers/main.ts')], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: uniqueName('worker-process'),
      KEYS_DIR: await makeKeysDir(),
      WORKER_SHUTDOWN_GRACE: '2s',
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    child,
    lines,
    exited,
    /** Resolves with the first log line (already logged or to come) that `match` accepts; rejects on exit. */
    logLine(match: (line: string) => boolean): Promise<string> {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return Promise.race([
        new Promise<string>((resolve) => waiters.push({ match, resolve })),
        exited.then(([code]) => {
          throw new Error(`the worker exited (${code}) first; its log:\n${lines.join('\n')}`);
        }),
      ]);
    },
  };
}

/** The parsed JSON log lines with message `msg`. */
function logged(lines: readonly string[], msg: string): Record<string, unknown>[] {
  return lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === msg);
}

const retryMessage = 'Temporal is not reachable; retrying';
const isRetry = (line: string) => line.includes(retryMessage);

describe('worker process', () => {
  it('logs JSON, serves Prometheus metrics, and exits cleanly on SIGTERM', async () => {
    const env = await testEnvironment();
    const metricsPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers/main.ts')], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: uniqueName('worker-process'),
        KEYS_DIR: await makeKeysDir(),
        WORKER_METRICS_PORT: String(metricsPort),
        WORKER_SHUTDOWN_GRACE: '2s',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const lines: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
    try {
      await eventually(() => (lines.some((line) => line.includes('worker polling')) ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the worker to poll',
      });
      const metrics = await eventually(
        async () => {
          const response = await request(`http://127.0.0.1:${metricsPort}/metrics`);
          const text = await response.body.text();
          return /temporal_/.test(text) ? text : undefined;
        },
        { timeoutMs: 30_000, what: 'worker metrics' },
      );
      assert.match(metrics, /temporal_/);
      const json = lines.filter((line) => line.startsWith('{'));
      assert.ok(json.length > 0);
      for (const line of json) assert.doesNotThrow(() => JSON.parse(line), line);
    } finally {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      await env.teardown();
      assert.equal(code, 0);
      assert.ok(lines.some((line) => line.includes('worker stopped')));
    }
  });

  it('started while Temporal is down, retries with growing delays and polls once Temporal is up on its address', async () => {
    const port = await freePort();
    const worker = await startWorkerProcess(`127.0.0.1:${port}`);
    let server: TestWorkflowEnvironment | undefined;
    try {
      // Two failed attempts: the worker is still there after the first wait, and the delay doubled.
      await worker.logLine((line) => isRetry(line) && line.includes('"attempt":2'));
      const retries = logged(worker.lines, retryMessage);
      assert.deepEqual(
        retries.slice(0, 2).map((entry) => [entry.level, entry.attempt, entry.retryInMs, entry.address]),
        [
          ['warn', 1, 1000, `127.0.0.1:${port}`],
          ['warn', 2, 2000, `127.0.0.1:${port}`],
        ],
      );
      assert.equal(worker.child.exitCode, null, 'still running');

      // Temporal comes up on the worker's address: the worker connects and polls, with no restart.
      const cli = await resolveTemporalCli(loadConfig({ PATH: process.env.PATH, HOME: process.env.HOME }));
      server = await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: cli },
          ip: '127.0.0.1',
          port,
          searchAttributes: [...cardOrderSearchAttributes],
          extraArgs: testServerExtraArgs,
        },
      });
      await worker.logLine((line) => line.includes('worker polling'));
      assert.equal(logged(worker.lines, 'connected to Temporal').length, 1);
    } finally {
      worker.child.kill('SIGTERM');
      const [code] = await worker.exited;
      await server?.teardown();
      assert.equal(code, 0, worker.lines.join('\n'));
    }
    assert.ok(worker.lines.some((line) => line.includes('worker stopped')));
  });

  it('stops at once and cleanly on SIGTERM while it waits for Temporal', async () => {
    const worker = await startWorkerProcess(`127.0.0.1:${await freePort()}`);
    // The third failure starts a 4 s wait: the signal must cut it short, not be noticed after it.
    await worker.logLine((line) => isRetry(line) && line.includes('"attempt":3'));
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    const [code, signal] = await worker.exited;
    const tookMs = Date.now() - signalledAt;
    assert.deepEqual([code, signal], [0, null], worker.lines.join('\n'));
    assert.ok(tookMs < 2_000, `stopped ${tookMs} ms after the signal`);
    assert.deepEqual(
      logged(worker.lines, retryMessage).map((entry) => entry.retryInMs),
      [1000, 2000, 4000],
      'no attempt after the signal',
    );
    assert.equal(logged(worker.lines, 'worker stopped before Temporal was reachable').length, 1);
  });
});
