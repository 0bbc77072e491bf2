/**
 * Secrets and key material given inline in the environment or in a file: the one reader every process uses, and
 * the shared secrets (HMAC keys, base64) read through it.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { KeyMaterialError } from './errors.js';

/** Where a value comes from: non-empty `inline` text wins over `file`. */
export interface InlineOrFile {
  inline?: string | undefined;
  file?: string | undefined;
}

/** What {@link readInlineOrFile} says when the file cannot be read. */
export interface InlineOrFileNames {
  /** Names the value in errors, e.g. "D1 signing key". */
  what: string;
  /** What to do about it, said in parentheses after the file, e.g. "run `npm run keys`". */
  hint?: string;
  /** Makes the error; a {@link KeyMaterialError} by default. */
  error?: (message: string, options: { cause: unknown }) => Error;
}

/**
 * The text of `source`: the inline text when set, else the file's content (UTF-8), else undefined (neither given).
 *
 * @throws {KeyMaterialError} (or `names.error`'s) when the file cannot be read:
 *   `Cannot read the <what> at <file> (<hint>): <reason>`, never any of its content.
 */
export function readInlineOrFile(source: InlineOrFile & { file: string }, names: InlineOrFileNames): Promise<string>;
export function readInlineOrFile(source: InlineOrFile, names: InlineOrFileNames): Promise<string | undefined>;
export async function readInlineOrFile(source: InlineOrFile, names: InlineOrFileNames): Promise<string | undefined> {
  if (source.inline) return source.inline;
  if (source.file === undefined) return undefined;
  try {
    return await readFile(source.file, 'utf8');
  } catch (err) {
    const hint = names.hint ? ` (${names.hint})` : '';
    const message = `Cannot read the ${names.what} at ${source.file}${hint}: ${(err as Error).message}`;
    const options = { cause: err };
    throw names.error ? names.error(message, options) : new KeyMaterialError(message, options);
  }
}

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
  const text = await readInlineOrFile(source, { what, hint: 'run `npm run keys`' });
  const secret = Buffer.from(text.trim(), 'base64');
  if (secret.length < 32) throw new KeyMaterialError(`The ${what} must be at least 32 bytes (base64)`);
  return secret;
}
