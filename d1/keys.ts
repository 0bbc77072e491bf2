/**
 * Key material for D1: loading the issuer's signing key and D1's encryption key from a JWK or a PEM (inline or in
 * a file), and creating the demo key set the local stack runs on.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type CryptoKey,
  type JWK,
  type KeyObject,
} from 'jose';
import { KeyMaterialError } from '../common/errors.js';
import { readInlineOrFile } from '../common/secrets.js';

/** A key jose can use, with the `kid` its counterpart knows it by. */
export interface KeyWithId {
  key: CryptoKey | KeyObject | Uint8Array;
  kid: string;
}

/** Where a key comes from: inline text wins over the file. */
export interface KeySource {
  inline?: string | undefined;
  file?: string | undefined;
  kid?: string | undefined;
}

async function readSource(source: KeySource, what: string): Promise<string> {
  if (!source.inline && !source.file) throw new KeyMaterialError(`No ${what} configured`);
  return (await readInlineOrFile(source, { what, hint: 'run `npm run keys` for the demo set' })) ?? '';
}

async function importKey(source: KeySource, what: string, alg: string, kind: 'private' | 'public'): Promise<KeyWithId> {
  const text = (await readSource(source, what)).trim();
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JWK;
      const kid = source.kid ?? jwk.kid;
      if (!kid) throw new Error('it has no "kid"; set one in the JWK or in the *_KEY_ID setting');
      if (kind === 'private' && !jwk.d) throw new Error('it is a public JWK, a private key is needed');
      return { key: await importJWK(jwk, alg), kid };
    }
    if (!source.kid) throw new Error('a PEM key needs its kid in the *_KEY_ID setting');
    const key = kind === 'private' ? await importPKCS8(text, alg) : await importSPKI(text, alg);
    return { key, kid: source.kid };
  } catch (err) {
    // The message names the key's role and what is wrong with it; the key text itself never appears.
    throw new KeyMaterialError(`The ${what} is unusable: ${(err as Error).message}`, { cause: undefined });
  }
}

/** The issuer's ES256 private key that signs token assertions. */
export function loadSigningKey(source: KeySource): Promise<KeyWithId> {
  return importKey(source, 'D1 signing key', 'ES256', 'private');
}

/** D1's P-256 public key that `encryptedData` is encrypted to. */
export function loadEncryptionKey(source: KeySource): Promise<KeyWithId> {
  return importKey(source, 'D1 encryption key', 'ECDH-ES', 'public');
}

/** File names of the demo key set, relative to the keys folder. */
export const demoKeyFiles = {
  signingPrivateJwk: 'issuer-signing.private.jwk.json',
  signingPublicJwks: 'issuer-signing.jwks.json',
  encryptionPrivateJwk: 'd1-encryption.private.jwk.json',
  encryptionPublicJwk: 'd1-encryption.public.jwk.json',
  eventsSigningPrivateJwk: 'issuer-events-signing.private.jwk.json',
  eventsSigningPublicJwks: 'issuer-events-signing.jwks.json',
  payloadCodecKeys: 'payload-codec-keys.json',
  webhookTokenSecret: 'webhook-token-secret',
  orderFingerprintKey: 'order-fingerprint-key',
} as const;

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, content, { mode });
  await rename(temp, file);
}

async function generatePair(alg: 'ES256' | 'ECDH-ES', kid: string, use: 'sig' | 'enc') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv: 'P-256', extractable: true });
  const common = { kid, alg, use };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...common },
    publicJwk: { ...(await exportJWK(publicKey)), ...common },
  };
}

/**
 * Creates the demo key set in `dir`, each part only when it is missing (idempotent, and a set from an older
 * version gets what it lacks): the issuer's signing pair (its public half as the JWKS the simulator trusts), the
 * simulated D1's encryption pair, the pair that signs issuer events, the payload codec's AES key ring, and the
 * secret the webhook signs its access tokens with. Private material is 0600.
 *
 * @returns whether anything was written.
 */
export async function ensureDemoKeys(dir: string): Promise<boolean> {
  // Only the keys folder is closed to others; its parents (e.g. .data, where the stack keeps PostgreSQL) are not.
  await mkdir(path.dirname(dir), { recursive: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(dir, name);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const pair = (
    alg: 'ES256' | 'ECDH-ES',
    kid: string,
    use: 'sig' | 'enc',
    privateName: string,
    publicName: string,
    publicAsJwks: boolean,
  ) => ({
    files: [privateName, publicName],
    write: async () => {
      const { privateJwk, publicJwk } = await generatePair(alg, kid, use);
      await writeAtomically(file(privateName), json(privateJwk), 0o600);
      await writeAtomically(file(publicName), json(publicAsJwks ? { keys: [publicJwk] } : publicJwk), 0o644);
    },
  });
  const parts = [
    pair('ES256', 'issuer-demo-sig-1', 'sig', demoKeyFiles.signingPrivateJwk, demoKeyFiles.signingPublicJwks, true),
    pair('ECDH-ES', 'd1-demo-enc-1', 'enc', demoKeyFiles.encryptionPrivateJwk, demoKeyFiles.encryptionPublicJwk, false),
    pair(
      'ES256',
      'card-orders-events-1',
      'sig',
      demoKeyFiles.eventsSigningPrivateJwk,
      demoKeyFiles.eventsSigningPublicJwks,
      true,
    ),
    {
      files: [demoKeyFiles.payloadCodecKeys],
      write: () =>
        writeAtomically(
          file(demoKeyFiles.payloadCodecKeys),
          json({ activeKeyId: 'demo-codec-1', keys: { 'demo-codec-1': randomBytes(32).toString('base64') } }),
          0o600,
        ),
    },
    {
      files: [demoKeyFiles.webhookTokenSecret],
      write: () =>
        writeAtomically(file(demoKeyFiles.webhookTokenSecret), `${randomBytes(32).toString('base64')}\n`, 0o600),
    },
    {
      files: [demoKeyFiles.orderFingerprintKey],
      write: () =>
        writeAtomically(file(demoKeyFiles.orderFingerprintKey), `${randomBytes(32).toString('base64')}\n`, 0o600),
    },
  ];
  let written = false;
  for (const part of parts) {
    if ((await Promise.all(part.files.map((name) => exists(file(name))))).every(Boolean)) continue;
    await part.write();
    written = true;
  }
  return written;
}
