/**
 * The campaign stores against what they run on: the folder store on disk and the PostgreSQL store on a real
 * PostgreSQL (Debian's postgresql-15, a private cluster on a private port and data dir, started as `npm run stack`
 * starts its own). The same contract for both: pages and failure records sealed with the payload codec, manifests
 * written by compare-and-set so that two writers racing never lose each other's progress, a missing or unreadable
 * page failing for good (CAMPAIGN_PAGE_MISSING, non-retryable from the activity), and the retention sweep.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import pg from 'pg';
import { createSubmitCampaignPage, type CampaignTargets } from '../../activities/submit-campaign-page.js';
import {
  FileCampaignPageStore,
  updateManifest,
  type CampaignCard,
  type CampaignCardFailure,
  type CampaignManifest,
  type CampaignPageStore,
} from '../../campaigns/page-store.js';
import {
  PostgresCampaignPageStore,
  setUpCampaignStore,
  type PostgresStoreSettings,
} from '../../campaigns/pg-page-store.js';
import { openCampaignStore, sweepCampaignStore } from '../../campaigns/store.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { loadConfig } from '../../config/config.js';
import { CampaignPageMissingError, CampaignStoreConflictError } from '../../campaigns/errors.js';
import { ConfigError } from '../../common/errors.js';
import type { D1Client } from '../../d1/client.js';
import { freePort } from '../../scripts/lib/ports.js';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { startPostgres } from '../../scripts/stack/postgres.js';
import { TestProcesses } from '../helpers/processes.js';

const ISSUER = 'ISSUER0001';

const codecOf = (id: string) => new AesGcmPayloadCodec({ activeKeyId: id, keys: new Map([[id, randomBytes(32)]]) });
const codecs = [codecOf('store-test')];

/** A card as ingestion stores it; the store treats it as data, so a recognisable name is all it needs. */
function card(line: number): CampaignCard {
  return {
    line,
    order: {
      issuerId: ISSUER,
      issuerRequestId: `req-${line}`,
      cardId: `card-${line}`,
      consumerId: 'cons-1',
      cardProductId: 'PRD_VISA_DEBIT',
      services: { issuance: 'RENEWAL' },
      shipment: { type: 'BULK', deliveryAddress: { firstName: 'JANE', lastName: 'STOREFIXTURE' } },
      encryptedData: 'jwe',
    },
    fingerprint: { fields: {} },
  } as unknown as CampaignCard;
}

function manifestOf(campaignId: string, pages = 0): CampaignManifest {
  return {
    issuerId: ISSUER,
    campaignId,
    fileDigest: 'digest-a',
    format: 'csv',
    pageSize: 2,
    total: 4,
    valid: 4,
    invalid: 0,
    invalidLines: [],
    pages,
    complete: false,
  };
}

function failure(line: number, errorCode: string): CampaignCardFailure {
  return { line, cardId: `card-${line}`, issuerRequestId: `req-${line}`, errorCode, reason: 'refused by STOREFIXTURE' };
}

let serial = 0;
const newCampaignId = () => `store-${process.pid}-${(serial += 1)}`;

interface StoreUnderTest {
  name: string;
  /** A store as one process opens it; two calls are two processes' stores on the same data. */
  open(codecsOf?: typeof codecs): CampaignPageStore;
  /** Every byte stored for a campaign, to look for clear text. */
  rawBytes(campaignId: string): Promise<Buffer>;
  /** Replaces a stored page's bytes, as damage would. */
  damagePage(campaignId: string, page: number): Promise<void>;
}

describe('campaign page stores', () => {
  let dir: string;
  let processes: TestProcesses;
  let settings: PostgresStoreSettings;
  const opened: CampaignPageStore[] = [];
  const track = (store: CampaignPageStore) => (opened.push(store), store);

  before(async () => {
    // PostgreSQL runs as the postgres user when the tests run as root: the data dir must be reachable by it.
    dir = await mkdtemp(path.join(tmpdir(), 'd1-campaign-store-'));
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, 'logs'));
    const env = { STACK_DATA_DIR: path.join(dir, 'stack'), STACK_POSTGRES_PORT: String(await freePort()) };
    const stack = loadStackConfig(loadConfig(env), env);
    processes = new TestProcesses(path.join(dir, 'logs'));
    const postgres = await startPostgres(stack, processes, () => undefined);
    settings = { ...postgres, database: 'campaign_store_test', ssl: false, maxConnections: 4 };
  });

  after(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await processes?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sets the PostgreSQL store up once: database and tables, then finds them present', async () => {
    assert.equal(await setUpCampaignStore(settings), 'created');
    assert.equal(await setUpCampaignStore(settings), 'present');
  });

  const stores: StoreUnderTest[] = [
    {
      name: 'folder',
      open: (withCodecs = codecs) => track(new FileCampaignPageStore(path.join(dir, 'files'), withCodecs)),
      async rawBytes(campaignId) {
        const { readdir, readFile } = await import('node:fs/promises');
        const folder = path.join(dir, 'files', ISSUER, campaignId);
        const names = await readdir(folder);
        return Buffer.concat(await Promise.all(names.map((name) => readFile(path.join(folder, name)))));
      },
      async damagePage(campaignId, page) {
        const file = path.join(dir, 'files', ISSUER, campaignId, `page-${String(page).padStart(6, '0')}.bin`);
        await writeFile(file, randomBytes(64));
      },
    },
    {
      name: 'PostgreSQL',
      open: (withCodecs = codecs) => track(new PostgresCampaignPageStore(settings, withCodecs)),
      async rawBytes(campaignId) {
        return withClient(async (client) => {
          const { rows } = await client.query<{ bytes: Buffer }>(
            `SELECT sealed AS bytes FROM campaign_pages WHERE campaign_id = $1
             UNION ALL SELECT sealed FROM campaign_failures WHERE campaign_id = $1
             UNION ALL SELECT convert_to(manifest::text, 'UTF8') FROM campaign_manifests WHERE campaign_id = $1`,
            [campaignId],
          );
          return Buffer.concat(rows.map((row) => row.bytes));
        });
      },
      async damagePage(campaignId, page) {
        await withClient((client) =>
          client.query('UPDATE campaign_pages SET sealed = $3 WHERE campaign_id = $1 AND page = $2', [
            campaignId,
            page,
            randomBytes(64),
          ]),
        );
      },
    },
  ];

  async function withClient<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client(settings);
    await client.connect();
    try {
      return await body(client);
    } finally {
      await client.end();
    }
  }

  for (const subject of stores) {
    describe(`the ${subject.name} store`, () => {
      it('puts, gets and lists pages, sealed: no card data in clear at rest', async () => {
        const store = subject.open();
        const campaignId = newCampaignId();
        await store.writeManifest(manifestOf(campaignId), undefined);
        assert.equal(await store.hasPage(ISSUER, campaignId, 0), false);
        await store.writePage(ISSUER, campaignId, 0, [card(2), card(3)]);
        await store.writePage(ISSUER, campaignId, 1, [card(4)]);
        assert.equal(await store.hasPage(ISSUER, campaignId, 0), true);

        // Another process (another pool, another folder handle) reads what this one wrote.
        const other = subject.open();
        assert.deepEqual(await other.readPage(ISSUER, campaignId, 0), [card(2), card(3)]);
        assert.deepEqual(await other.readPage(ISSUER, campaignId, 1), [card(4)]);
        const listed = (await other.listCampaigns()).find((c) => c.campaignId === campaignId);
        assert.equal(listed?.pages, 2);
        assert.equal(listed?.issuerId, ISSUER);

        await store.writeFailures(ISSUER, campaignId, 0, [failure(3, 'INVALID_FIELD')]);
        const raw = (await subject.rawBytes(campaignId)).toString('latin1');
        assert.equal(raw.includes('STOREFIXTURE'), false, 'names and reasons are sealed');
        assert.ok(raw.includes('digest-a'), 'the manifest (ids and counts) is readable');
      });

      it('keeps failure records per page, a retried page replacing its own, read in page order', async () => {
        const store = subject.open();
        const campaignId = newCampaignId();
        await store.writeFailures(ISSUER, campaignId, 1, [failure(9, 'ORDER_CONFLICT')]);
        await store.writeFailures(ISSUER, campaignId, 0, [failure(2, 'INVALID_FIELD'), failure(3, 'INVALID_FIELD')]);
        await store.writeFailures(ISSUER, campaignId, 0, [failure(3, 'INVALID_FIELD')]);
        assert.deepEqual(
          (await subject.open().readFailures(ISSUER, campaignId)).map((f) => [f.line, f.errorCode]),
          [
            [3, 'INVALID_FIELD'],
            [9, 'ORDER_CONFLICT'],
          ],
        );
        assert.deepEqual(await store.readFailures(ISSUER, newCampaignId()), []);
      });

      it('writes the manifest by compare-and-set: of two racing writers one wins, the other retries on a conflict', async () => {
        const [a, b] = [subject.open(), subject.open()];
        const campaignId = newCampaignId();
        const created = await Promise.allSettled([
          a.writeManifest(manifestOf(campaignId, 1), undefined),
          b.writeManifest(manifestOf(campaignId, 2), undefined),
        ]);
        assert.deepEqual(created.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const lost = created.find((r) => r.status === 'rejected');
        assert.ok(lost?.reason instanceof CampaignStoreConflictError);
        assert.equal(lost.reason.code, 'ERR_CAMPAIGN_STORE_CONFLICT');

        const seen = await a.readManifest(ISSUER, campaignId);
        assert.ok(seen);
        await b.writeManifest({ ...seen, complete: true }, seen.version);
        await assert.rejects(a.writeManifest(seen, seen.version), CampaignStoreConflictError, 'a stale version loses');

        // Both add pages at once, many times: every addition survives, because a loser reads again and retries.
        const before = (await a.readManifest(ISSUER, campaignId))?.pages ?? 0;
        const add = (store: CampaignPageStore) =>
          updateManifest(store, ISSUER, campaignId, (current) => ({
            ...(current ?? manifestOf(campaignId)),
            pages: (current?.pages ?? 0) + 1,
          }));
        await Promise.all(Array.from({ length: 10 }, (_, i) => add(i % 2 === 0 ? a : b)));
        const final = await b.readManifest(ISSUER, campaignId);
        assert.equal(final?.pages, before + 10);
        assert.equal(final?.complete, true);
      });

      it('fails a missing or unreadable page with CAMPAIGN_PAGE_MISSING, never echoing card data', async () => {
        const store = subject.open();
        const campaignId = newCampaignId();
        const missing = await store.readPage(ISSUER, campaignId, 0).then(
          () => assert.fail('no page 0'),
          (err: unknown) => err,
        );
        assert.ok(missing instanceof CampaignPageMissingError);
        assert.deepEqual(
          [missing.code, missing.problem, missing.retryable],
          ['CAMPAIGN_PAGE_MISSING', 'missing', false],
        );

        await store.writePage(ISSUER, campaignId, 0, [card(2)]);
        await store.writePage(ISSUER, campaignId, 1, [card(3)]);
        // Sealed with a key this process does not have: a worker with another key ring.
        const foreign = await subject
          .open([codecOf('another-ring')])
          .readPage(ISSUER, campaignId, 0)
          .catch((err: unknown) => err);
        assert.ok(foreign instanceof CampaignPageMissingError);
        assert.equal(foreign.problem, 'unreadable');
        await subject.damagePage(campaignId, 1);
        const damaged = await store.readPage(ISSUER, campaignId, 1).catch((err: unknown) => err);
        assert.ok(damaged instanceof CampaignPageMissingError);
        assert.equal(damaged.problem, 'unreadable');
        assert.doesNotMatch(JSON.stringify([damaged.message, foreign.message]), /STOREFIXTURE/);
      });

      it('deletes the pages of campaigns ended longer ago than the retention, and only those', async () => {
        const store = subject.open();
        const day = 86_400_000;
        const now = Date.now();
        const ids = {
          ended: newCampaignId(),
          running: newCampaignId(),
          recent: newCampaignId(),
          gone: newCampaignId(),
        };
        for (const campaignId of Object.values(ids)) {
          await store.writeManifest(manifestOf(campaignId, 1), undefined);
          await store.writePage(ISSUER, campaignId, 0, [card(2)]);
        }
        const closed: Record<string, { status: string; closeTime?: Date }> = {
          [ids.ended]: { status: 'COMPLETED', closeTime: new Date(now - 31 * day) },
          [ids.running]: { status: 'RUNNING' },
          [ids.recent]: { status: 'CANCELLED', closeTime: new Date(now - 29 * day) },
        };
        // The only Temporal call the sweep makes: describing the campaign's workflow.
        const temporal = {
          workflow: {
            getHandle: (workflowId: string) => ({
              describe: () => {
                const found = Object.entries(closed).find(([id]) => workflowId.endsWith(`:${id}`))?.[1];
                if (!found) return Promise.reject(new WorkflowNotFoundError('gone', workflowId, undefined));
                return Promise.resolve({ status: { name: found.status }, closeTime: found.closeTime });
              },
            }),
          },
        } as unknown as Client;

        const mine = () => new Set(Object.values(ids));
        const pagesLeft = async () =>
          Object.fromEntries(
            (await store.listCampaigns()).filter((c) => mine().has(c.campaignId)).map((c) => [c.campaignId, c.pages]),
          );
        await sweepCampaignStore(store, temporal, 30 * day, now);
        assert.deepEqual(await pagesLeft(), { [ids.ended]: 0, [ids.running]: 1, [ids.recent]: 1, [ids.gone]: 1 });
        // Temporal's own retention removed the workflow: the store's last write dates the campaign.
        await sweepCampaignStore(store, temporal, 30 * day, now + 31 * day);
        assert.equal((await pagesLeft())[ids.gone], 0);
        assert.equal((await pagesLeft())[ids.running], 1);
        await assert.rejects(store.readPage(ISSUER, ids.ended, 0), CampaignPageMissingError);
        assert.equal((await store.readManifest(ISSUER, ids.ended))?.pages, 1, 'the manifest stays');
      });
    });
  }

  it('fails the page activity for good with CAMPAIGN_PAGE_MISSING when its page is not in the store', async () => {
    const store = stores[1]?.open();
    assert.ok(store);
    const targets = { store } as unknown as CampaignTargets;
    const submit = createSubmitCampaignPage({} as D1Client, { programs: {} }, targets);
    // The SDK logs a failed activity at warn; the assertion below is what matters.
    const err = await new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') })
      .run(submit, {
        issuerId: ISSUER,
        campaignId: newCampaignId(),
        page: 0,
        submission: 'BATCH' as const,
        cardDefaults: {} as never,
        cardSubmitTimeoutMs: 1_000,
      })
      .then(
        () => assert.fail('the page is missing'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure);
    assert.deepEqual([err.type, err.nonRetryable], ['CAMPAIGN_PAGE_MISSING', true]);
  });

  it('opens the store the configuration names; PostgreSQL needs its URL, and no setting echoes a password', () => {
    const base = { CAMPAIGN_STORE_DIR: path.join(dir, 'files') };
    assert.ok(openCampaignStore(loadConfig(base).campaigns, codecs) instanceof FileCampaignPageStore);
    assert.throws(
      () => loadConfig({ ...base, CAMPAIGN_STORE: 'postgres' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((issue) => issue.key),
          ['CAMPAIGN_STORE_URL'],
        );
        return true;
      },
    );
    const secret = 'hunter2-not-logged';
    assert.throws(
      () => loadConfig({ ...base, CAMPAIGN_STORE: 'postgres', CAMPAIGN_STORE_URL: `mysql://u:${secret}@h/db` }),
      (err: unknown) => err instanceof ConfigError && !JSON.stringify([err.message, err.issues]).includes(secret),
    );
    const config = loadConfig({
      ...base,
      CAMPAIGN_STORE: 'postgres',
      CAMPAIGN_STORE_URL: `postgres://card%40orders:${secret}@db.internal:6543/campaigns?sslmode=require`,
    });
    const store = track(openCampaignStore(config.campaigns, codecs));
    assert.ok(store instanceof PostgresCampaignPageStore);
    assert.deepEqual(
      { ...config.campaigns.postgres },
      {
        host: 'db.internal',
        port: 6543,
        database: 'campaigns',
        user: 'card@orders',
        password: secret,
        passwordFile: undefined,
        ssl: true,
        maxConnections: 4,
      },
    );
  });
});
