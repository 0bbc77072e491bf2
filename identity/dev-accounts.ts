/**
 * The development provider's two accounts, made once with random passwords kept beside them (mode 0600):
 * `operator`, in the group that may decode, and `viewer`, in no group, who sees Web UI but no decoded payload.
 * `npm run stack` and the compose file's `identity-setup` make them; production has its own provider and people.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashPassword, type Account } from './accounts.js';

/** The group the development accounts' operator is in, which the stack and compose grant their namespace to. */
export const OPERATOR_GROUP = 'card-operators';

/** `text` of `file`, made by `make` (mode 0600) when the file does not exist yet. */
export async function readOrCreate(
  file: string,
  make: () => Promise<string>,
): Promise<{ text: string; created: boolean }> {
  try {
    return { text: await readFile(file, 'utf8'), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const text = await make();
  await writeFile(file, text, { mode: 0o600, flag: 'wx' });
  return { text, created: true };
}

export interface DevAccounts {
  accountsFile: string;
  /** `username password` lines, for the people to sign in with. */
  passwordsFile: string;
  /** Whether they were made now (their passwords then shown once). */
  created: boolean;
}

export async function ensureDevAccounts(dir: string, emailDomain: string): Promise<DevAccounts> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const passwordsFile = path.join(dir, 'passwords.txt');
  const passwords = await readOrCreate(passwordsFile, () =>
    Promise.resolve(
      ['operator', 'viewer'].map((name) => `${name} ${randomBytes(12).toString('base64url')}\n`).join(''),
    ),
  );
  const accountsFile = path.join(dir, 'accounts.json');
  await readOrCreate(accountsFile, async () => {
    const accounts: Account[] = [];
    for (const line of passwords.text.trim().split('\n')) {
      const [username = '', password = ''] = line.split(' ');
      accounts.push({
        username,
        passwordHash: await hashPassword(password),
        name: username === 'operator' ? 'Card operator' : 'Viewer without access',
        email: `${username}@${emailDomain}`,
        groups: username === 'operator' ? [OPERATOR_GROUP] : [],
      });
    }
    return JSON.stringify({ accounts }, null, 2);
  });
  return { accountsFile, passwordsFile, created: passwords.created };
}
