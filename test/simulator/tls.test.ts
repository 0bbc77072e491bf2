import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { startSimulator, type TestSimulator } from './support.js';

describe('simulator over mutual TLS', () => {
  let sim: TestSimulator;
  let pki: TestPki;
  let agent: Agent;

  before(async () => {
    pki = await makeTestPki();
    const [ca, cert, key] = await Promise.all(
      [pki.caCert, pki.clientCert, pki.clientKey].map((file) => readFile(file)),
    );
    agent = new Agent({ connect: { ca, cert, key } });
    sim = await startSimulator(
      {
        D1_SIM_TLS_CERT_FILE: pki.serverCert,
        D1_SIM_TLS_KEY_FILE: pki.serverKey,
        D1_SIM_TLS_CA_FILE: pki.caCert,
        D1_SIM_REQUIRE_CLIENT_CERT: 'true',
      },
      { dispatcher: agent },
    );
  });
  after(async () => {
    await sim?.close();
    await agent?.close();
  });

  it('serves the D1 API over HTTPS to a client presenting a certificate from the CA', async () => {
    assert.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await sim.call('GET', '/healthz')).status, 200);
    assert.equal((await sim.order('card-mtls')).status, 202);
  });

  it('refuses a client without a certificate', async () => {
    const anonymous = new Agent({ connect: { ca: await readFile(pki.caCert) } });
    try {
      await assert.rejects(request(`${sim.url}/healthz`, { dispatcher: anonymous }));
    } finally {
      await anonymous.close();
    }
  });
});
