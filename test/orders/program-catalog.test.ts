import assert from 'node:assert/strict';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';
import { ConfigError } from '../../common/errors.js';
import { checkOrderAgainstCatalog, loadProgramCatalog } from '../../orders/program-catalog.js';

const address = { line1: '1 Rue de Rivoli', zipCode: '75001', city: 'Paris', countryCode: 'FR' };

describe('program catalog', () => {
  it('accepts an order that fits its program', async () => {
    const catalog = await loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
    const order: Parameters<typeof checkOrderAgainstCatalog>[0] = {
      cardProductId: 'PRD_VISA_DEBIT',
      services: { issuance: 'CREATION', delivery: 'usps-imb', cardCarrier: 'carrier-standard' },
      shipment: { type: 'INDIVIDUAL', deliveryAddress: { ...address, countryCode: 'US' }, individualAddress: address },
      packagingConfig: { inserts: ['welcome-letter'] },
    };
    assert.deepEqual(checkOrderAgainstCatalog(order, catalog), []);
  });

  it('names each field that leaves the program', async () => {
    const catalog = await loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
    const order: Parameters<typeof checkOrderAgainstCatalog>[0] = {
      cardProductId: 'PRD_MC_CREDIT',
      services: { issuance: 'CREATION', delivery: 'usps-imb', cardCarrier: 'carrier-premium', packaging: 'gift-box' },
      shipment: { type: 'BULK', deliveryAddress: { ...address, countryCode: 'US' } },
      packagingConfig: { inserts: ['welcome-letter', 'casino-flyer'] },
    };
    assert.deepEqual(
      checkOrderAgainstCatalog(order, catalog).map((issue) => issue.field),
      [
        'services.delivery',
        'services.cardCarrier',
        'services.packaging',
        'packagingConfig.inserts.1',
        'shipment.type',
        'shipment.deliveryAddress.countryCode',
      ],
    );
    assert.deepEqual(checkOrderAgainstCatalog({ ...order, cardProductId: 'PRD_UNKNOWN' }, catalog), [
      { field: 'cardProductId', reason: 'is not a program of this issuer' },
    ]);
  });

  it('refuses an invalid catalog file, naming the entry', async () => {
    const file = path.join(await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'catalog-')), 'c.json');
    await writeFile(
      file,
      JSON.stringify({ programs: { P1: { shipmentTypes: ['DRONE'], destinationCountries: ['usa'] } } }),
    );
    await assert.rejects(loadProgramCatalog(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((issue) => issue.key.split('#')[1]).sort(), [
        'programs.P1.destinationCountries.0',
        'programs.P1.shipmentTypes.0',
      ]);
      return true;
    });
  });
});
