/**
 * Test access to the one Temporal dev server and workflow bundle of a test run (`scripts/run-tests.ts` starts and
 * builds them once). A file run on its own (`node --import tsx --test test/x.test.ts`) starts its own.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type WorkflowBundle, type WorkflowBundlePath } from '@temporalio/worker';
import { loadConfig, projectRoot } from '../../config/config.js';
import { buildWorkflowBundle } from '../../workers/workflow-bundle.js';
import { cardOrderSearchAttributes } from '../../rules/contracts/search-attributes.js';
import { resolveTemporalCli } from '../../scripts/temporal-cli.js';

// Activity failures are expected in these tests; only errors are worth a line.
Runtime.install({ logger: new DefaultLogger('ERROR') });

/** The workflow entry point of the test bundle. */
export const testWorkflowsPath = path.join(projectRoot, 'test/fixtures/workflows/index.ts');

/** Dev server arguments every test server gets: search attributes visible at once, not after a cache refresh. */
export const testServerExtraArgs = ['--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true'];

/** Starts a dev server through the SDK, on the CLI binary found or built by `scripts/temporal-cli.ts`. */
export async function startLocalTestServer(extraArgs: string[] = []): Promise<TestWorkflowEnvironment> {
  const cli = await resolveTemporalCli(loadConfig(), (message) => process.stderr.write(`${message}\n`));
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: [...cardOrderSearchAttributes],
      extraArgs: [...testServerExtraArgs, ...extraArgs],
    },
  });
}

/** A dev server of a test's own that suggests continue-as-new once a history holds `events` events. */
export function startContinueAsNewServer(events: number): Promise<TestWorkflowEnvironment> {
  return startLocalTestServer(['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${events}`]);
}

/** The run's dev server (or a private one when this file runs alone). Call `teardown()` when done. */
export async function testEnvironment(): Promise<TestWorkflowEnvironment> {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  return address ? TestWorkflowEnvironment.createFromExistingServer({ address }) : startLocalTestServer();
}

/** The run's prebuilt workflow bundle (or one built now when this file runs alone). */
export async function testWorkflowBundle(): Promise<WorkflowBundlePath | WorkflowBundle> {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  return codePath ? { codePath } : buildWorkflowBundle(testWorkflowsPath);
}

/** A task queue (or workflow id) no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * Re-evaluates `probe` until it returns a value other than `undefined`, for state that becomes visible
 * eventually (Temporal visibility). Fails after `timeoutMs`.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}
