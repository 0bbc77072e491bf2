/**
 * The production topology for real: PostgreSQL, the Temporal server on it, two workers and two webhook replicas the
 * simulator posts to in turn, all as separate processes on private ports and a data dir of the test's own. Orders
 * ride out a worker and a webhook replica killed with SIGKILL and the Temporal server restarted mid-run; the
 * schema setup upgrades an older schema on the same data; `temporal:setup` changes nothing the second time; its
 * visibility counts open workflows by `CloseTime IS NULL`, as campaigns do, and lists a campaign file's open card
 * orders by 500 cardIds at once; Web UI, behind its login at the development identity provider, serves the orders
 * from the server's PostgreSQL visibility to a signed-in operator and nothing to anyone else; a campaign stored by
 * the CLI runs on two workers, each with a data folder of its own, through the PostgreSQL campaign store and a worker
 * killed mid-campaign, every card ordered once.
 *
 * The first run on a machine builds the Temporal server, temporal-sql-tool and the Web UI server with Go into the
 * per-user cache (about 7 minutes on 2 cores, longer on a busy one); later runs find them there.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { writeSampleCampaignFile } from '../../campaigns/sample-file.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadConfig, projectRoot, type Config } from '../../config/config.js';
import { OrderFailedError } from '../../orders/errors.js';
import { visibilityLiteral } from '../../temporal/visibility-query.js';
import { findOpenCardOrders } from '../../client/campaigns.js';
import { CARD_ORDER_WORKFLOW } from '../../rules/contracts/card-order.js';
import { cardIdKey, issuerIdKey } from '../../rules/contracts/search-attributes.js';
import { ensureDemoKeys } from '../../d1/keys.js';
import type { CardOrderRequest } from '../../orders/schema.js';
import type { OrderSummary } from '../../simulator/order-records.js';
import { freePort, freePortRun } from '../../scripts/lib/ports.js';
import { waitForPoller } from '../../scripts/lib/pollers.js';
import { resolveStackBinaries, type StackBinaries } from '../../scripts/stack/binaries.js';
import { loadStackConfig, TEMPORAL_INTERNAL_PORTS, type StackConfig } from '../../scripts/stack/config.js';
import { setUpStackCampaignStore, stackCampaignStoreEnv } from '../../scripts/stack/campaign-store.js';
import { startPostgres, type RunningPostgres } from '../../scripts/stack/postgres.js';
import { DATABASES, setUpSchemas, sqlTool, startTemporalServer } from '../../scripts/stack/temporal-server.js';
import { prepareStackIdentity, startStackIdentity } from '../../scripts/stack/identity.js';
import { startWebUi } from '../../scripts/stack/web-ui.js';
import { setUpTemporal } from '../../scripts/temporal-setup.js';
import { testAddress, testCard } from '../helpers/fixtures.js';
import { signInThrough } from '../helpers/oidc-sign-in.js';
import { eventually } from '../helpers/temporal.js';
import { TestProcesses } from '../helpers/processes.js';

/** The schema version before the newest in `versioned`, so that setting up from it is a real upgrade. */
async function previousVersion(versioned: string): Promise<{ previous: string; newest: string }> {
  const versions = (await readdir(versioned))
    .map((name) => name.replace(/^v/, ''))
    .sort((a, b) => {
      const [a1 = 0, a2 = 0] = a.split('.').map(Number);
      const [b1 = 0, b2 = 0] = b.split('.').map(Number);
      return a1 - b1 || a2 - b2;
    });
  const newest = versions.at(-1);
  const previous = versions.at(-2);
  assert.ok(newest && previous, `at least two schema versions in ${versioned}`);
  return { previous, newest };
}

describe('the stack on PostgreSQL', () => {
  let dir: string;
  let env: Record<string, string | undefined>;
  let config: Config;
  let stack: StackConfig;
  let binaries: StackBinaries;
  let postgres: RunningPostgres;
  let processes: TestProcesses;
  const said: string[] = [];
  const say = (message: string) => said.push(message);

  before(async () => {
    // PostgreSQL runs as the postgres user when the tests run as root: its data dir must be reachable by it, which
    // the test run's own 0700 temp dir is not.
    dir = await mkdtemp(path.join(tmpdir(), 'd1-stack-test-'));
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, 'logs'));
    const [temporalPort, postgresPort, simulatorPort, webhookA, webhookB, uiPort, identityPort, internal] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePortRun(TEMPORAL_INTERNAL_PORTS),
    ];
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_UI_PORT: String(uiPort),
      KEYS_DIR: path.join(dir, 'keys'),
      LOGS_DIR: path.join(dir, 'logs'),
      STACK_DATA_DIR: path.join(dir, 'stack'),
      STACK_POSTGRES_PORT: String(postgresPort),
      STACK_TEMPORAL_INTERNAL_PORT: String(internal),
      STACK_WEBHOOK_PORTS: `${webhookA},${webhookB}`,
      STACK_IDENTITY_PORT: String(identityPort),
      D1_SIM_PORT: String(simulatorPort),
      D1_BASE_URL: `http://127.0.0.1:${simulatorPort}`,
      // Steps of a second give the cancel below time to land before shipment, however loaded the machine.
      D1_SIM_STEP_DELAY: '1s',
      D1_SIM_NOTIFY_RETRY_BASE: '200ms',
      D1_SIM_FAULTS: JSON.stringify({
        outcomes: [
          { match: { cardId: 'pg-card-fails' }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' },
        ],
      }),
      // Short timings, as every test sets them; the defaults are production's.
      ORDER_NOTIFICATION_TIMEOUT: '5s',
      ORDER_POLL_INTERVAL: '2s',
      ORDER_POLL_MAX_INTERVAL: '5s',
      // Shipped orders listen for the carrier a little while, then complete.
      ORDER_DELIVERY_WINDOW: '2s',
      WORKER_METRICS_PORT: '0',
      WEBHOOK_METRICS_PORT: '0',
      WORKER_SHUTDOWN_GRACE: '2s',
      LOG_LEVEL: 'warn',
      // The simulator notifies the webhooks with its public demo credentials, allowed only in demo mode.
      DEMO_MODE: 'true',
    };
    config = loadConfig(env);
    stack = loadStackConfig(config, env);
    await ensureDemoKeys(config.keysDir);
    binaries = await resolveStackBinaries(config, (message) => process.stderr.write(`${message}\n`));
    processes = new TestProcesses(path.join(dir, 'logs'));
  });

  after(async () => {
    await processes?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('upgrades an older schema on the same data, and changes nothing on a later start', async () => {
    postgres = await startPostgres(stack, processes, say);
    // A cluster left at the release before this one: its schemas one version behind.
    for (const [kind, database] of Object.entries(DATABASES) as [keyof typeof DATABASES, string][]) {
      const versioned = path.join(binaries.postgresSchemaDir, kind, 'versioned');
      const { previous } = await previousVersion(versioned);
      await sqlTool(binaries, postgres, database, ['create-database']);
      await sqlTool(binaries, postgres, database, ['setup-schema', '-v', '0.0']);
      await sqlTool(binaries, postgres, database, ['update-schema', '-d', versioned, '-v', previous]);
    }

    said.length = 0;
    await setUpSchemas(binaries, postgres, say);
    for (const [kind, database] of Object.entries(DATABASES) as [keyof typeof DATABASES, string][]) {
      const { newest } = await previousVersion(path.join(binaries.postgresSchemaDir, kind, 'versioned'));
      assert.ok(said.includes(`Upgraded the ${database} schema to version ${newest}`), said.join('\n'));
    }

    said.length = 0;
    await setUpSchemas(binaries, postgres, say);
    assert.deepEqual(said, [], 'a start on an up-to-date schema does nothing');
  });

  it('sets up the namespace and search attributes once; the second setup finds them all present', async () => {
    await startTemporalServer(config, stack, binaries, postgres, processes);
    const first = await setUpTemporal(config);
    assert.ok(first.ok, JSON.stringify(first.steps));
    assert.ok(
      first.steps.some((step) => step.outcome === 'created'),
      'a fresh server lacks at least the search attributes',
    );
    const second = await setUpTemporal(config);
    assert.ok(second.ok, JSON.stringify(second.steps));
    assert.deepEqual(
      second.steps.map((step) => step.outcome),
      second.steps.map(() => 'present'),
    );
  });

  it('takes every order to its end with one D1 order each, through worker and webhook kills and a server restart', async () => {
    const node = (name: string, entry: string, extra: Record<string, string> = {}) =>
      processes.spawn(name, process.execPath, ['--import', 'tsx', path.join(projectRoot, entry)], {
        ...env,
        ...extra,
      });
    const webhookUrls = stack.webhookPorts.map((port) => `http://127.0.0.1:${port}`);
    stack.webhookPorts.forEach((port, i) =>
      node(`webhook-${i + 1}`, 'webhook/main.ts', { WEBHOOK_PORT: String(port) }),
    );
    node('d1-simulator', 'simulator/main.ts', { D1_SIM_WEBHOOK_URL: webhookUrls.join(',') });
    node('worker-1', 'workers/main.ts');
    node('worker-2', 'workers/main.ts');
    await waitForPoller(config, 120_000);

    const client = await CardOrdersClient.connect({ config });
    try {
      const order = (id: string): CardOrderRequest => ({
        issuerId: config.d1.issuerId,
        cardId: `pg-card-${id}`,
        consumerId: 'cons_42',
        issuerRequestId: `pg-${id}`,
        cardProductId: 'PRD_VISA_DEBIT',
        services: { issuance: 'CREATION', delivery: 'usps-imb' },
        shipment: { type: 'INDIVIDUAL', deliveryAddress: testAddress, individualAddress: testAddress },
        sensitiveData: testCard,
      });
      const expected = new Map<string, string>([
        ...Array.from({ length: 8 }, (_, i) => [`ships-${i}`, 'SHIPPED'] as const),
        ['fails', 'COMPENSATED'],
        ['cancel', 'CANCELLED'],
      ]);
      await client.orderCard(order('cancel'));
      // The cancel is for an order at D1 (one D1 order each, below): a cancel that beat the submission (a worker slow
      // to its first task on a busy machine) would end the order before D1 ever saw it.
      await eventually(async () => ((await client.getOrder('pg-cancel')).operationId ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the order to be cancelled to reach D1',
      });
      assert.equal((await client.cancelOrder('pg-cancel')).outcome, 'CANCELLED');
      for (const id of expected.keys()) if (id !== 'cancel') await client.orderCard(order(id));

      // Mid-run: one worker and one webhook replica die without a goodbye, then the Temporal server restarts.
      await processes.kill('worker-1');
      await processes.kill('webhook-1');
      await processes.kill('temporal-server');
      await delay(1_000);
      processes.restart('temporal-server');

      const ended = await Promise.all(
        [...expected.keys()].map(async (id) => {
          // A compensated order's result is an OrderFailedError; its end state is what counts here.
          await client.waitForOrder(`pg-${id}`).catch((err: unknown) => {
            if (!(err instanceof OrderFailedError)) throw err;
          });
          return [id, (await client.getOrder(`pg-${id}`)).status] as const;
        }),
      );
      assert.deepEqual(new Map(ended), expected);
    } finally {
      await client.close();
    }

    const response = await request(`${config.d1.baseUrl}/__sim/orders`);
    const d1Orders = (await response.body.json()) as OrderSummary[];
    const perCard = new Map<string, number>();
    for (const { cardId } of d1Orders) perCard.set(cardId, (perCard.get(cardId) ?? 0) + 1);
    assert.equal(d1Orders.length, 10, 'one D1 order per card order');
    assert.ok(
      [...perCard.values()].every((count) => count === 1),
      JSON.stringify([...perCard]),
    );
  });

  it('counts open workflows by CloseTime IS NULL on PostgreSQL visibility, as campaigns do, and lists by CardId IN', async () => {
    const connection = await Connection.connect({ address: config.temporal.address });
    try {
      const temporal = new Client({ connection, namespace: config.temporal.namespace });
      // No worker polls this queue: one workflow stays open, the other is terminated.
      const taskQueue = `pg-visibility-${Date.now()}`;
      const start = (id: string) => temporal.workflow.start('visibilityCheck', { taskQueue, workflowId: id, args: [] });
      await start(`${taskQueue}-open`);
      await (await start(`${taskQueue}-closed`)).terminate('closed for the count');
      const count = async (filter: string) =>
        (await temporal.workflow.count(`TaskQueue = ${visibilityLiteral(taskQueue)} AND ${filter}`)).count;
      // Visibility is eventually consistent: wait until it holds the termination.
      const deadline = Date.now() + 30_000;
      while ((await count(`CloseTime IS NOT NULL`)) < 1 && Date.now() < deadline) await delay(200);
      assert.deepEqual(
        [
          await count('CloseTime IS NULL'),
          await count(`ExecutionStatus = 'Running'`),
          await count('CloseTime IS NOT NULL'),
        ],
        [1, 1, 1],
      );
      await temporal.workflow.getHandle(`${taskQueue}-open`).terminate('done');

      // A campaign file's open-order check: one listing of 500 cardIds (an IN list) on PostgreSQL visibility.
      const cardOrder = (card: string) =>
        temporal.workflow.start(CARD_ORDER_WORKFLOW, {
          taskQueue,
          workflowId: `${taskQueue}-${card}`,
          args: [],
          typedSearchAttributes: [
            { key: issuerIdKey, value: config.d1.issuerId },
            { key: cardIdKey, value: card },
          ],
        });
      const open = await cardOrder('pg-open-card');
      await (await cardOrder('pg-closed-card')).terminate('closed for the check');
      const cards = ['pg-open-card', 'pg-closed-card', ...Array.from({ length: 498 }, (_, i) => `pg-card-${i}`)];
      const openCards = async () =>
        (await findOpenCardOrders(temporal, taskQueue, config.d1.issuerId, cards)).map((o) => o.workflowId);
      // Visibility lags: wait until it holds both starts and the termination.
      const indexedBy = Date.now() + 30_000;
      let listed = await openCards();
      while ((listed.length !== 1 || (await count('CloseTime IS NOT NULL')) < 2) && Date.now() < indexedBy) {
        await delay(200);
        listed = await openCards();
      }
      assert.deepEqual(listed, [open.workflowId]);
      await open.terminate('done');
    } finally {
      await connection.close();
    }
  });

  it('serves Web UI behind its login: nothing without it, the orders from PostgreSQL visibility once signed in', async () => {
    const { identity } = await prepareStackIdentity(stack);
    await startStackIdentity(stack, identity, processes, path.join(projectRoot, 'identity/main.ts'));
    await startWebUi(config, stack, binaries, processes, {
      identity,
      codecEndpoint: `https://localhost:${config.codecServer.port}`,
    });
    const ui = `http://localhost:${stack.ui.port}`;
    const page = await request(`${ui}/`);
    assert.equal(page.statusCode, 200);
    await page.body.dump();
    const query = encodeURIComponent("CardOrderStatus = 'SHIPPED'");
    const list = (headers: Record<string, string> = {}) =>
      request(`${ui}/api/v1/namespaces/${config.temporal.namespace}/workflows?query=${query}`, { headers });
    const anonymous = await list();
    assert.equal(anonymous.statusCode, 401, 'no order without signing in');
    await anonymous.body.dump();

    const [username = '', password = ''] =
      (await readFile(identity.passwordsFile, 'utf8')).split('\n')[0]?.split(' ') ?? [];
    assert.equal(username, 'operator');
    const { cookies } = await signInThrough(`${ui}/auth/sso`, { username, password }, (url) => url.href === `${ui}/`);
    const user = JSON.parse(Buffer.from(decodeURIComponent(cookies.get('user0') ?? ''), 'base64').toString()) as {
      AccessToken: string;
      IDToken: string;
    };
    // As the browser sends them: the tokens, and the UI's cookies (its session start among them).
    const listed = await list({
      authorization: `Bearer ${user.AccessToken}`,
      'authorization-extras': user.IDToken,
      cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
    });
    assert.equal(listed.statusCode, 200);
    const { executions } = (await listed.body.json()) as { executions: { execution: { workflowId: string } }[] };
    assert.equal(executions.length, 8, 'the eight shipped orders');
  });

  it(
    'runs a campaign from the CLI on two workers with data folders of their own, through the PostgreSQL store and a worker kill: every card ordered once',
    { timeout: 300_000 },
    async () => {
      assert.equal(await setUpStackCampaignStore(postgres), 'created');
      assert.equal(await setUpStackCampaignStore(postgres), 'present', 'the setup step is idempotent');
      const campaignEnv: Record<string, string> = {
        ...stackCampaignStoreEnv(config, stack, postgres),
        D1_BATCH_SIZE: '4',
        CAMPAIGN_CHECK_INTERVAL: '500ms',
        CAMPAIGN_CHECK_MAX_INTERVAL: '2s',
        CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT: '5s',
      };
      assert.equal(campaignEnv.CAMPAIGN_STORE, 'postgres');
      // The workers of the test above read the folder store: none of them may take a page of this campaign.
      await processes.kill('worker-2');
      const dataDirs = ['cli', 'worker-a', 'worker-b'].map((name) => path.join(dir, `${name}-data`));
      const [cliData, ...workerData] = dataDirs as [string, string, string];
      workerData.forEach((data, i) =>
        processes.spawn(
          `campaign-worker-${i + 1}`,
          process.execPath,
          ['--import', 'tsx', path.join(projectRoot, 'workers/main.ts')],
          { ...env, ...campaignEnv, CAMPAIGN_STORE_DIR: data },
        ),
      );
      const cliConfig = loadConfig({ ...env, ...campaignEnv, CAMPAIGN_STORE_DIR: cliData });
      const client = await CardOrdersClient.connect({ config: cliConfig });
      try {
        const file = path.join(dir, 'renewals.csv');
        const prefix = 'pg-campaign';
        await writeSampleCampaignFile(file, { cards: 12, format: 'csv', issuerId: config.d1.issuerId, prefix });
        const stats = async () =>
          (await (await request(`${config.d1.baseUrl}/__sim/stats`)).body.json()) as { batchRequests: number };
        const before = await stats();
        await client.startCampaign({ file, campaignId: 'pg-stack-campaign' });
        // A worker dies once the campaign's first batch reached D1; the other takes over whatever it held.
        await eventually(async () => ((await stats()).batchRequests > before.batchRequests ? true : undefined), {
          timeoutMs: 120_000,
          what: "the campaign's first batch at D1",
        });
        await processes.kill('campaign-worker-1');
        const done = await eventually(
          async () => {
            const status = await client.getCampaign('pg-stack-campaign');
            return status.state === 'COMPLETED' || status.state === 'FAILED' ? status : undefined;
          },
          { timeoutMs: 240_000, intervalMs: 500, what: 'the campaign to end' },
        );
        assert.equal(done.state, 'COMPLETED');
        assert.deepEqual(done.counts, { SHIPPED: 12 });

        const d1Orders = ((await (await request(`${config.d1.baseUrl}/__sim/orders`)).body.json()) as OrderSummary[])
          .filter((o) => o.cardId.startsWith(prefix))
          .map((o) => o.cardId);
        assert.equal(d1Orders.length, 12, 'one D1 order per card');
        assert.equal(new Set(d1Orders).size, 12, 'no card twice');
      } finally {
        await client.close();
      }
      // Nothing went to the processes' own folders: the pages live in PostgreSQL only.
      for (const data of dataDirs) {
        assert.deepEqual(await readdir(data).catch(() => []), [], data);
      }
    },
  );
});
