/**
 * Temporal Web UI for the stack's server: `temporalio/ui-server` with a config written at every start. People sign in
 * with OpenID Connect at the stack's identity provider; the UI passes their access token to our codec server (over
 * HTTPS, the only way it passes one), which decodes only for the namespaces their groups grant. Write actions
 * (terminate, cancel, reset, signal, update, start, batch) are off unless STACK_WEB_UI_WRITE_ACTIONS=true. CORS
 * allows the UI's own origin only.
 *
 * @module
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { Config } from '../../config/config.js';
import type { StackBinaries } from './binaries.js';
import type { Spawner, StackConfig } from './config.js';
import { webUiCallbackUrl, type StackIdentity } from './identity.js';

/** Who signs in, and where the codec server is (https://). */
export interface WebUiAccess {
  identity: Pick<StackIdentity, 'issuer' | 'clientId' | 'clientSecret'>;
  codecEndpoint: string;
}

export class WebUiError extends Error {
  readonly code = 'ERR_STACK_WEB_UI' as const;
}

/** The address the operator's browser opens. */
export function stackWebUiUrl(stack: StackConfig): string {
  return `http://localhost:${stack.ui.port}`;
}

function uiConfigYaml(config: Config, stack: StackConfig, { identity, codecEndpoint }: WebUiAccess): string {
  const origins = [`http://localhost:${stack.ui.port}`, `http://127.0.0.1:${stack.ui.port}`];
  const writesOff = !stack.ui.writeActions;
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
auth:
  enabled: true
  maxSessionDuration: 8h
  providers:
    - label: development identity provider
      type: oidc
      providerUrl: "${identity.issuer}"
      clientId: "${identity.clientId}"
      clientSecret: "${identity.clientSecret}"
      callbackUrl: "${webUiCallbackUrl(stack)}"
      scopes: [openid, profile, email, groups, codec]
codec:
  endpoint: "${codecEndpoint}"
  passAccessToken: true
  includeCredentials: false
disableWriteActions: ${writesOff}
workflowTerminateDisabled: ${writesOff}
workflowCancelDisabled: ${writesOff}
workflowSignalDisabled: ${writesOff}
workflowUpdateDisabled: ${writesOff}
workflowResetDisabled: ${writesOff}
workflowPauseDisabled: ${writesOff}
batchActionsDisabled: ${writesOff}
startWorkflowDisabled: ${writesOff}
activityCommandsDisabled: ${writesOff}
`;
}

/** Starts the UI server under `supervisor`; resolves once it serves its page. */
export async function startWebUi(
  config: Config,
  stack: StackConfig,
  binaries: StackBinaries,
  supervisor: Spawner,
  access: WebUiAccess,
): Promise<string> {
  const configDir = path.join(stack.ui.rootDir, 'config');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  // It holds the client secret: readable by its owner only.
  const configFile = path.join(configDir, 'stack.yaml');
  await writeFile(configFile, uiConfigYaml(config, stack, access), { mode: 0o600 });
  await chmod(configFile, 0o600);
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
