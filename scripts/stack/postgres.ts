/**
 * PostgreSQL for the stack: Debian's `postgresql-15` binaries (or any on `pg_config --bindir`), a cluster of our
 * own under the stack's data dir, listening on loopback at a private port, with a generated password. Run by the
 * `postgres` system user when we are root (PostgreSQL refuses to run as root).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, chown, constants, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../../config/config.js';
import type { Say } from '../lib/go-tools.js';
import type { Spawner, StackConfig } from './config.js';

const execFileAsync = promisify(execFile);

/** The database user the Temporal server connects as. */
export const POSTGRES_USER = 'temporal';

/** Thrown when PostgreSQL cannot be found, set up or started; the message says what to do. */
export class PostgresError extends Error {
  readonly code = 'ERR_STACK_POSTGRES' as const;
}

/** Who runs PostgreSQL: ourselves, or the `postgres` system user when we are root. */
interface RunAs {
  uid: number;
  gid: number;
  /** Prefix for commands, e.g. `setpriv --reuid ... --`; empty when we run it ourselves. */
  wrap: (command: string, args: readonly string[]) => [string, string[]];
}

async function runAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) {
    return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, wrap: (c, a) => [c, [...a]] };
  }
  let ids: { uid: number; gid: number };
  try {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    ids = { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new PostgresError('Running as root, the stack runs PostgreSQL as the postgres user, and there is none.');
  }
  // setpriv execs the command (no process in between), so our signals reach PostgreSQL itself.
  return {
    ...ids,
    wrap: (command, args) => [
      'setpriv',
      ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args],
    ],
  };
}

/** Where `initdb`, `postgres` and `pg_isready` are. */
export async function postgresBinDir(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('pg_config', ['--bindir']);
    const dir = stdout.trim();
    await access(path.join(dir, 'initdb'), constants.X_OK);
    return dir;
  } catch {
    // pg_config may be missing (it comes with the -dev package on some systems); Debian's layout then.
    const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
    const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
    if (newest) return path.join('/usr/lib/postgresql', newest, 'bin');
    throw new PostgresError(
      'PostgreSQL is not installed: the stack needs its server binaries (Debian: apt install postgresql-15).',
    );
  }
}

/**
 * Lets other users pass through (o+x, not list) the project's own folders above the stack's data, e.g. `.data`,
 * which `npm start` may have created 0700 alongside the keys: the postgres user must reach its cluster. Folders
 * outside the project are the user's to open.
 */
async function openOurFoldersForTraversal(dataDir: string): Promise<void> {
  const relative = path.relative(projectRoot, dataDir);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return;
  let dir = projectRoot;
  for (const part of relative.split(path.sep).filter(Boolean)) {
    dir = path.join(dir, part);
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o001);
  }
}

/** Fails with a clear message when the postgres user cannot reach `dir` (e.g. a clone under a 0700 folder). */
async function assertReachable(user: RunAs, dir: string): Promise<void> {
  const [command, args] = user.wrap('test', ['-x', dir]);
  try {
    await execFileAsync(command, args);
  } catch {
    throw new PostgresError(
      `PostgreSQL runs as the postgres user, which cannot reach ${dir}: one of its parent folders is closed to ` +
        'other users. Set STACK_DATA_DIR to a folder it can reach (e.g. under /var/tmp), or open the parents ' +
        '(chmod o+x) yourself.',
    );
  }
}

/** The database password, generated on first use and kept (mode 0600) beside the cluster. */
async function databasePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
    return password;
  }
}

export interface RunningPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * Creates the cluster on first start (`initdb`, password auth only, owner `temporal`), starts `postgres` under
 * `supervisor`, and resolves once it accepts connections.
 */
export async function startPostgres(stack: StackConfig, supervisor: Spawner, say: Say): Promise<RunningPostgres> {
  const bin = await postgresBinDir();
  const user = await runAs();
  const { dataDir, socketDir, passwordFile, port } = stack.postgres;
  await mkdir(stack.dataDir, { recursive: true });
  await openOurFoldersForTraversal(stack.dataDir);
  const password = await databasePassword(passwordFile);
  for (const dir of [dataDir, socketDir]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0) await chown(dir, user.uid, user.gid);
  }
  await assertReachable(user, dataDir);

  const initialized = await access(path.join(dataDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (!initialized) {
    say(`Creating the PostgreSQL cluster in ${dataDir}`);
    // initdb reads the password from a file the postgres user can read; it is gone once initdb is done.
    const pwFile = path.join(socketDir, '.initdb-password');
    await writeFile(pwFile, password, { mode: 0o600 });
    if (process.getuid?.() === 0) await chown(pwFile, user.uid, user.gid);
    try {
      const [command, args] = user.wrap(path.join(bin, 'initdb'), [
        '--pgdata',
        dataDir,
        '--username',
        POSTGRES_USER,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ]);
      await execFileAsync(command, args);
    } catch (err) {
      const { stderr } = err as { stderr?: string };
      throw new PostgresError(`initdb failed: ${stderr?.trim() || (err as Error).message}`);
    } finally {
      await rm(pwFile, { force: true });
    }
  }

  const [command, args] = user.wrap(path.join(bin, 'postgres'), [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    socketDir,
    '-c',
    'listen_addresses=127.0.0.1',
    // The Temporal server's pools (default store 20, visibility 2) per restart, with room for the schema tool.
    '-c',
    'max_connections=100',
  ]);
  supervisor.spawn('postgres', command, args);
  await waitForPostgres(port);
  await chmod(passwordFile, 0o600);
  return { host: '127.0.0.1', port, user: POSTGRES_USER, password };
}

/** Resolves once PostgreSQL accepts connections on `port` (pg_isready); rejects after `timeoutMs`. */
export async function waitForPostgres(port: number, timeoutMs = 60_000): Promise<void> {
  const bin = await postgresBinDir();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await execFileAsync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']);
      return;
    } catch {
      if (Date.now() > deadline) throw new PostgresError(`PostgreSQL did not accept connections on port ${port}`);
      await delay(250);
    }
  }
}
