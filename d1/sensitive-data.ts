/**
 * Card data into D1's `encryptedData`: a compact JWE (`ECDH-ES`, `A256GCM`, `kid`, P-256) to D1's public key.
 * The clear values exist only in the caller's memory and inside the JWE: validation messages name fields and
 * rules, never values.
 *
 * @module
 */
import { CompactEncrypt } from 'jose';
import { SensitiveDataError } from './errors.js';
import type { KeyWithId } from './keys.js';
import { describeIssues } from '../common/zod-issues.js';
import { sensitiveCardDataSchema } from './schemas.js';

/**
 * Validates `{pan, exp, name, cvv2?, ...}` and encrypts it to `encryptionKey`.
 *
 * @throws {SensitiveDataError} naming each invalid field (and never its value).
 */
export async function encryptSensitiveData(data: unknown, encryptionKey: KeyWithId): Promise<string> {
  const parsed = sensitiveCardDataSchema.safeParse(data);
  if (!parsed.success) throw new SensitiveDataError(describeIssues(parsed.error));
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(parsed.data)))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: encryptionKey.kid })
    .encrypt(encryptionKey.key);
}
