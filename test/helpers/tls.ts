/**
 * Certificates for mutual TLS tests, made with openssl in a temp folder: a CA, a server certificate for
 * 127.0.0.1/localhost, and a client certificate, all signed by the CA.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

async function issue(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  const file = (suffix: string) => path.join(dir, `${name}${suffix}`);
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('.key')]);
  await run('openssl', ['req', '-new', '-key', file('.key'), '-subj', subject, '-out', file('.csr')]);
  await writeFile(file('.ext'), extensions);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('.csr'),
    '-CA',
    path.join(dir, 'ca.pem'),
    '-CAkey',
    path.join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    file('.ext'),
    '-out',
    file('.pem'),
  ]);
}

/** Makes a fresh CA, server and client certificate; returns their file paths. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'pki-'));
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(dir, 'ca.key')]);
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    path.join(dir, 'ca.key'),
    '-subj',
    '/CN=Test CA',
    '-days',
    '2',
    '-sha256',
    '-out',
    path.join(dir, 'ca.pem'),
  ]);
  await issue(
    dir,
    'server',
    '/CN=localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  await issue(dir, 'client', '/CN=ISSUER0001', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.key'),
  };
}
