import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configPagePath, renderConfigPage, undescribedVariables } from '../../scripts/config-reference.js';

describe('the configuration reference (docs/configuration.md)', () => {
  it('describes every variable of the schema', () => {
    assert.deepEqual(undescribedVariables(), [], 'add a .describe() to each of these in the configuration schema');
  });

  it('is what the schema renders', async () => {
    const committed = await readFile(configPagePath, 'utf8');
    const rendered = await renderConfigPage(committed);
    assert.ok(
      committed === rendered,
      'docs/configuration.md differs from the configuration schema: run `npm run docs:config` and commit the page',
    );
  });
});
