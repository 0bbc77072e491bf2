/**
 * The development provider's signing key: an RS256 private JWK, made once and kept in a file only its owner reads.
 *
 * @module
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { z } from 'zod';
import { KeyMaterialError } from '../common/errors.js';

const privateRsaJwk = z.looseObject({
  kty: z.literal('RSA'),
  kid: z.string().min(1),
  n: z.string().min(1),
  e: z.string().min(1),
  d: z.string().min(1),
});

export async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk) };
}

export async function loadOrCreateSigningKey(file: string): Promise<JWK> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyMaterialError(
        `Cannot read the identity provider's signing key at ${file}: ${(err as Error).message}`,
      );
    }
  }
  if (text === undefined) {
    const jwk = await newSigningKey();
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' });
    return jwk;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = privateRsaJwk.safeParse(json);
  if (!parsed.success) {
    throw new KeyMaterialError(`The identity provider's signing key at ${file} is not a private RSA JWK`);
  }
  return parsed.data;
}
