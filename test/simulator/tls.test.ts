import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { startSimulator, tempDir, type TestSimulator } from './support.js';

const run = promisify(execFile);
// Node cannot make X.509 certificates itself; without the openssl CLI these tests are skipped.
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA. */
async function makeCertificates(dir: string) {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-subj',
    '/CN=sim-test-ca',
    '-days',
    '1',
  ]);
  for (const [name, extensions] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    await writeFile(file(`${name}.ext`), extensions);
    await run('openssl', [
      'req',
      ...ec,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      file(`${name}.ext`),
    ]);
  }
  return file;
}

describe('simulator over mutual TLS', { skip: !hasOpenssl && 'the openssl CLI is not installed' }, () => {
  let sim: TestSimulator;
  let file: (name: string) => string;
  let agent: Agent;

  before(async () => {
    file = await makeCertificates(await tempDir('d1-sim-tls-'));
    const [ca, cert, key] = await Promise.all(
      ['ca.crt', 'client.crt', 'client.key'].map((name) => readFile(file(name))),
    );
    agent = new Agent({ connect: { ca, cert, key } });
    sim = await startSimulator(
      {
        D1_SIM_TLS_CERT_FILE: file('server.crt'),
        D1_SIM_TLS_KEY_FILE: file('server.key'),
        D1_SIM_TLS_CA_FILE: file('ca.crt'),
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
    const agent = new Agent({ connect: { ca: await readFile(file('ca.crt')) } });
    try {
      await assert.rejects(request(`${sim.url}/healthz`, { dispatcher: agent }));
    } finally {
      await agent.close();
    }
  });
});
