/**
 * The workflow bundle alone, as `npm run build` (`scripts/build.ts`) writes it beside the compiled processes: the
 * workflows bundled once into `dist/workflow-bundle.js` (or `WORKFLOW_BUNDLE_PATH`), with a manifest the worker
 * checks against the sources before using it. The benchmarks build theirs with it.
 *
 * @module
 */
import path from 'node:path';
import { loadConfig } from '../config/config.js';
import { writeWorkflowBundle } from '../workers/workflow-bundle.js';

const { workflowBundlePath } = loadConfig().worker;
const bytes = await writeWorkflowBundle(workflowBundlePath);
process.stderr.write(`Wrote ${path.relative(process.cwd(), workflowBundlePath)} (${bytes} bytes)\n`);
