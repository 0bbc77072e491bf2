/**
 * Go-built tools (the Temporal CLI, server, SQL tool and Web UI server): found on PATH or in the per-user cache
 * shared by every clone, else built once with `go install` from the Go module proxy, since nothing here downloads
 * release binaries.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/config.js';

export type Say = (message: string) => void;

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export async function findOnPath(name: string, searchPath: readonly string[]): Promise<string | undefined> {
  for (const dir of searchPath) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The `go` binary: on PATH, or where Go's own installer puts it. */
export async function findGo(config: Config): Promise<string | undefined> {
  return (await findOnPath('go', config.searchPath)) ?? (await findOnPath('go', ['/usr/local/go/bin']));
}

/** Runs `command` to completion with its output on our stderr (stdout may carry a script's answer). */
export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', process.stderr, process.stderr] });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}`)),
    );
  });
}

/** One `go install` target and the name its binary gets in the cache. */
export interface GoPackage {
  /** e.g. `go.temporal.io/server/cmd/server` */
  pkg: string;
  /** The file `go install` writes (the package's last path element). */
  builds: string;
  /** Its name in the cache. */
  cachedAs: string;
}

/**
 * Builds `packages` at `version` with one `go install` into a private temp dir, then renames each binary into
 * `targetDir`, so two processes building at once never leave a half-written binary behind: renames are atomic and
 * the last one wins. Returns the paths in the order given.
 */
export async function goInstall(
  go: string,
  config: Config,
  { packages, version, targetDir }: { packages: readonly GoPackage[]; version: string; targetDir: string },
): Promise<string[]> {
  await mkdir(targetDir, { recursive: true });
  const buildDir = await mkdtemp(path.join(config.cacheDir, '.build-'));
  try {
    await run(go, ['install', ...packages.map(({ pkg }) => `${pkg}@${version}`)], { ...process.env, GOBIN: buildDir });
    const built: string[] = [];
    for (const { builds, cachedAs } of packages) {
      const target = path.join(targetDir, cachedAs);
      await rename(path.join(buildDir, builds), target);
      built.push(target);
    }
    return built;
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

/** Where `go install` left the module's sources (schemas, default configs), from `go env GOMODCACHE`. */
export async function goModuleDir(go: string, module: string, version: string): Promise<string> {
  const modCache = await new Promise<string>((resolve, reject) => {
    const child = spawn(go, ['env', 'GOMODCACHE'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error('go env GOMODCACHE failed'))));
  });
  // The module cache escapes capital letters as !lowercase.
  const escaped = module.replace(/[A-Z]/g, (letter) => `!${letter.toLowerCase()}`);
  return path.join(modCache, `${escaped}@${version}`);
}
