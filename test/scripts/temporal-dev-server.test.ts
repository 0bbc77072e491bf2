import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { loadConfig, type Config } from '../../config/config.js';
import { Supervisor } from '../../scripts/lib/supervisor.js';
import { devServerArgs, startDevServer } from '../../scripts/temporal-dev-server.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { freePort } from '../helpers/ports.js';

async function withDevServer<T>(config: Config, body: (client: Client) => Promise<T>): Promise<T> {
  const supervisor = new Supervisor();
  try {
    await startDevServer(config, supervisor);
    const connection = await Connection.connect({ address: config.temporal.address });
    try {
      return await body(new Client({ connection, namespace: config.temporal.namespace }));
    } finally {
      await connection.close();
    }
  } finally {
    await supervisor.stop();
  }
}

describe('npm run temporal (the embedded dev server)', () => {
  it('persists to SQLite in WAL mode and registers every search attribute as Keyword', () => {
    const args = devServerArgs(loadConfig({}));
    assert.ok(args.join(' ').includes('--sqlite-pragma journal_mode=WAL'));
    assert.ok(args.join(' ').includes('--ui-port 8233'));
    for (const key of cardOrderSearchAttributes) {
      assert.ok(args.join(' ').includes(`--search-attribute ${key.name}=Keyword`), key.name);
    }
  });

  it('keeps every workflow across a restart, with the search attributes still registered', async () => {
    const dataDir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'devserver-'));
    const config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_DB_FILE: path.join(dataDir, 'temporal.sqlite'),
      LOG_LEVEL: 'warn',
    });
    const workflowId = 'survives-restart';
    const runId = await withDevServer(config, async (client) => {
      const handle = await client.workflow.start('notRegisteredAnywhere', { taskQueue: 'nobody-polls', workflowId });
      return handle.firstExecutionRunId;
    });

    await withDevServer(config, async (client) => {
      const description = await client.workflow.getHandle(workflowId).describe();
      assert.equal(description.runId, runId);
      assert.equal(description.status.name, 'RUNNING');
      const { customAttributes } = await client.connection.operatorService.listSearchAttributes({
        namespace: config.temporal.namespace,
      });
      const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
      for (const key of cardOrderSearchAttributes) assert.equal(customAttributes?.[key.name], keyword, key.name);
    });
  });
});
