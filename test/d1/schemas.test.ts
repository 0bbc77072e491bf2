import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { batchOrderResponseSchema, d1StringBounds, tokenResponseSchema } from '../../d1/schemas.js';
import {
  errorBodySchema,
  MAX_REPORTED_OPERATIONS,
  notificationBatchSchema,
  operationSchema,
  productionStatusResponseSchema,
  type Operation,
} from '../../d1/report-schemas.js';
import { describeIssues } from '../../common/zod-issues.js';

const shipped: Operation = {
  operationId: 'op-1',
  operation: 'PRODUCE',
  status: 'FAILED',
  startTime: '2026-11-24T10:00:00.000Z',
  endTime: '2026-11-26T16:40:55.000+01:00',
  cardId: 'crd_0001',
  issuerRequestId: 'req-1',
  errorCode: 'OUT_OF_STOCK',
  error: 'No card stock left',
  inputFileName: 'orders-2026-11-24.csv',
  details: {
    status: 'CARD_SHIPPED',
    reason: 'Stock item exhausted',
    dueDate: '2026-11-26',
    productionSite: 'site-paris-1',
    inputFileName: 'orders-2026-11-24.csv',
    issuerRequestId: 'req-1',
    shipment: {
      carrier: 'fedex',
      trackingNumber: '794611234567',
      status: 'IN_TRANSIT',
      message: 'Picked up',
      trackingUrl: 'https://www.fedex.com/fedextrack/?trknbr=794611234567',
    },
  },
};

/** `value` set at the dotted `path` of a deep copy of `base`. */
function withField(base: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split('.');
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys.at(-1) as string] = value;
  return copy;
}

/** The fields a parse refused, as `field: reason`, or [] when it passed. */
function refusals(schema: z.ZodType, value: unknown): string[] {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : describeIssues(parsed.error).map((issue) => `${issue.field}: ${issue.reason}`);
}

/** Every string field of an operation and its longest value: one character more is refused. */
const operationBounds: [string, number, string][] = [
  ['operationId', 64, 'a'],
  ['operation', d1StringBounds.code, 'A'],
  ['cardId', 48, 'c'],
  ['issuerRequestId', 64, 'r'],
  ['errorCode', d1StringBounds.code, 'E'],
  ['error', d1StringBounds.text, 'x'],
  ['inputFileName', d1StringBounds.fileName, 'f'],
  ['details.status', d1StringBounds.code, 'S'],
  ['details.reason', d1StringBounds.text, 'x'],
  ['details.dueDate', d1StringBounds.code, '2'],
  ['details.productionSite', d1StringBounds.productionSite, 's'],
  ['details.inputFileName', d1StringBounds.fileName, 'f'],
  ['details.issuerRequestId', 64, 'r'],
  ['details.shipment.carrier', d1StringBounds.code, 'c'],
  ['details.shipment.trackingNumber', d1StringBounds.trackingNumber, '7'],
  ['details.shipment.status', d1StringBounds.code, 'S'],
  ['details.shipment.message', d1StringBounds.text, 'x'],
  ['details.shipment.trackingUrl', d1StringBounds.url, 'u'],
];

describe('D1 schemas bound every string D1 sends', () => {
  it('reads a full operation as D1 reports it, unknown statuses and extra fields kept', () => {
    assert.deepEqual(refusals(operationSchema, shipped), []);
    const future = withField(withField(shipped, 'details.status', 'CARD_ON_HOLD'), 'details.extra', 'kept');
    const parsed = operationSchema.parse(future);
    assert.equal(parsed.details.status, 'CARD_ON_HOLD');
    assert.equal((parsed.details as Record<string, unknown>).extra, 'kept');
  });

  it('takes each string field of an operation up to its bound and refuses one character more, naming the field', () => {
    for (const [field, max, char] of operationBounds) {
      assert.deepEqual(refusals(operationSchema, withField(shipped, field, char.repeat(max))), [], field);
      assert.deepEqual(
        refusals(operationSchema, withField(shipped, field, char.repeat(max + 1))),
        [`${field}: Too big: expected string to have <=${max} characters`],
        field,
      );
    }
  });

  it('bounds the times too (any number of fractional digits is ISO 8601)', () => {
    for (const field of ['startTime', 'endTime']) {
      const long = `2026-11-24T10:00:00.${'1'.repeat(40)}Z`;
      assert.deepEqual(refusals(operationSchema, withField(shipped, field, long)), [
        `${field}: Too big: expected string to have <=${d1StringBounds.dateTime} characters`,
      ]);
    }
  });

  it('names the operation in a notification batch and a status answer whose details.status is oversize', () => {
    const oversize = withField(shipped, 'details.status', 'S'.repeat(300));
    for (const schema of [notificationBatchSchema, productionStatusResponseSchema]) {
      assert.deepEqual(refusals(schema, { operations: [shipped, oversize] }), [
        'operations.1.details.status: Too big: expected string to have <=64 characters',
      ]);
    }
    const tooMany = { operations: Array.from({ length: MAX_REPORTED_OPERATIONS + 1 }, () => shipped) };
    assert.deepEqual(refusals(productionStatusResponseSchema, tooMany), [
      `operations: Too big: expected array to have <=${MAX_REPORTED_OPERATIONS} items`,
    ]);
  });

  it("bounds D1's error bodies", () => {
    const body = { errorCode: 'ORDER_IN_PROGRESS', error: 'x'.repeat(512), error_description: 'y'.repeat(512) };
    assert.deepEqual(refusals(errorBodySchema, body), []);
    assert.deepEqual(
      refusals(errorBodySchema, {
        errorCode: 'E'.repeat(65),
        error: 'x'.repeat(513),
        error_description: 'y'.repeat(513),
      }),
      [
        'errorCode: Too big: expected string to have <=64 characters',
        'error: Too big: expected string to have <=512 characters',
        'error_description: Too big: expected string to have <=512 characters',
      ],
    );
  });

  it('bounds batch results: ids by their D1 patterns, codes, texts and the refused fields', () => {
    const refused = {
      cardId: 'card-1',
      issuerRequestId: 'req-1',
      status: 'REFUSED',
      errorCode: 'INVALID_FIELD',
      error: 'consumerId is invalid',
      fields: [{ field: 'consumerId', reason: 'must match ^[A-Za-z0-9_-]{1,64}$' }],
    };
    const accepted = { cardId: 'card-2', status: 'ACCEPTED', operationId: 'op-2' };
    assert.deepEqual(refusals(batchOrderResponseSchema, { results: [refused, accepted] }), []);
    const cases: [string, unknown, string][] = [
      ['results.0.error', 'x'.repeat(513), 'Too big: expected string to have <=512 characters'],
      ['results.0.errorCode', 'E'.repeat(65), 'Too big: expected string to have <=64 characters'],
      ['results.0.fields.0.reason', 'x'.repeat(513), 'Too big: expected string to have <=512 characters'],
      ['results.0.fields.0.field', 'f'.repeat(257), 'Too big: expected string to have <=256 characters'],
      ['results.1.cardId', 'c'.repeat(49), 'Too big: expected string to have <=48 characters'],
      ['results.1.cardId', 'card 2', 'must match ^[A-Za-z0-9_-]{1,48}$'],
    ];
    for (const [field, value, reason] of cases) {
      const answer = withField({ results: [refused, accepted] }, field, value);
      assert.deepEqual(refusals(batchOrderResponseSchema, answer), [`${field}: ${reason}`], field);
    }
    const manyFields = withField(
      { results: [refused] },
      'results.0.fields',
      Array.from({ length: 101 }, () => refused.fields[0]),
    );
    assert.deepEqual(refusals(batchOrderResponseSchema, manyFields), [
      'results.0.fields: Too big: expected array to have <=100 items',
    ]);
  });

  it("bounds D1's token answer", () => {
    const token = { access_token: 'a'.repeat(d1StringBounds.accessToken), token_type: 'Bearer', expires_in: 900 };
    assert.deepEqual(refusals(tokenResponseSchema, token), []);
    assert.deepEqual(refusals(tokenResponseSchema, { ...token, access_token: `${token.access_token}a` }), [
      `access_token: Too big: expected string to have <=${d1StringBounds.accessToken} characters`,
    ]);
    assert.deepEqual(refusals(tokenResponseSchema, { ...token, scope: 's'.repeat(d1StringBounds.scope + 1) }), [
      `scope: Too big: expected string to have <=${d1StringBounds.scope} characters`,
    ]);
  });
});
