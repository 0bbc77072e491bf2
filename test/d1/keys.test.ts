import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KeyMaterialError } from '../../common/errors.js';
import { demoKeyFiles, ensureDemoKeys, loadEncryptionKey, loadSigningKey } from '../../d1/keys.js';

const tempDir = () => mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'keys-'));

describe('key material', () => {
  it('creates the demo key set once, private keys readable by the owner only', async () => {
    const dir = await tempDir();
    assert.equal(await ensureDemoKeys(dir), true);
    const first = await readFile(path.join(dir, demoKeyFiles.signingPrivateJwk), 'utf8');
    assert.equal(await ensureDemoKeys(dir), false);
    assert.equal(await readFile(path.join(dir, demoKeyFiles.signingPrivateJwk), 'utf8'), first);
    assert.equal((await stat(path.join(dir, demoKeyFiles.signingPrivateJwk))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(dir, demoKeyFiles.encryptionPrivateJwk))).mode & 0o777, 0o600);
    const publicJwk = JSON.parse(await readFile(path.join(dir, demoKeyFiles.encryptionPublicJwk), 'utf8')) as object;
    assert.ok(!('d' in publicJwk));
  });

  it('closes the keys folder to others, not the folders it creates above it (the stack keeps PostgreSQL there)', async () => {
    const root = await tempDir();
    await ensureDemoKeys(path.join(root, '.data', 'keys'));
    await mkdir(path.join(root, 'sibling'));
    assert.equal((await stat(path.join(root, '.data', 'keys'))).mode & 0o777, 0o700);
    assert.equal(
      (await stat(path.join(root, '.data'))).mode & 0o777,
      (await stat(path.join(root, 'sibling'))).mode & 0o777,
      '.data is made like any folder',
    );
  });

  it('loads JWKs with their kid, and PEMs with the kid from configuration', async () => {
    const dir = await tempDir();
    await ensureDemoKeys(dir);
    const signing = await loadSigningKey({ file: path.join(dir, demoKeyFiles.signingPrivateJwk) });
    assert.equal(signing.kid, 'issuer-demo-sig-1');
    const encryption = await loadEncryptionKey({ file: path.join(dir, demoKeyFiles.encryptionPublicJwk) });
    assert.equal(encryption.kid, 'd1-demo-enc-1');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.equal((await loadSigningKey({ inline: pem, kid: 'from-config' })).kid, 'from-config');
  });

  it('refuses a public key where a private one is needed, a PEM without kid, and a missing file, naming the key', async () => {
    const dir = await tempDir();
    await ensureDemoKeys(dir);
    await assert.rejects(loadSigningKey({ file: path.join(dir, demoKeyFiles.encryptionPublicJwk) }), KeyMaterialError);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await assert.rejects(loadSigningKey({ inline: pem }), (err: unknown) => {
      assert.ok(err instanceof KeyMaterialError);
      assert.equal(err.code, 'ERR_KEY_INVALID');
      assert.match(err.message, /D1 signing key .*kid/);
      assert.ok(!err.message.includes('PRIVATE KEY'));
      return true;
    });
    await assert.rejects(loadSigningKey({ file: path.join(dir, 'nope.json') }), /npm run keys/);
  });
});
