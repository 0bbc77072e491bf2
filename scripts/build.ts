/**
 * `npm run build [-- <outDir>]`: the production build. Compiles every process (worker, webhook, codec server,
 * simulator, identity provider, CLI, and the scripts the stack and compose run) to JavaScript with
 * `tsconfig.build.json`, and bundles the workflows once, into `dist/` (or `<outDir>`): `dist/workers/main.js`,
 * `dist/webhook/main.js`, ... and `dist/workflow-bundle.js` with its manifest. The compiled processes read their data
 * files (`config/program-catalog.json`, `.data/`) from the package root, the folder that holds `dist/`.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig, projectRoot } from '../config/config.js';
import { writeWorkflowBundle } from '../workers/workflow-bundle.js';

const run = promisify(execFile);

/** The build's output folder, relative to the package root. */
export const defaultOutDir = 'dist';

/**
 * Compiles the processes into `outDir` (emptied first, so no file of a deleted source lingers) and writes the
 * workflow bundle into it (at WORKFLOW_BUNDLE_PATH when `outDir` is the default). @returns the bundle's path.
 */
export async function build(
  outDir: string = path.join(projectRoot, defaultOutDir),
  say: (line: string) => void = () => {},
): Promise<string> {
  const isDefault = path.resolve(outDir) === path.join(projectRoot, defaultOutDir);
  const bundlePath = isDefault ? loadConfig().worker.workflowBundlePath : path.join(outDir, 'workflow-bundle.js');
  await rm(outDir, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = run(
    process.execPath,
    [tsc, '-p', path.join(projectRoot, 'tsconfig.build.json'), '--outDir', outDir],
    { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024 },
  ).then(
    () => say(`Compiled the processes into ${path.relative(process.cwd(), outDir) || '.'}`),
    (err: { stdout?: string; message: string }) => {
      throw new Error(`tsc failed:\n${err.stdout || err.message}`);
    },
  );
  const bundled = writeWorkflowBundle(bundlePath).then((bytes) =>
    say(`Wrote ${path.relative(process.cwd(), bundlePath)} (${bytes} bytes)`),
  );
  await Promise.all([compiled, bundled]);
  return bundlePath;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  await build(outDir, (line) => process.stderr.write(`${line}\n`));
}
