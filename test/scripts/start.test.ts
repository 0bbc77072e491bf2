import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { Connection, Client } from '@temporalio/client';
import { request } from 'undici';
import { projectRoot } from '../../config/config.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { demoOrders } from '../../scripts/lib/demo-orders.js';
import { startInputAsCodecJson } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/temporal.js';

/** Whether something still listens on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start', () => {
  it('brings the whole system up, takes the example orders to their ends, and stops every process', async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'start-'));
    const ports = {
      temporal: await freePort(),
      ui: await freePort(),
      simulator: await freePort(),
      webhook: await freePort(),
      codec: await freePort(),
      workerMetrics: await freePort(),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts/start.ts')], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
        TEMPORAL_UI_PORT: String(ports.ui),
        TEMPORAL_DB_FILE: path.join(dir, 'temporal.sqlite'),
        KEYS_DIR: path.join(dir, 'keys'),
        LOGS_DIR: path.join(dir, 'logs'),
        D1_SIM_PORT: String(ports.simulator),
        D1_BASE_URL: `http://127.0.0.1:${ports.simulator}`,
        D1_SIM_WEBHOOK_URL: `http://127.0.0.1:${ports.webhook}`,
        WEBHOOK_PORT: String(ports.webhook),
        CODEC_SERVER_PORT: String(ports.codec),
        WORKER_METRICS_PORT: String(ports.workerMetrics),
        WEBHOOK_METRICS_PORT: '0',
        CODEC_SERVER_METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const progress: string[] = [];
    const messages: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => progress.push(line));
    createInterface({ input: child.stderr }).on('line', (line) => messages.push(line));
    const exited = once(child, 'exit');
    try {
      // Every example order reaches the end it was placed for.
      const ended = () =>
        demoOrders.every((demo) =>
          progress.some((line) => line.includes(` ${demo.issuerRequestId} `) && line.includes(` ${demo.expected} `)),
        );
      await eventually(() => ended() || undefined, { timeoutMs: 150_000, intervalMs: 250 }).catch((err: Error) => {
        throw new Error(`${err.message}\nprogress:\n${progress.join('\n')}\nlog:\n${messages.slice(-15).join('\n')}`);
      });
      await eventually(() => messages.some((line) => line.includes('Press Ctrl-C to stop')) || undefined);

      const ui = await request(`http://127.0.0.1:${ports.ui}/`);
      await ui.body.dump();
      assert.equal(ui.statusCode, 200);

      // The codec server decodes what history holds encrypted.
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
      try {
        const history = await new Client({ connection }).workflow
          .getHandle(cardOrderWorkflowId('ISSUER0001', 'demo-ships'))
          .fetchHistory();
        const encoded = startInputAsCodecJson(history);
        const decoded = await request(`http://127.0.0.1:${ports.codec}/default/decode`, {
          method: 'POST',
          headers: {
            origin: `http://localhost:${ports.ui}`,
            'content-type': 'application/json',
            'x-namespace': 'default',
          },
          body: JSON.stringify({ payloads: [encoded] }),
        });
        assert.equal(decoded.statusCode, 200);
        const { payloads } = (await decoded.body.json()) as { payloads: { data: string }[] };
        assert.match(Buffer.from(payloads[0]?.data ?? '', 'base64').toString(), /"issuerRequestId":"demo-ships"/);
      } finally {
        await connection.close();
      }
    } finally {
      child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, messages.slice(-20).join('\n'));
    }
    for (const [name, port] of Object.entries(ports))
      assert.equal(await listening(port), false, `${name} still listens`);
  });
});
