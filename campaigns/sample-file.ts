/**
 * Sample campaign files (CSV or JSONL) of made-up cards: test PANs (Luhn-valid, 4000 00xx... range), invented names
 * and addresses in the demo catalog's PRD_VISA_DEBIT program. Written as a stream, so 100,000 cards cost no memory.
 * `npm run campaign:sample` is its command line; tests and the campaign benchmark use it directly.
 *
 * @module
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { CampaignFileFormat } from './campaign-file.js';

export interface SampleOptions {
  cards: number;
  format: CampaignFileFormat;
  issuerId: string;
  /** Prefix of every card's issuerRequestId and cardId, so two files never share an id. */
  prefix: string;
  /** Line numbers (1-based, counting the CSV header as line 1) to make invalid: a PAN that fails Luhn. */
  invalidLines?: readonly number[];
  issuance?: 'CREATION' | 'RENEWAL' | 'REPLACEMENT';
}

/** The columns of a sample CSV: the single order's fields as dotted paths (see campaign-file.ts). */
export const sampleCsvColumns = [
  'issuerRequestId',
  'cardId',
  'consumerId',
  'cardProductId',
  'services.issuance',
  'services.delivery',
  'services.cardCarrier',
  'services.packaging',
  'shipment.type',
  'shipment.deliveryAddress.firstName',
  'shipment.deliveryAddress.lastName',
  'shipment.deliveryAddress.line1',
  'shipment.deliveryAddress.city',
  'shipment.deliveryAddress.zipCode',
  'shipment.deliveryAddress.countryCode',
  'sensitiveData.pan',
  'sensitiveData.exp',
  'sensitiveData.name',
] as const;

const firstNames = ['Jane', 'John', 'Ada', 'Alan', 'Grace', 'Linus', 'Maria', 'Omar', 'Yuki', 'Zoe'];
const lastNames = ['Doe', 'Smith', 'Lovelace', 'Turing', 'Hopper', 'Garcia', 'Haddad', 'Tanaka', 'Novak', 'Okafor'];
const cities = [
  ['New York', '10001'],
  ['Boston', '02101'],
  ['Chicago', '60601'],
  ['Seattle', '98101'],
] as const;

/** A 16-digit test PAN (4000 00…) passing the Luhn check, or failing it when `valid` is false. */
export function testPan(n: number, valid = true): string {
  const body = `400000${String(n).padStart(9, '0')}`;
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let digit = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  const check = (10 - (sum % 10)) % 10;
  return `${body}${valid ? check : (check + 1) % 10}`;
}

/** The `i`-th sample card as a flat row of {@link sampleCsvColumns}. */
function sampleRow(
  i: number,
  options: SampleOptions,
  valid: boolean,
): Record<(typeof sampleCsvColumns)[number], string> {
  const first = firstNames[i % firstNames.length] ?? 'Jane';
  const last = lastNames[Math.floor(i / firstNames.length) % lastNames.length] ?? 'Doe';
  const [city, zipCode] = cities[i % cities.length] ?? cities[0];
  const id = `${options.prefix}-${String(i).padStart(6, '0')}`;
  return {
    issuerRequestId: id,
    cardId: id,
    consumerId: `cons-${i}`,
    cardProductId: 'PRD_VISA_DEBIT',
    'services.issuance': options.issuance ?? 'RENEWAL',
    'services.delivery': 'usps-imb',
    'services.cardCarrier': 'carrier-standard',
    'services.packaging': 'standard-envelope',
    'shipment.type': 'INDIVIDUAL',
    'shipment.deliveryAddress.firstName': first,
    'shipment.deliveryAddress.lastName': last,
    'shipment.deliveryAddress.line1': `${(i % 900) + 1} Main St`,
    'shipment.deliveryAddress.city': city,
    'shipment.deliveryAddress.zipCode': zipCode,
    'shipment.deliveryAddress.countryCode': 'US',
    'sensitiveData.pan': testPan(i, valid),
    'sensitiveData.exp': '3012',
    'sensitiveData.name': `${first} ${last}`.toUpperCase().slice(0, 26),
  };
}

/** The row as the single order's JSON (JSONL), individualAddress included. */
function rowAsOrder(row: ReturnType<typeof sampleRow>, issuerId: string): Record<string, unknown> {
  const address = {
    firstName: row['shipment.deliveryAddress.firstName'],
    lastName: row['shipment.deliveryAddress.lastName'],
    line1: row['shipment.deliveryAddress.line1'],
    city: row['shipment.deliveryAddress.city'],
    zipCode: row['shipment.deliveryAddress.zipCode'],
    countryCode: row['shipment.deliveryAddress.countryCode'],
  };
  return {
    issuerId,
    issuerRequestId: row.issuerRequestId,
    cardId: row.cardId,
    consumerId: row.consumerId,
    cardProductId: row.cardProductId,
    services: {
      issuance: row['services.issuance'],
      delivery: row['services.delivery'],
      cardCarrier: row['services.cardCarrier'],
      packaging: row['services.packaging'],
    },
    shipment: { type: 'INDIVIDUAL', deliveryAddress: address, individualAddress: address },
    sensitiveData: { pan: row['sensitiveData.pan'], exp: row['sensitiveData.exp'], name: row['sensitiveData.name'] },
  };
}

/** Writes a sample file of `options.cards` cards to `file`. */
export async function writeSampleCampaignFile(file: string, options: SampleOptions): Promise<void> {
  const out = createWriteStream(file, { encoding: 'utf8', mode: 0o600 });
  const invalid = new Set(options.invalidLines ?? []);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const csv = options.format === 'csv';
  if (csv) await write(`${sampleCsvColumns.join(',')}\n`);
  for (let i = 0; i < options.cards; i++) {
    const line = csv ? i + 2 : i + 1;
    const row = sampleRow(i, options, !invalid.has(line));
    await write(
      csv
        ? `${sampleCsvColumns.map((column) => row[column]).join(',')}\n`
        : `${JSON.stringify(rowAsOrder(row, options.issuerId))}\n`,
    );
  }
  out.end();
  await once(out, 'finish');
}
