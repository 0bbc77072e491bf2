/**
 * Temporal Web UI for the stack's server: `temporalio/ui-server` with a config written at every start, decoding
 * payloads through our codec server. CORS allows the UI's own origin only.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { Config } from '../../common/config.js';
import type { StackBinaries } from './binaries.js';
import type { Spawner, StackConfig } from './config.js';

export class WebUiError extends Error {
  readonly code = 'ERR_STACK_WEB_UI' as const;
}

/** The address the operator's browser opens. */
export function stackWebUiUrl(stack: StackConfig): string {
  return `http://localhost:${stack.ui.port}`;
}

function uiConfigYaml(config: Config, stack: StackConfig): string {
  const origins = [`http://localhost:${stack.ui.port}`, `http://127.0.0.1:${stack.ui.port}`];
  return `# Written by npm run stack at every start; edits here are overwritten.
temporalGrpcAddress: "${config.temporal.address}"
host: 127.0.0.1
port: ${stack.ui.port}
enableUi: true
defaultNamespace: ${config.temporal.namespace}
disableNewsFetch: true
notifyOnNewVersion: false
cors:
  allowOrigins:
${origins.map((origin) => `    - ${origin}`).join('\n')}
  unsafeAllowAllOrigins: false
codec:
  endpoint: "http://${config.codecServer.host}:${config.codecServer.port}"
`;
}

/** Starts the UI server under `supervisor`; resolves once it serves its page. */
export async function startWebUi(
  config: Config,
  stack: StackConfig,
  binaries: StackBinaries,
  supervisor: Spawner,
): Promise<string> {
  const configDir = path.join(stack.ui.rootDir, 'config');
  await mkdir(configDir, { recursive: true });
  await writeFile(path.join(configDir, 'stack.yaml'), uiConfigYaml(config, stack));
  supervisor.spawn('web-ui', binaries.uiServer, [
    '--root',
    stack.ui.rootDir,
    '--config',
    'config',
    '--env',
    'stack',
    'start',
  ]);
  const url = stackWebUiUrl(stack);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await request(`http://127.0.0.1:${stack.ui.port}/`, { signal: AbortSignal.timeout(2_000) });
      await response.body.dump();
      if (response.statusCode === 200) return url;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new WebUiError(`Web UI did not answer at ${url} within 60 s`);
    await delay(250);
  }
}
