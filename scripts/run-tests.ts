/**
 * `npm run test:run [files...]`: starts one Temporal dev server and builds the workflow bundle once for the whole
 * run, then runs the test files with node's test runner, each file in its own process, against them.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../config/config.js';
import { buildWorkflowBundle } from '../workers/workflow-bundle.js';
import { startLocalTestServer, testWorkflowsPath } from '../test/helpers/temporal.js';

async function findTestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => path.relative(projectRoot, path.join(entry.parentPath, entry.name)))
    .sort();
}

// Files run as named; a folder runs the test files under it (node --test on Node 20 would run none of it).
const requested = process.argv.slice(2);
const files: string[] = [];
for (const named of requested.length > 0 ? requested : ['test']) {
  const stats = await stat(path.resolve(projectRoot, named));
  files.push(...(stats.isDirectory() ? await findTestFiles(path.resolve(projectRoot, named)) : [named]));
}
const workDir = await mkdtemp(path.join(tmpdir(), 'd1-card-orders-test-'));
const started = Date.now();
const env = await startLocalTestServer();
let exitCode = 1;
try {
  const bundlePath = path.join(workDir, 'workflow-bundle.js');
  await writeFile(bundlePath, (await buildWorkflowBundle(testWorkflowsPath)).code);
  process.stderr.write(
    `Temporal dev server at ${env.address}, workflow bundle built (${Date.now() - started} ms); ` +
      `running ${files.length} test files\n`,
  );
  const runner = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
    cwd: projectRoot,
    stdio: 'inherit',
    env: {
      ...process.env,
      TEMPORAL_TEST_ADDRESS: env.address,
      TEST_WORKFLOW_BUNDLE: bundlePath,
      TEST_TMPDIR: workDir,
    },
  });
  const [code] = (await once(runner, 'exit')) as [number | null];
  exitCode = code ?? 1;
} finally {
  await env.teardown();
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
