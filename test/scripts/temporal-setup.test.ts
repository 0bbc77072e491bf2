import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { msToTs } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config/config.js';
import { setUpTemporal } from '../../scripts/temporal-setup.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { eventually, testEnvironment, uniqueName } from '../helpers/temporal.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

describe('npm run temporal:setup', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await testEnvironment();
  });
  after(async () => {
    await env?.teardown();
  });

  const configFor = (namespace: string) => loadConfig({ TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: namespace });

  it('registers the namespace and every search attribute, then finds them all present the second time', async () => {
    const namespace = uniqueName('setup');
    const first = await setUpTemporal(configFor(namespace));
    assert.ok(first.ok, JSON.stringify(first.steps));
    assert.deepEqual(
      first.steps.map(({ what, outcome }) => `${outcome} ${what}`),
      [
        `created namespace ${namespace}`,
        ...cardOrderSearchAttributes.map((key) => `created search attribute ${key.name}`),
      ],
    );
    const second = await setUpTemporal(configFor(namespace));
    assert.ok(second.ok);
    assert.ok(
      second.steps.every((step) => step.outcome === 'present'),
      JSON.stringify(second.steps),
    );
  });

  it('names a search attribute of the wrong type, adds the others, and reports the setup incomplete', async () => {
    const namespace = uniqueName('setup-clash');
    await env.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    // Someone made CardOrderStatus a Text attribute before us (retried until the new namespace is known).
    await eventually(
      () =>
        env.connection.operatorService
          .addSearchAttributes({
            namespace,
            searchAttributes: { CardOrderStatus: IndexedValueType.INDEXED_VALUE_TYPE_TEXT },
          })
          .then(
            () => true,
            () => undefined,
          ),
      { timeoutMs: 30_000, what: 'the namespace to take search attributes' },
    );

    const report = await setUpTemporal(configFor(namespace));
    assert.equal(report.ok, false);
    const byName = new Map(report.steps.map((step) => [step.what, step]));
    assert.equal(byName.get('search attribute CardOrderStatus')?.outcome, 'failed');
    assert.match(byName.get('search attribute CardOrderStatus')?.detail ?? '', /INDEXED_VALUE_TYPE_TEXT, not Keyword/);
    for (const key of cardOrderSearchAttributes.filter((k) => k.name !== 'CardOrderStatus')) {
      assert.equal(byName.get(`search attribute ${key.name}`)?.outcome, 'created', key.name);
    }
  });
});
