import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { projectRoot } from '../../common/config.js';
import { makeKeysDir } from '../helpers/d1-stack.js';
import { freePort } from '../helpers/ports.js';
import { eventually, testEnvironment, uniqueName } from '../helpers/temporal.js';

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
});
