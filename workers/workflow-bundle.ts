/**
 * The workflow bundle: built once by `npm run build` (webpack takes seconds and hundreds of MB), and used by the
 * worker when it still matches the workflow sources, so a stale bundle never runs after a code change.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { failureConverterPath } from '../codec/data-converter.js';
import { projectRoot } from '../config/config.js';

/** The entry point every worker bundles: `workflows/index.ts` and what it imports. */
export const workflowsPath = path.join(projectRoot, 'workflows', 'index.ts');

/**
 * The folders whose sources the bundle holds: the workflow shells, the pure rules they run, and the pure id rules of
 * `orders/` (the zod schemas beside them are imported as types only, so a change there costs a rebuild, never a miss).
 */
const bundledSourceDirs = ['workflows', 'rules', 'orders'];

/** A hash of the workflow sources and the workflow SDK version, stored beside a prebuilt bundle. */
export async function workflowSourceHash(): Promise<string | undefined> {
  const hash = createHash('sha256');
  const hashFile = async (file: string) => {
    hash
      .update(path.relative(projectRoot, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  };
  for (const dir of bundledSourceDirs) {
    let entries;
    try {
      entries = await readdir(path.join(projectRoot, dir), { recursive: true, withFileTypes: true });
    } catch {
      return undefined; // an image that ships only the prebuilt bundle
    }
    const files = entries
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => path.join(entry.parentPath, entry.name))
      .sort();
    for (const file of files) await hashFile(file);
  }
  // The failure converter is bundled too: its source, whichever form (sources or build) this process runs from, so
  // the compiled worker of a checkout finds the manifest `npm run build` wrote current.
  await hashFile(path.join(projectRoot, 'codec', 'failure-converter.ts'));
  const sdk = JSON.parse(
    await readFile(path.join(projectRoot, 'node_modules/@temporalio/workflow/package.json'), 'utf8'),
  ) as { version: string };
  return hash.update(sdk.version).digest('hex');
}

/** Builds the bundle from `entry` (the workflows by default); webpack's statistics are logged only as warnings. */
export async function buildWorkflowBundle(
  entry: string = workflowsPath,
  logger: Logger = new DefaultLogger('WARN'),
): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: entry, failureConverterPath, logger });
}

/**
 * Builds the workflows' bundle into `bundlePath`, with the manifest (`<bundlePath>.json`) that `loadWorkflowBundle`
 * checks against the sources. @returns the bundle's size in bytes.
 */
export async function writeWorkflowBundle(bundlePath: string): Promise<number> {
  const bundle = await buildWorkflowBundle();
  await mkdir(path.dirname(bundlePath), { recursive: true });
  await writeFile(bundlePath, bundle.code);
  await writeFile(`${bundlePath}.json`, JSON.stringify({ sourceHash: await workflowSourceHash() }, null, 2));
  return bundle.code.length;
}

/**
 * The prebuilt bundle at `bundlePath` when it matches the sources (or no sources are present), else a fresh build.
 */
export async function loadWorkflowBundle(
  bundlePath: string,
  onStale: (reason: string) => void = () => {},
): Promise<WorkflowBundle> {
  let manifest: { sourceHash?: string } | undefined;
  try {
    manifest = JSON.parse(await readFile(`${bundlePath}.json`, 'utf8')) as { sourceHash?: string };
  } catch {
    onStale(`no prebuilt bundle at ${bundlePath}; bundling from source (run npm run build to skip this)`);
    return buildWorkflowBundle();
  }
  const current = await workflowSourceHash();
  if (current !== undefined && current !== manifest.sourceHash) {
    onStale(`${bundlePath} is older than the workflow sources; bundling from source (run npm run build)`);
    return buildWorkflowBundle();
  }
  return { code: await readFile(bundlePath, 'utf8') };
}
