/**
 * The stack's HTTPS certificate for the codec server (Web UI passes the signed-in user's access token only to an
 * https:// codec endpoint): a local CA and a certificate for localhost and 127.0.0.1, made once with openssl under
 * the stack's data folder. The operator's browser trusts the CA once (the stack prints its path): it is limited to
 * localhost and 127.0.0.1 (name constraints) and its key is deleted once the certificate is signed. Production uses
 * the issuer's own certificate.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface StackTls {
  caCert: string;
  cert: string;
  key: string;
}

export function stackTlsFiles(dataDir: string): StackTls {
  const dir = path.join(dataDir, 'tls');
  return {
    caCert: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'localhost.pem'),
    key: path.join(dir, 'localhost.key'),
  };
}

/** Makes the CA and the certificate unless they exist; returns their files and whether they were made now. */
export async function ensureStackTls(dataDir: string): Promise<{ files: StackTls; created: boolean }> {
  const files = stackTlsFiles(dataDir);
  try {
    await access(files.cert);
    return { files, created: false };
  } catch {
    // made below
  }
  const dir = path.dirname(files.cert);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = path.join(dir, 'ca.key');
  const csr = path.join(dir, 'localhost.csr');
  const ext = path.join(dir, 'localhost.ext');
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=d1-card-orders stack local CA',
    '-days',
    '825',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    // A CA the browser trusts for this machine's names only, whatever else its key could sign.
    '-addext',
    'nameConstraints=critical,permitted;DNS:localhost,permitted;IP:127.0.0.1/255.255.255.255',
    '-out',
    files.caCert,
  ]);
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', files.key]);
  await run('openssl', ['req', '-new', '-key', files.key, '-subj', '/CN=localhost', '-out', csr]);
  await writeFile(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    files.caCert,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '825',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    files.cert,
  ]);
  // Nothing more is ever signed with it: the CA's key goes, so a copy of the folder cannot mint certificates.
  await Promise.all([caKey, csr, ext, path.join(dir, 'ca.srl')].map((file) => rm(file, { force: true })));
  return { files, created: true };
}
