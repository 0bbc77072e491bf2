import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { envSchema } from '../../common/config.js';
import { configPagePath, renderConfigPage } from '../../scripts/config-reference.js';

describe('the configuration reference (docs/configuration.md)', () => {
  it('describes every variable of the schema', () => {
    const undescribed = Object.entries(envSchema.shape)
      .filter(([, schema]) => !(schema as z.ZodType).description)
      .map(([name]) => name);
    assert.deepEqual(undescribed, [], 'add a .describe() to each of these in the configuration schema');
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
