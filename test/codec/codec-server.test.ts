import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { loadCodecKeyRing } from '../../codec/data-converter.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { createCodecServer, type CodecServer } from '../../codec/server.js';
import { loadConfig, projectRoot, type Config } from '../../config/config.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { LogCapture, makeKeysDir } from '../helpers/d1-stack.js';
import { sampleOrder, startInputAsCodecJson, testAddress, testCard } from '../helpers/fixtures.js';
import { testEnvironment, uniqueName } from '../helpers/temporal.js';

const uiOrigin = 'http://localhost:8233';
const run = promisify(execFile);

describe('codec server', () => {
  let env: TestWorkflowEnvironment;
  let server: CodecServer;
  let guarded: CodecServer;
  let orders: CardOrdersClient;
  let config: Config;

  before(async () => {
    env = await testEnvironment();
    config = loadConfig({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: uniqueName('nobody-polls'),
      KEYS_DIR: await makeKeysDir(),
      PAYLOAD_CODEC_KEYS_FILE: path.join(projectRoot, 'test/fixtures/codec-keys.json'),
      CODEC_SERVER_PORT: '0',
      // The open server below is the demo's: outside it, the codec server needs a token to start.
      DEMO_MODE: 'true',
    });
    const codec = new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec));
    const logger = new LogCapture().logger;
    server = await createCodecServer(config, { codec, logger });
    guarded = await createCodecServer(
      { ...config, codecServer: { ...config.codecServer, authToken: 'operator-token-0123456789' } },
      { codec, logger },
    );
    orders = await CardOrdersClient.connect({ config, connection: env.connection });
  });
  after(async () => {
    await server?.close();
    await guarded?.close();
    await env?.teardown();
  });

  it('decodes an encrypted payload from an order history for the Web UI origin', async () => {
    const issuerRequestId = uniqueName('codec');
    await orders.orderCard(sampleOrder(issuerRequestId));
    const history = await orders.temporal.workflow
      .getHandle(cardOrderWorkflowId('ISSUER0001', issuerRequestId))
      .fetchHistory();
    const encoded = startInputAsCodecJson(history);
    assert.ok(!Buffer.from(encoded.data, 'base64').toString('latin1').includes('Main St'));

    const response = await server.app.inject({
      method: 'POST',
      url: '/default/decode',
      headers: { origin: uiOrigin, 'content-type': 'application/json', 'x-namespace': 'default' },
      payload: { payloads: [encoded] },
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['access-control-allow-origin'], uiOrigin);
    const [decoded] = response.json<{ payloads: { data: string }[] }>().payloads;
    const order = JSON.parse(Buffer.from(decoded?.data ?? '', 'base64').toString()) as {
      order: { issuerRequestId: string; shipment: { deliveryAddress: { line1: string } } };
    };
    assert.equal(order.order.issuerRequestId, issuerRequestId);
    assert.equal(order.order.shipment.deliveryAddress.line1, testAddress.line1);
    assert.ok(!JSON.stringify(order).includes(testCard.pan), 'card data stays inside the JWE even when decoded');
  });

  it('answers the Web UI preflight and refuses other origins', async () => {
    const preflight = await server.app.inject({ method: 'OPTIONS', url: '/decode', headers: { origin: uiOrigin } });
    assert.equal(preflight.statusCode, 204);
    assert.match(String(preflight.headers['access-control-allow-headers']), /x-namespace/);
    const foreign = await server.app.inject({
      method: 'POST',
      url: '/decode',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      payload: { payloads: [] },
    });
    assert.equal(foreign.statusCode, 403);
  });

  it('requires the auth header when a token is configured', async () => {
    const call = (authorization?: string) =>
      guarded.app.inject({
        method: 'POST',
        url: '/encode',
        headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
        payload: {
          payloads: [
            {
              metadata: { encoding: Buffer.from('json/plain').toString('base64') },
              data: Buffer.from('"x"').toString('base64'),
            },
          ],
        },
      });
    assert.equal((await call()).statusCode, 401);
    assert.equal((await call('Bearer wrong-token-0000000000')).statusCode, 401);
    const ok = await call('Bearer operator-token-0123456789');
    assert.equal(ok.statusCode, 200);
    const [sealed] = ok.json<{ payloads: { metadata: Record<string, string> }[] }>().payloads;
    assert.equal(Buffer.from(sealed?.metadata.encoding ?? '', 'base64').toString(), 'binary/encrypted');
  });

  it('refuses a malformed body naming the field', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/decode',
      headers: { 'content-type': 'application/json' },
      payload: { payloads: [{ data: 'not base64!' }] },
    });
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /payloads\.0\.data/);
  });

  it('answers an empty payload list, as proto3 JSON leaves it out ({}), with an empty list', async () => {
    for (const url of ['/encode', '/decode', '/default/encode', '/default/decode']) {
      for (const payload of [{}, { payloads: [] }, { payloads: null }]) {
        const response = await server.app.inject({
          method: 'POST',
          url,
          headers: { origin: uiOrigin, 'content-type': 'application/json', 'x-namespace': 'default' },
          payload,
        });
        assert.equal(response.statusCode, 200, `${url} ${JSON.stringify(payload)}: ${response.body}`);
        assert.deepEqual(response.json(), { payloads: [] });
      }
    }
  });

  it('lets `temporal workflow show --codec-endpoint` show a history with an empty input (a call without arguments)', async () => {
    const issuerRequestId = uniqueName('codec-empty');
    await orders.orderCard(sampleOrder(issuerRequestId));
    const workflowId = cardOrderWorkflowId('ISSUER0001', issuerRequestId);
    // A signal without arguments records an empty Payloads, as the cancel update's input does.
    await orders.temporal.workflow.getHandle(workflowId).signal('noArguments');
    const cli = await resolveTemporalCli(config);
    const { stdout } = await run(cli, [
      'workflow',
      'show',
      '--address',
      env.address,
      '--codec-endpoint',
      server.url,
      '-w',
      workflowId,
      '-o',
      'json',
    ]);
    const events = (JSON.parse(stdout) as { events: Record<string, Record<string, unknown> | undefined>[] }).events;
    const signalled = events.find((event) => event.workflowExecutionSignaledEventAttributes);
    assert.equal(signalled?.workflowExecutionSignaledEventAttributes?.signalName, 'noArguments');
    assert.ok(stdout.includes(issuerRequestId), 'the start input is shown decoded');
  });
});
