/**
 * `npm run build`: bundles the workflows once into `dist/workflow-bundle.js` (or `WORKFLOW_BUNDLE_PATH`), with a
 * manifest the worker checks against the sources before using it.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../common/config.js';
import { buildWorkflowBundle, workflowSourceHash } from '../workers/workflow-bundle.js';

const { workflowBundlePath } = loadConfig().worker;
const bundle = await buildWorkflowBundle();
await mkdir(path.dirname(workflowBundlePath), { recursive: true });
await writeFile(workflowBundlePath, bundle.code);
await writeFile(`${workflowBundlePath}.json`, JSON.stringify({ sourceHash: await workflowSourceHash() }, null, 2));
process.stderr.write(`Wrote ${path.relative(process.cwd(), workflowBundlePath)} (${bundle.code.length} bytes)\n`);
