/**
 * `npm run campaign:sample -- --cards N --out FILE.csv|FILE.jsonl [--invalid-lines 3,7] [--issuer ID] [--prefix P]`:
 * writes a sample campaign file of made-up cards (test PANs) for `card-orders campaign start`.
 *
 * @module
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatOfFile } from '../campaigns/campaign-file.js';
import { writeSampleCampaignFile } from '../campaigns/sample-file.js';

const { values } = parseArgs({
  options: {
    cards: { type: 'string', default: '1000' },
    out: { type: 'string' },
    'invalid-lines': { type: 'string', default: '' },
    issuer: { type: 'string', default: process.env.D1_ISSUER_ID ?? 'ISSUER0001' },
    prefix: { type: 'string' },
    issuance: { type: 'string', default: 'RENEWAL' },
  },
});
const fail = (message: string): never => {
  process.stderr.write(`campaign:sample: ${message}\n`);
  process.exit(2);
};
const out = values.out ?? fail('--out FILE.csv or FILE.jsonl is required');
const format = formatOfFile(out) ?? fail('--out must end in .csv or .jsonl');
const cards = Number(values.cards);
if (!Number.isInteger(cards) || cards < 1) fail('--cards must be a positive whole number');
const invalidLines = values['invalid-lines']
  .split(',')
  .filter(Boolean)
  .map((n) => Number(n));
if (invalidLines.some((n) => !Number.isInteger(n) || n < 1)) fail('--invalid-lines takes line numbers, e.g. 3,7');
const issuance = values.issuance;
if (issuance !== 'CREATION' && issuance !== 'RENEWAL' && issuance !== 'REPLACEMENT') {
  fail('--issuance must be CREATION, RENEWAL or REPLACEMENT');
}
const prefix =
  values.prefix ??
  path
    .basename(out)
    .replace(/\.[^.]+$/, '')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 40);
await writeSampleCampaignFile(out, {
  cards,
  format,
  issuerId: values.issuer,
  prefix,
  invalidLines,
  issuance: issuance as 'CREATION' | 'RENEWAL' | 'REPLACEMENT',
});
process.stdout.write(`${out}: ${cards} cards (${format}), ids ${prefix}-000000...\n`);
