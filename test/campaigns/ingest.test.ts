import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileCampaignPageStore } from '../../campaigns/page-store.js';
import { ingestCampaignFile, OPEN_ORDER_LOOKUP_SIZE, type OpenCardOrder } from '../../campaigns/ingest.js';
import { testPan, writeSampleCampaignFile } from '../../campaigns/sample-file.js';
import { CampaignConflictError, CampaignFileError } from '../../campaigns/errors.js';
import { OrderValidationError } from '../../orders/errors.js';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadConfig } from '../../config/config.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';
import { cardIdKey } from '../../rules/contracts/search-attributes.js';

/** Campaign files into stored pages: streamed, checked line by line, encrypted, resumable. */
describe('campaign ingestion', () => {
  let stack: SagaStack;
  let dir: string;
  let storeDir: string;
  before(async () => {
    dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'campaign-'));
    storeDir = path.join(dir, 'store');
    stack = await startSagaStack({ serviceEnv: { CAMPAIGN_STORE_DIR: storeDir, D1_BATCH_SIZE: '4' } });
  });
  after(async () => {
    await stack?.close();
  });

  async function sample(name: string, cards: number, invalidLines: number[] = []) {
    const file = path.join(dir, name);
    const prefix = uniqueName(name.replace(/\W/g, '')).slice(0, 30);
    await writeSampleCampaignFile(file, {
      cards,
      format: name.endsWith('.csv') ? 'csv' : 'jsonl',
      issuerId: stack.config.d1.issuerId,
      prefix,
      invalidLines,
    });
    return file;
  }

  /** Every byte the store holds for a campaign, as text. */
  async function storedBytes(campaignId: string): Promise<string> {
    const folder = path.join(storeDir, stack.config.d1.issuerId, campaignId);
    const names = await readdir(folder);
    const contents = await Promise.all(names.map((name) => readFile(path.join(folder, name))));
    return contents.map((bytes) => bytes.toString('latin1')).join('\n');
  }

  it('stores a CSV file in pages of D1_BATCH_SIZE: card data as D1 JWE, every page encrypted at rest', async () => {
    const file = await sample('renewals.csv', 10);
    const campaignId = uniqueName('csv').slice(0, 40);
    const manifest = await stack.client.ingestCampaign({ file, campaignId });
    assert.deepEqual(
      [manifest.total, manifest.valid, manifest.invalid, manifest.pages, manifest.complete],
      [10, 10, 0, 3, true],
    );
    const store = stack.client.campaignStore();
    // Written by compare-and-set once before the pages, once per page (how far a cut-off start got), once at the end.
    assert.equal((await store.readManifest(stack.config.d1.issuerId, campaignId))?.version, 5);
    const pages = await Promise.all([0, 1, 2].map((i) => store.readPage(stack.config.d1.issuerId, campaignId, i)));
    assert.deepEqual(
      pages.map((p) => p.length),
      [4, 4, 2],
    );
    const [first] = pages[0] ?? [];
    assert.equal(first?.line, 2, 'the CSV header is line 1');
    assert.match(first?.order.encryptedData ?? '', /^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact ECDH-ES JWE');
    assert.equal('sensitiveData' in (first?.order ?? {}), false);
    const shipment = first?.order.shipment;
    assert.ok(shipment?.type === 'INDIVIDUAL');
    assert.deepEqual(shipment.individualAddress, shipment.deliveryAddress, 'an INDIVIDUAL row ships to its address');
    assert.ok(first?.fingerprint.fields.sensitiveData, 'each card keeps its fingerprint for ORDER_CONFLICT');
    const bytes = await storedBytes(campaignId);
    for (const clear of [testPan(0), 'Main St', 'JANE DOE', 'New York']) {
      assert.equal(bytes.includes(clear), false, `${clear} is not stored in clear`);
    }
  });

  it('reads JSONL, one single-order JSON per line, as it reads CSV', async () => {
    const file = await sample('renewals.jsonl', 5);
    const campaignId = uniqueName('jsonl').slice(0, 40);
    const manifest = await stack.client.ingestCampaign({ file, campaignId });
    assert.deepEqual([manifest.valid, manifest.pages, manifest.format], [5, 2, 'jsonl']);
    const [card] = await stack.client.campaignStore().readPage(stack.config.d1.issuerId, campaignId, 0);
    assert.equal(card?.line, 1);
    assert.equal(card?.order.services.issuance, 'RENEWAL');
  });

  it('refuses a file with bad lines, naming each line and field, never a value, and stores nothing', async () => {
    const file = await sample('bad.csv', 8, [3, 7]);
    await appendFile(file, 'only-two,fields\n');
    const campaignId = uniqueName('bad').slice(0, 40);
    const err = await stack.client.ingestCampaign({ file, campaignId }).then(
      () => assert.fail('the file has bad lines'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CampaignFileError);
    assert.equal(err.code, 'ERR_CAMPAIGN_FILE_INVALID');
    assert.equal(err.invalid, 3);
    assert.deepEqual(
      err.lines.map((l) => [l.line, l.issues.map((issue) => issue.field)]),
      [
        [3, ['sensitiveData.pan']],
        [7, ['sensitiveData.pan']],
        [10, ['(line)']],
      ],
    );
    assert.doesNotMatch(JSON.stringify({ message: err.message, lines: err.lines }), /4000000/);
    assert.equal(
      await new FileCampaignPageStore(storeDir, []).readManifest(stack.config.d1.issuerId, campaignId),
      undefined,
    );
  });

  it('goes on with the valid lines when asked to skip the bad ones, and counts them', async () => {
    const file = await sample('skip.jsonl', 6, [2]);
    await appendFile(file, '{not json\n');
    const manifest = await stack.client.ingestCampaign({
      file,
      campaignId: uniqueName('skip').slice(0, 40),
      skipInvalid: true,
    });
    assert.deepEqual([manifest.total, manifest.valid, manifest.invalid], [7, 5, 2]);
    assert.deepEqual(
      manifest.invalidLines.map((l) => l.line),
      [2, 7],
    );
  });

  it('refuses an issuerRequestId used twice in one file, naming the line it first appeared on', async () => {
    const file = await sample('twice.jsonl', 2);
    const [firstLine] = (await readFile(file, 'utf8')).split('\n');
    await appendFile(file, `${firstLine}\n`);
    const err = await stack.client
      .ingestCampaign({ file, campaignId: uniqueName('twice').slice(0, 40) })
      .catch((e: unknown) => e);
    assert.ok(err instanceof CampaignFileError);
    assert.deepEqual(err.lines[0]?.issues, [{ field: 'issuerRequestId', reason: 'is used again (first on line 1)' }]);
  });

  /** The file's JSONL lines as objects (each a sample single order). */
  async function jsonLines(file: string): Promise<Record<string, unknown>[]> {
    const text = await readFile(file, 'utf8');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('refuses a cardId used twice in one file (another issuerRequestId), naming both lines', async () => {
    const file = await sample('card-twice.jsonl', 3);
    const [first] = await jsonLines(file);
    await appendFile(file, `${JSON.stringify({ ...first, issuerRequestId: `${String(first?.issuerRequestId)}-b` })}\n`);
    const err = await stack.client
      .ingestCampaign({ file, campaignId: uniqueName('cardtwice').slice(0, 40) })
      .catch((e: unknown) => e);
    assert.ok(err instanceof CampaignFileError);
    assert.equal(err.code, 'ERR_CAMPAIGN_FILE_INVALID');
    assert.deepEqual(
      err.lines.map((l) => [l.line, l.issues]),
      [[4, [{ field: 'cardId', reason: 'is used again (first on line 1)' }]]],
    );
    assert.match(err.message, /line 4: cardId is used again \(first on line 1\)/);
    assert.doesNotMatch(err.message, /4000000/);
  });

  it(
    'refuses a card that already has an open order of ours, naming that order; --skip-invalid leaves it out',
    { timeout: 60_000 },
    async () => {
      const file = await sample('open-order.jsonl', 3);
      const [, second] = await jsonLines(file);
      // The card of line 2 already has an order of ours under another issuerRequestId (no worker: it stays open).
      const otherRequestId = `${String(second?.issuerRequestId)}-single`;
      const placed = await stack.client.orderCard({ ...second, issuerRequestId: otherRequestId } as never);
      const cardId = String(second?.cardId);
      await eventually(
        async () =>
          (await stack.client.temporal.workflow.count(`${cardIdKey.name} = '${cardId}'`)).count > 0 ? true : undefined,
        { timeoutMs: 10_000, intervalMs: 100, what: 'the open order to be visible' },
      );
      try {
        const campaignId = uniqueName('open').slice(0, 40);
        const err = await stack.client.ingestCampaign({ file, campaignId }).catch((e: unknown) => e);
        assert.ok(err instanceof CampaignFileError);
        assert.deepEqual(
          err.lines.map((l) => [l.line, l.issues]),
          [
            [
              2,
              [
                {
                  field: 'cardId',
                  reason:
                    `${cardId} already has an open order of ours: workflow ${placed.workflowId}, ` +
                    `issuerRequestId ${otherRequestId}`,
                },
              ],
            ],
          ],
        );
        const skipped = await stack.client.ingestCampaign({ file, campaignId, skipInvalid: true });
        assert.deepEqual([skipped.valid, skipped.invalid, skipped.invalidLines.map((l) => l.line)], [2, 1, [2]]);
        // The card's own order (the line's issuerRequestId) is not another order of it: the page judges that one.
        const own = await sample('own-order.jsonl', 1);
        const [line] = await jsonLines(own);
        const ownPlaced = await stack.client.orderCard(line as never);
        await eventually(
          async () =>
            (await stack.client.temporal.workflow.count(`WorkflowId = '${ownPlaced.workflowId}'`)).count > 0
              ? true
              : undefined,
          { timeoutMs: 10_000, intervalMs: 100, what: 'the own order to be visible' },
        );
        const ownManifest = await stack.client.ingestCampaign({
          file: own,
          campaignId: uniqueName('own').slice(0, 40),
        });
        assert.equal(ownManifest.valid, 1);
        await stack.client.temporal.workflow.getHandle(ownPlaced.workflowId).terminate('test done');
      } finally {
        await stack.client.temporal.workflow.getHandle(placed.workflowId).terminate('test done');
      }
    },
  );

  it('looks open orders up once per batch of lines, not once per line, and keeps the lines in file order', async () => {
    const lines = 2 * OPEN_ORDER_LOOKUP_SIZE + 100;
    const file = await sample('lookups.csv', lines);
    const lookups: number[] = [];
    // The cards on line 5 (first lookup) and on the last line (third lookup) have an open order elsewhere.
    const manifest = await ingestCampaignFile({
      file,
      format: 'csv',
      issuerId: stack.config.d1.issuerId,
      campaignId: uniqueName('lookups').slice(0, 40),
      skipInvalid: true,
      pageSize: 500,
      store: new FileCampaignPageStore(path.join(dir, 'lookup-store'), []),
      cards: {
        issues: () => [],
        prepare: (record) => Promise.resolve({ order: record as never, fingerprint: {} as never }),
      },
      openOrders: (cardIds): Promise<OpenCardOrder[]> => {
        lookups.push(cardIds.length);
        const last = cardIds.find((id) => id.endsWith(String(lines - 1).padStart(6, '0')));
        const third = cardIds.find((id) => id.endsWith('000003'));
        return Promise.resolve(
          [last, third].flatMap((cardId) =>
            cardId === undefined ? [] : [{ cardId, workflowId: 'card-order:x:y', issuerRequestId: 'y' }],
          ),
        );
      },
    });
    assert.deepEqual(lookups, [OPEN_ORDER_LOOKUP_SIZE, OPEN_ORDER_LOOKUP_SIZE, 100]);
    assert.deepEqual(
      manifest.invalidLines.map((l) => [l.line, l.issues.map((i) => i.field)]),
      [
        [5, ['cardId']],
        [lines + 1, ['cardId']],
      ],
    );
  });

  it("refuses a card without paymentApplication (its own or its program's) when it goes in a D1 batch", async () => {
    const file = path.join(dir, 'payment.jsonl');
    const [base] = await jsonLines(await sample('payment-base.jsonl', 1));
    const address = {
      firstName: 'Jeanne',
      lastName: 'Martin',
      line1: '1 rue de Rivoli',
      city: 'Paris',
      zipCode: '75001',
      countryCode: 'FR',
    };
    // PRD_MC_CREDIT has no paymentApplication in the catalog: line 1 gives none, line 2 its own.
    const credit = (n: number) => ({
      ...base,
      issuerRequestId: `${String(base?.issuerRequestId)}-${n}`,
      cardId: `${String(base?.cardId)}-${n}`,
      cardProductId: 'PRD_MC_CREDIT',
      services: {
        issuance: 'CREATION',
        delivery: 'laposte-cip',
        cardCarrier: 'carrier-standard',
        packaging: 'standard-envelope',
      },
      shipment: { type: 'INDIVIDUAL', deliveryAddress: address, individualAddress: address },
    });
    const payment = { config: 'MC_CREDIT_M1', odaKeyIndex: '01', derivationKeyIndex: '01' };
    await appendFile(
      file,
      `${JSON.stringify(credit(1))}\n${JSON.stringify({ ...credit(2), paymentApplication: payment })}\n`,
    );
    const err = await stack.client
      .ingestCampaign({ file, campaignId: uniqueName('payment').slice(0, 40) })
      .catch((e: unknown) => e);
    assert.ok(err instanceof CampaignFileError, String(err));
    assert.deepEqual(
      err.lines.map((l) => [l.line, l.issues.map((i) => i.field)]),
      [[1, ['paymentApplication']]],
    );
    // An issuer without the batch API orders each card alone: no payment data needed.
    const config = loadConfig({ ...stack.envVars, D1_SINGLE_ORDER_ISSUERS: stack.config.d1.issuerId });
    const single = await CardOrdersClient.connect({ config, connection: stack.env.connection });
    const manifest = await single.ingestCampaign({ file, campaignId: uniqueName('single').slice(0, 40) });
    assert.deepEqual([manifest.valid, manifest.invalid], [2, 0]);
  });

  it('takes the same file again under the same id as a no-op, and refuses another file under it', async () => {
    const file = await sample('same.csv', 3);
    const campaignId = uniqueName('same').slice(0, 40);
    const first = await stack.client.ingestCampaign({ file, campaignId });
    const bytes = await storedBytes(campaignId);
    assert.deepEqual(await stack.client.ingestCampaign({ file, campaignId }), first);
    assert.equal(await storedBytes(campaignId), bytes, 'nothing rewritten');
    const other = await sample('other.csv', 3);
    await assert.rejects(stack.client.ingestCampaign({ file: other, campaignId }), (err: unknown) => {
      assert.ok(err instanceof CampaignConflictError);
      assert.equal(err.code, 'CAMPAIGN_CONFLICT');
      return true;
    });
  });

  it('of two files started under one id at once (two machines), stores one and refuses the other', async () => {
    const [a, b] = [await sample('race-a.csv', 6), await sample('race-b.csv', 6)];
    const campaignId = uniqueName('race').slice(0, 40);
    // Two clients, as two machines: their manifests meet only in the store's compare-and-set.
    const other = await CardOrdersClient.connect({
      config: stack.config,
      connection: stack.env.connection,
    });
    try {
      const results = await Promise.allSettled([
        stack.client.ingestCampaign({ file: a, campaignId }),
        other.ingestCampaign({ file: b, campaignId }),
      ]);
      const won = results.findIndex((r) => r.status === 'fulfilled');
      const lost = results.find((r) => r.status === 'rejected');
      assert.ok(
        won >= 0 && lost?.reason instanceof CampaignConflictError,
        JSON.stringify(results.map((r) => r.status)),
      );
      const winner = (await stack.client.campaignStore().readManifest(stack.config.d1.issuerId, campaignId))!;
      const pages = await Promise.all(
        [0, 1].map((i) => stack.client.campaignStore().readPage(stack.config.d1.issuerId, campaignId, i)),
      );
      const prefixOf = (file: string) => path.basename(file).replace(/\W/g, '');
      const expected = prefixOf(won === 0 ? a : b);
      assert.ok(
        pages.flat().every((card) => card.order.issuerRequestId.startsWith(expected.slice(0, 8))),
        'every stored card is from the file that won',
      );
      assert.deepEqual([winner.pages, winner.complete], [2, true]);
    } finally {
      await other.close();
    }
  });

  it('resumes a cut-off ingestion where it stopped, keeping the pages already stored', async () => {
    const file = await sample('resume.csv', 10);
    const campaignId = uniqueName('resume').slice(0, 40);
    const store = stack.client.campaignStore();
    const issuerId = stack.config.d1.issuerId;
    // The CLI dies right after the first page is stored.
    const pageZero = path.join(storeDir, issuerId, campaignId, 'page-000000.bin');
    const cut = await stack.client
      .ingestCampaign({
        file,
        campaignId,
        onPage: (m) => {
          if (m.pages === 1) throw new Error('killed after the first page');
        },
      })
      .catch((e: unknown) => e);
    assert.match(String(cut), /killed after the first page/);
    const partial = await store.readManifest(issuerId, campaignId);
    assert.deepEqual([partial?.pages, partial?.complete], [1, false]);
    const before = await readFile(pageZero);
    const done = await stack.client.ingestCampaign({ file, campaignId });
    assert.deepEqual([done.pages, done.complete, done.valid], [3, true, 10]);
    assert.deepEqual(await readFile(pageZero), before, 'the first page was kept, not written again');
  });

  it('resumes with the page size it began with, whatever D1_BATCH_SIZE says now', async () => {
    const file = await sample('resize.csv', 10);
    const campaignId = uniqueName('resize').slice(0, 40);
    const cut = await stack.client
      .ingestCampaign({
        file,
        campaignId,
        onPage: () => {
          throw new Error('killed after the first page');
        },
      })
      .catch((e: unknown) => e);
    assert.match(String(cut), /killed/);
    const config = loadConfig({ ...stack.envVars, D1_BATCH_SIZE: '3' });
    const resized = await CardOrdersClient.connect({ config, connection: stack.env.connection });
    const done = await resized.ingestCampaign({ file, campaignId });
    assert.deepEqual([done.pageSize, done.pages, done.valid], [4, 3, 10]);
    const pages = await Promise.all(
      [0, 1, 2].map((i) => resized.campaignStore().readPage(stack.config.d1.issuerId, campaignId, i)),
    );
    assert.deepEqual(
      pages.flat().map((card) => card.line),
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      'every card once, in order',
    );
  });

  it('names a bad campaign id or file name without reading anything', async () => {
    await assert.rejects(stack.client.ingestCampaign({ file: 'x.txt', campaignId: 'bad id!' }), (err: unknown) => {
      assert.ok(err instanceof OrderValidationError);
      assert.deepEqual(
        err.issues.map((i) => i.field),
        ['campaignId', 'file'],
      );
      return true;
    });
  });
});
