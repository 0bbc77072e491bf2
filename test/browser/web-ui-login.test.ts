/**
 * Web UI with its login, in a real browser, as the production stack runs it: `temporalio/ui-server` signing people in
 * at the development identity provider, and passing their access token to our codec server over HTTPS. The operator
 * sees an order's input decoded; a person without the group gets 403 from the codec server and sees the payloads
 * encrypted; nobody signed in gets the login.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadCodecKeyRing } from '../../codec/data-converter.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { createCodecServer, type CodecServer } from '../../codec/server.js';
import { loadConfig, projectRoot, type Config } from '../../config/config.js';
import type { DevIdentityServer } from '../../identity/server.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { resolveStackBinaries } from '../../scripts/stack/binaries.js';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { OPERATOR_GROUP } from '../../identity/dev-accounts.js';
import { CODEC_AUDIENCE, webUiCallbackUrl } from '../../scripts/stack/identity.js';
import { startWebUi } from '../../scripts/stack/web-ui.js';
import { chromiumArgs, findOrInstallChromium } from '../helpers/chromium.js';
import { LogCapture, makeKeysDir } from '../helpers/d1-stack.js';
import { sampleOrder, testAddress } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { TestProcesses } from '../helpers/processes.js';
import { testEnvironment, uniqueName } from '../helpers/temporal.js';
import { startTestIdentity } from '../helpers/test-identity.js';
import { makeTestPki } from '../helpers/tls.js';

const artifacts = path.join(projectRoot, 'test-artifacts');
const PASSWORDS = { operator: randomBytes(9).toString('base64url'), viewer: randomBytes(9).toString('base64url') };

describe('Temporal Web UI with its login', { timeout: 240_000 }, () => {
  let env: TestWorkflowEnvironment;
  let browser: Browser;
  let idp: DevIdentityServer;
  let codecServer: CodecServer;
  let processes: TestProcesses;
  let config: Config;
  let ui: string;
  let workflowId: string;
  let runId: string;
  const codecLogs = new LogCapture();

  before(async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? '/tmp', 'web-ui-login-'));
    env = await testEnvironment();
    const [uiPort, codecPort] = [await freePort(), await freePort()];
    const pki = await makeTestPki();
    const baseEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
      KEYS_DIR: await makeKeysDir(),
      PAYLOAD_CODEC_KEYS_FILE: path.join(projectRoot, 'test/fixtures/codec-keys.json'),
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: uniqueName('nobody-polls'),
      TEMPORAL_UI_PORT: String(uiPort),
      STACK_DATA_DIR: dir,
    };
    config = loadConfig(baseEnv);
    const stack = loadStackConfig(config, baseEnv);
    const client = { clientId: 'temporal-web-ui', clientSecret: randomBytes(24).toString('base64url') };
    idp = await startTestIdentity({
      client: { ...client, redirectUris: [webUiCallbackUrl(stack)] },
      audience: CODEC_AUDIENCE,
      accounts: [
        { username: 'operator', password: PASSWORDS.operator, groups: [OPERATOR_GROUP] },
        { username: 'viewer', password: PASSWORDS.viewer, groups: [] },
      ],
    });
    const codecConfig = loadConfig({
      ...baseEnv,
      CODEC_SERVER_PORT: String(codecPort),
      CODEC_SERVER_OIDC_ISSUER: idp.issuer,
      CODEC_SERVER_OIDC_AUDIENCE: CODEC_AUDIENCE,
      CODEC_SERVER_OIDC_NAMESPACES: JSON.stringify({ [OPERATOR_GROUP]: [config.temporal.namespace] }),
      CODEC_SERVER_TLS_CERT_FILE: pki.serverCert,
      CODEC_SERVER_TLS_KEY_FILE: pki.serverKey,
    });
    codecServer = await createCodecServer(codecConfig, {
      codec: new AesGcmPayloadCodec(await loadCodecKeyRing(codecConfig.payloadCodec)),
      logger: codecLogs.logger,
    });

    const orders = await CardOrdersClient.connect({ config, connection: env.connection });
    const issuerRequestId = uniqueName('ui-login');
    await orders.orderCard(sampleOrder(issuerRequestId));
    workflowId = cardOrderWorkflowId(config.d1.issuerId, issuerRequestId);
    runId = (await orders.temporal.workflow.getHandle(workflowId).describe()).runId;

    processes = new TestProcesses(dir);
    const binaries = await resolveStackBinaries(config, (message) => process.stderr.write(`${message}\n`));
    await startWebUi(config, stack, binaries, processes, {
      identity: { issuer: idp.issuer, ...client },
      codecEndpoint: `https://localhost:${codecPort}`,
    });
    ui = `http://localhost:${uiPort}`;
    browser = await chromium.launch({
      executablePath: await findOrInstallChromium(),
      args: chromiumArgs,
      headless: true,
    });
  });

  after(async () => {
    await browser?.close();
    await processes?.stopAll();
    await codecServer?.close();
    await idp?.close();
    await env?.teardown();
  });

  /** A browser session (its own cookies) that trusts the test CA's codec server certificate. */
  async function session(): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    return context.newPage();
  }

  async function signIn(page: Page, username: keyof typeof PASSWORDS): Promise<void> {
    await page.goto(`${ui}/namespaces/${config.temporal.namespace}/workflows`);
    await page.getByText('Continue to SSO').click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORDS[username]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === ui && !url.pathname.startsWith('/login'), { timeout: 30_000 });
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
  }

  const workflowPage = () =>
    `${ui}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;

  it('asks for a login when nobody is signed in, and lists nothing', async () => {
    const page = await session();
    await page.goto(`${ui}/namespaces/${config.temporal.namespace}/workflows`);
    await page.getByText('Continue to SSO').waitFor({ timeout: 30_000 });
    await screenshot(page, 'web-ui-login-required');
    assert.equal(await page.getByText(workflowId).count(), 0);
    await page.context().close();
  });

  it("shows an order's input decoded to the operator, with the write actions off", async () => {
    const page = await session();
    await signIn(page, 'operator');
    const decoded = page.waitForResponse((response) => response.url().includes('/decode'));
    await page.goto(workflowPage());
    assert.equal((await decoded).status(), 200);
    await page.getByText(testAddress.line1).first().waitFor({ timeout: 30_000 });
    await screenshot(page, 'web-ui-operator-decoded');
    // Write actions are off in the stack's Web UI unless STACK_WEB_UI_WRITE_ACTIONS turns them on.
    assert.ok(await page.getByRole('button', { name: 'Request Cancellation' }).isDisabled());
    const audit = codecLogs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(
      audit.some((line) => line.audit === 'codec-server' && line.subject === 'operator' && line.outcome === 'allowed'),
      'the decode is in the audit trail under the operator',
    );
    await page.context().close();
  });

  it('refuses the decode (403) to a person without the group, who sees the payloads encrypted', async () => {
    const page = await session();
    await signIn(page, 'viewer');
    const refused = page.waitForResponse((response) => response.url().includes('/decode'));
    await page.goto(workflowPage());
    assert.equal((await refused).status(), 403);
    // The UI says the codec server refused, and shows the input as it is stored: ciphertext.
    await page
      .getByText('Codec Server could not connect')
      .filter({ visible: true })
      .first()
      .waitFor({ timeout: 30_000 });
    await screenshot(page, 'web-ui-viewer-encrypted');
    assert.equal(await page.getByText(testAddress.line1).count(), 0, 'no address in clear');
    await page.context().close();
  });
});
