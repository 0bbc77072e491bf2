/**
 * Shared secrets (HMAC keys) given as base64, inline in the environment or in a file.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { KeyMaterialError } from './errors.js';

/** Where a secret comes from: `inline` wins over `file`. */
export interface SecretSource {
  inline: string | undefined;
  file: string;
}

/**
 * Reads a base64 secret of at least 32 bytes.
 *
 * @param what names it in errors, e.g. "webhook token secret".
 * @throws {KeyMaterialError} when it is missing or shorter than 32 bytes (its value is never echoed).
 */
export async function loadSecret(source: SecretSource, what: string): Promise<Buffer> {
  let text = source.inline;
  if (!text) {
    try {
      text = await readFile(source.file, 'utf8');
    } catch (err) {
      throw new KeyMaterialError(
        `Cannot read the ${what} at ${source.file} (run \`npm run keys\`): ${(err as Error).message}`,
      );
    }
  }
  const secret = Buffer.from(text.trim(), 'base64');
  if (secret.length < 32) throw new KeyMaterialError(`The ${what} must be at least 32 bytes (base64)`);
  return secret;
}
