/**
 * The floor under P3's JWE: D1's `encryptedData` (compact JWE, ECDH-ES on P-256, A256GCM, `kid`) made with node:crypto
 * alone, in the fewest steps the algorithms allow (one ephemeral key, one ECDH, one Concat KDF hash, one AES-GCM
 * pass). A measuring stick for the benchmark only: the service makes its JWE with jose (d1/sensitive-data.ts), and
 * P3 checks this one decrypts with jose before timing it.
 *
 * @module
 */
import { createCipheriv, createECDH, createHash, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';

const ENC = 'A256GCM';

/** A 32-bit big-endian length (or number), as the Concat KDF of RFC 7518 §4.6.2 frames its inputs. */
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Encrypts `plaintext` to the P-256 public key `jwk` (with its `kid`); returns the compact JWE. */
export function nodeCryptoJwe(plaintext: Uint8Array, jwk: JWK & { kid: string }): string {
  const recipient = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  const ephemeral = createECDH('prime256v1');
  const ephemeralPublic = ephemeral.generateKeys();
  const z = ephemeral.computeSecret(recipient);
  // Concat KDF, one round (256 bits of SHA-256): counter, Z, AlgorithmID ("A256GCM"), empty PartyU/V, key length.
  const cek = createHash('sha256')
    .update(u32(1))
    .update(z)
    .update(u32(ENC.length))
    .update(ENC)
    .update(u32(0))
    .update(u32(0))
    .update(u32(256))
    .digest();
  const header = {
    alg: 'ECDH-ES',
    enc: ENC,
    kid: jwk.kid,
    epk: {
      kty: 'EC',
      crv: 'P-256',
      x: ephemeralPublic.subarray(1, 33).toString('base64url'),
      y: ephemeralPublic.subarray(33).toString('base64url'),
    },
  };
  const protectedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', cek, iv);
  cipher.setAAD(Buffer.from(protectedHeader, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [
    protectedHeader,
    '',
    iv.toString('base64url'),
    ciphertext.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join('.');
}
