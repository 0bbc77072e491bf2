import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/config.js';
import { cronExpressionIssue } from '../../common/cron.js';
import { ConfigError } from '../../common/errors.js';

/** The keys a ConfigError names, with their reasons. */
function refused(env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    return Object.fromEntries(err.issues.map((issue) => [issue.key, issue.reason]));
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('reconciliation settings', () => {
  it('are off by default, 200 orders a page and 4 D1 calls at once', () => {
    assert.deepEqual(loadConfig({}).reconcile, { schedule: undefined, pageSize: 200, concurrency: 4 });
  });

  it('take a five-field cron expression, trimmed', () => {
    const config = loadConfig({
      RECONCILE_SCHEDULE: ' 0 2 * * * ',
      RECONCILE_PAGE_SIZE: '1000',
      RECONCILE_CONCURRENCY: '1',
    });
    assert.deepEqual(config.reconcile, { schedule: '0 2 * * *', pageSize: 1000, concurrency: 1 });
  });

  it('refuse a bad cron expression with a ConfigError naming RECONCILE_SCHEDULE and why', () => {
    const fourFields = refused({ RECONCILE_SCHEDULE: '0 2 * *' });
    assert.deepEqual(Object.keys(fourFields), ['RECONCILE_SCHEDULE']);
    assert.match(fourFields.RECONCILE_SCHEDULE ?? '', /must be a cron expression in UTC: must have 5 fields/);
    assert.match(refused({ RECONCILE_SCHEDULE: '0 24 * * *' }).RECONCILE_SCHEDULE ?? '', /hour: "24" is not in 0-23/);
    assert.match(refused({ RECONCILE_SCHEDULE: '@daily' }).RECONCILE_SCHEDULE ?? '', /5 fields/);
  });

  it('refuse page sizes and concurrencies out of range, naming each key', () => {
    assert.deepEqual(Object.keys(refused({ RECONCILE_PAGE_SIZE: '0', RECONCILE_CONCURRENCY: '65' })).sort(), [
      'RECONCILE_CONCURRENCY',
      'RECONCILE_PAGE_SIZE',
    ]);
    assert.deepEqual(Object.keys(refused({ RECONCILE_PAGE_SIZE: '1001', RECONCILE_CONCURRENCY: '0' })).sort(), [
      'RECONCILE_CONCURRENCY',
      'RECONCILE_PAGE_SIZE',
    ]);
  });
});

describe('cron expressions', () => {
  it('accepts what a Temporal Schedule accepts: lists, ranges, steps, month and weekday names', () => {
    for (const expression of [
      '0 2 * * *',
      '*/15 * * * *',
      '5-10/2 2 * * *',
      '0 2 1/2 * *',
      '0 2 * JAN,jul *',
      '0 2 * * MON-FRI',
      '0 2 * * 0-7',
      '0 2 * * 7',
      '30 23 31 12 sun',
    ]) {
      assert.equal(cronExpressionIssue(expression), undefined, expression);
    }
  });

  it('refuses what Temporal refuses, naming the field', () => {
    for (const [expression, reason] of [
      ['60 2 * * *', /^minute: "60"/],
      ['0 24 * * *', /^hour: "24"/],
      ['0 2 0 * *', /^day of month: "0"/],
      ['0 2 ? * *', /^day of month: "\?"/],
      ['0 2 L * *', /^day of month: "L"/],
      ['0 2 * 13 *', /^month: "13"/],
      ['0 2 * * 8', /^day of week: "8"/],
      ['0 2 * * 5-1', /^day of week: "5-1" ends before it starts/],
      ['0 */0 * * *', /^hour: "\*\/0" has an invalid step/],
      ['0 2 * * *,', /^day of week: empty list element/],
      ['0 2 * * * *', /must have 5 fields/],
      ['CRON_TZ=Europe/Paris 0 2 * * *', /must have 5 fields/],
      ['', /must have 5 fields/],
    ] as const) {
      assert.match(cronExpressionIssue(expression) ?? 'accepted', reason, expression);
    }
  });
});
