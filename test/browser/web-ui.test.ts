import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium } from 'playwright-core';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadConfig, projectRoot } from '../../config/config.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { chromiumArgs, findOrInstallChromium } from '../helpers/chromium.js';
import { makeKeysDir } from '../helpers/d1-stack.js';
import { sampleOrder } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { uniqueName } from '../helpers/temporal.js';

/** Screenshots are kept here as test artifacts (git-ignored). */
const artifacts = path.join(projectRoot, 'test-artifacts');

describe('Temporal Web UI', () => {
  it('finds a card order by its CardOrderStatus, and shows it', async () => {
    const executablePath = await findOrInstallChromium();
    const uiPort = await freePort();
    const config = loadConfig({ PATH: process.env.PATH, HOME: process.env.HOME, KEYS_DIR: await makeKeysDir() });
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: await resolveTemporalCli(config) },
        ui: true,
        uiPort,
        searchAttributes: [...cardOrderSearchAttributes],
        extraArgs: ['--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true'],
      },
    });
    const browser = await chromium.launch({ executablePath, args: chromiumArgs, headless: true });
    try {
      const orders = await CardOrdersClient.connect({
        config: loadConfig({
          ...{ KEYS_DIR: config.keysDir },
          TEMPORAL_ADDRESS: env.address,
          TEMPORAL_TASK_QUEUE: uniqueName('ui'),
        }),
        connection: env.connection,
      });
      const issuerRequestId = uniqueName('ui-order');
      await orders.orderCard(sampleOrder(issuerRequestId));
      const workflowId = cardOrderWorkflowId('ISSUER0001', issuerRequestId);

      const page = await browser.newPage();
      const query = encodeURIComponent('CardOrderStatus="SUBMITTING"');
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${query}`);
      // Visibility is eventually consistent: the list shows the order once it is indexed.
      await page.getByText(workflowId).first().waitFor({ timeout: 30_000 });
      await mkdir(artifacts, { recursive: true });
      const screenshot = path.join(artifacts, 'web-ui-card-orders.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(await page.getByText(workflowId).first().isVisible());
    } finally {
      await browser.close();
      await env.teardown();
    }
  });
});
