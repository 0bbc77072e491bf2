/**
 * Headless Chromium for browser tests: Debian's package, found at CHROMIUM_PATH or /usr/bin/chromium, else
 * installed with apt-get once per machine (as root; nothing is downloaded from outside the package registries).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function findOrInstallChromium(): Promise<string> {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].filter((file): file is string => Boolean(file));
  for (const file of candidates) if (await executable(file)) return file;
  if (process.getuid?.() !== 0) {
    throw new Error('Chromium is not installed: run `sudo apt-get install chromium`, or set CHROMIUM_PATH');
  }
  process.stderr.write("Installing Debian's chromium for the browser test (once per machine)...\n");
  await run('apt-get', ['update', '-qq']);
  await run('apt-get', ['install', '-y', '-qq', 'chromium'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return '/usr/bin/chromium';
}

/** Flags that keep Chromium from calling out to the network this machine does not have. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
