/**
 * The development identity provider's people: a JSON file of accounts, each with a scrypt password hash (never the
 * password), a display name, an email and the groups the codec server maps to namespaces.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_LENGTH = 32;

export const accountSchema = z.strictObject({
  username: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lower-case letters, digits, ".", "_" or "-"'),
  /** `scrypt:<salt base64url>:<hash base64url>`, from {@link hashPassword}. */
  passwordHash: z.string().regex(/^scrypt:[\w-]+:[\w-]+$/, 'must be a hash from hashPassword'),
  name: z.string().min(1).max(200),
  email: z.email(),
  groups: z.array(z.string().min(1).max(100)).max(50),
});
export type Account = z.infer<typeof accountSchema>;

export const accountsFileSchema = z.strictObject({ accounts: z.array(accountSchema).min(1) });

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEY_LENGTH);
  return `scrypt:${salt.toString('base64url')}:${hash.toString('base64url')}`;
}

/** Whether `password` matches `passwordHash`, in constant time. */
export async function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  const [, salt = '', expected = ''] = passwordHash.split(':');
  const hash = await scryptAsync(password, Buffer.from(salt, 'base64url'), KEY_LENGTH);
  const wanted = Buffer.from(expected, 'base64url');
  return wanted.length === hash.length && timingSafeEqual(hash, wanted);
}

/** The accounts of `file`, or ERR_CONFIG_INVALID naming `key` and what is wrong (never a hash). */
export async function loadAccounts(file: string, key: string): Promise<Map<string, Account>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([
      { key, reason: `cannot read ${file} as JSON: ${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'}` },
    ]);
  }
  const parsed = accountsFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError([{ key, reason: `${issue?.path.join('.') || '(file)'}: ${issue?.message ?? 'invalid'}` }]);
  }
  return new Map(parsed.data.accounts.map((account) => [account.username, account]));
}
