/**
 * The simulator's side of `encryptedData`: its P-256 key pair, and the check that an order's JWE is made as D1
 * requires and holds valid card data. The clear card data lives only inside `checkEncryptedData`; nothing of it is
 * returned, stored or logged.
 *
 * @module
 */
import { compactDecrypt, decodeProtectedHeader, importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { z } from 'zod';
import { KeyMaterialError } from '../common/errors.js';
import { readInlineOrFile } from '../common/secrets.js';
import { sensitiveCardDataSchema } from '../d1/schemas.js';
import { fieldIssues, type FieldIssue } from '../common/http-errors.js';

/** The key `encryptedData` must be encrypted to. */
export interface EncryptionKeyPair {
  kid: string;
  privateKey: CryptoKey | KeyObject | Uint8Array;
  /** What `GET /__sim/encryption-key` publishes: never the private `d`. */
  publicJwk: JWK;
}

const privateJwkSchema = z.looseObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  kid: z.string().min(1),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
});

/**
 * Reads the simulator's private P-256 JWK.
 *
 * @throws {KeyMaterialError} when the file is missing or is not a private P-256 JWK with a `kid` (the message never
 *   contains key material).
 */
export async function loadEncryptionKeyPair(file: string): Promise<EncryptionKeyPair> {
  const text = await readInlineOrFile(
    { file },
    { what: "simulator's encryption key", hint: 'run `npm run keys` for the demo set' },
  );
  let parsed: z.infer<typeof privateJwkSchema>;
  try {
    parsed = privateJwkSchema.parse(JSON.parse(text));
  } catch {
    throw new KeyMaterialError(`The simulator's encryption key at ${file} is not a private P-256 JWK with a kid`);
  }
  const { kty, crv, kid, x, y } = parsed;
  return {
    kid,
    privateKey: await importJWK({ kty, crv, x, y, d: parsed.d }, 'ECDH-ES'),
    publicJwk: { kty, crv, kid, x, y, alg: 'ECDH-ES', use: 'enc' },
  };
}

/** The physical-issuance pages say YYMM; the generic JWE page shows MMYY. */
export type ExpFormat = 'YYMM' | 'MMYY';

const mmyy = /^(0[1-9]|1[0-2])\d{2}$/;
const cardDataSchemas: Record<ExpFormat, z.ZodType> = {
  YYMM: sensitiveCardDataSchema,
  MMYY: sensitiveCardDataSchema.extend({
    exp: z.string().regex(mmyy, 'must be MMYY, e.g. 0629'),
    effectiveDate: z.string().regex(mmyy, 'must be MMYY').optional(),
  }),
};

const field = 'encryptedData';
const refuse = (reason: string): FieldIssue[] => [{ field, reason }];

/**
 * Checks that `jwe` is a compact JWE with `alg: ECDH-ES`, `enc: A256GCM` and the simulator's `kid`, that it
 * decrypts, and that its JSON is valid card data (in `expFormat`).
 *
 * @returns what is wrong, field by field (`encryptedData.pan`...), never with a value; empty when all is well.
 */
export async function checkEncryptedData(
  jwe: string,
  key: EncryptionKeyPair,
  expFormat: ExpFormat,
): Promise<FieldIssue[]> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwe);
  } catch {
    return refuse('has no readable JWE protected header');
  }
  if (header.alg !== 'ECDH-ES') return refuse('JWE header alg must be ECDH-ES');
  if (header.enc !== 'A256GCM') return refuse('JWE header enc must be A256GCM');
  if (header.kid === undefined) return refuse('JWE header kid is missing');
  if (header.kid !== key.kid) return refuse(`JWE header kid is not a known key (expected ${key.kid})`);

  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(jwe, key.privateKey, {
      keyManagementAlgorithms: ['ECDH-ES'],
      contentEncryptionAlgorithms: ['A256GCM'],
    }));
  } catch {
    return refuse(`cannot be decrypted with the key ${key.kid}`);
  }
  try {
    let data: unknown;
    try {
      data = JSON.parse(new TextDecoder().decode(plaintext));
    } catch {
      // JSON.parse messages quote the input: only a fixed text may leave.
      return refuse('decrypts to something that is not JSON');
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return refuse('must decrypt to a JSON object');
    }
    const parsed = cardDataSchemas[expFormat].safeParse(data);
    return parsed.success ? [] : fieldIssues(parsed.error, field);
  } finally {
    plaintext.fill(0);
  }
}
