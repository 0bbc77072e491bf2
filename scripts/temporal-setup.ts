/**
 * `npm run temporal:setup`: makes whatever Temporal `TEMPORAL_ADDRESS` points at ready for card orders. Registers
 * the namespace and the six search attributes operators filter orders by, keeps whatever already exists, and
 * says exactly what it could not do (Temporal Cloud, for one, creates namespaces and search attributes through
 * its own tools, not through this API). Run again at any time: it changes nothing that is already right.
 *
 * Also run by `npm start` (on the dev server it started itself, which has them already) and `npm run stack`.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import proto from '@temporalio/proto';
import { loadConfig, type Config } from '../config/config.js';
import { temporalConnectionOptions, waitForTemporal } from '../temporal/connection.js';
import { cardOrderSearchAttributes } from '../rules/contracts/search-attributes.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

/** The gRPC status codes this setup tells apart (numbers fixed by gRPC). */
const grpcStatus = { NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12 } as const;
const grpcStatusName = (code: number) =>
  Object.entries(grpcStatus).find(([, value]) => value === code)?.[0] ?? `gRPC status ${code}`;
/** The gRPC status of a failed call, or undefined for anything else. */
const grpcCode = (err: unknown): number | undefined => (isGrpcServiceError(err) ? Number(err.code) : undefined);

/** What one setup step found and did. */
export interface SetupStep {
  what: string;
  outcome: 'created' | 'present' | 'failed';
  detail?: string;
}

export interface SetupReport {
  steps: SetupStep[];
  /** True when every step ended `created` or `present`. */
  ok: boolean;
}

/** How long a fresh namespace may take to answer; the server caches namespaces and refreshes every few seconds. */
const NAMESPACE_READY_TIMEOUT_MS = 30_000;

function explain(err: unknown): string {
  const code = grpcCode(err);
  if (code !== undefined && isGrpcServiceError(err)) {
    const hint =
      code === grpcStatus.PERMISSION_DENIED || code === grpcStatus.UNIMPLEMENTED
        ? ' (on Temporal Cloud, create it with tcld or the Cloud UI)'
        : '';
    return `${grpcStatusName(code)}: ${err.details || err.message}${hint}`;
  }
  return (err as Error).message;
}

/**
 * Calls `call` until it stops failing with NOT_FOUND: each server service learns of a new namespace on its own
 * registry refresh (seconds apart), so the frontend may know it while the operator service does not yet.
 */
async function onceNamespaceKnown<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + NAMESPACE_READY_TIMEOUT_MS;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (grpcCode(err) !== grpcStatus.NOT_FOUND || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function namespaceExists(connection: Connection, namespace: string): Promise<boolean> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch (err) {
    if (grpcCode(err) === grpcStatus.NOT_FOUND) return false;
    throw err;
  }
}

async function ensureNamespace(connection: Connection, namespace: string, retentionDays: number): Promise<SetupStep> {
  const what = `namespace ${namespace}`;
  try {
    if (await namespaceExists(connection, namespace)) return { what, outcome: 'present' };
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(`${retentionDays} days`),
        description: 'Card orders (d1-card-orders)',
      });
    } catch (err) {
      // Another setup registered it between our check and our call: that is the outcome we wanted.
      if (grpcCode(err) !== grpcStatus.ALREADY_EXISTS) throw err;
      return { what, outcome: 'present' };
    }
    const deadline = Date.now() + NAMESPACE_READY_TIMEOUT_MS;
    while (!(await namespaceExists(connection, namespace))) {
      if (Date.now() > deadline) return { what, outcome: 'failed', detail: 'registered, but not answering yet' };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { what, outcome: 'created', detail: `retention ${retentionDays} days` };
  } catch (err) {
    return { what, outcome: 'failed', detail: explain(err) };
  }
}

async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<SetupStep[]> {
  let existing: Record<string, proto.temporal.api.enums.v1.IndexedValueType>;
  try {
    ({ customAttributes: existing } = await onceNamespaceKnown(() =>
      connection.operatorService.listSearchAttributes({ namespace }),
    ));
  } catch (err) {
    const detail = explain(err);
    return cardOrderSearchAttributes.map((key) => ({
      what: `search attribute ${key.name}`,
      outcome: 'failed',
      detail,
    }));
  }
  const steps: SetupStep[] = [];
  const missing: string[] = [];
  for (const key of cardOrderSearchAttributes) {
    const what = `search attribute ${key.name}`;
    const type = existing[key.name];
    if (type === undefined) missing.push(key.name);
    else if (type === IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD) steps.push({ what, outcome: 'present' });
    else
      steps.push({
        what,
        outcome: 'failed',
        detail: `exists with type ${IndexedValueType[type] ?? type}, not Keyword: orders cannot be filtered by it`,
      });
  }
  if (missing.length === 0) return steps;
  try {
    await onceNamespaceKnown(() =>
      connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((name) => [name, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
        ),
      }),
    );
    steps.push(...missing.map((name) => ({ what: `search attribute ${name}`, outcome: 'created' as const })));
  } catch (err) {
    const detail = explain(err);
    steps.push(...missing.map((name) => ({ what: `search attribute ${name}`, outcome: 'failed' as const, detail })));
  }
  return steps;
}

/** Registers the namespace and the search attributes on the configured Temporal, keeping what exists. */
export async function setUpTemporal(
  config: Config,
  { timeoutMs = 60_000, retentionDays = 30 }: { timeoutMs?: number; retentionDays?: number } = {},
): Promise<SetupReport> {
  const connection = await waitForTemporal(
    config.temporal.address,
    timeoutMs,
    temporalConnectionOptions(config.temporal),
  );
  try {
    const namespace = await ensureNamespace(connection, config.temporal.namespace, retentionDays);
    const steps = [namespace];
    if (namespace.outcome !== 'failed') {
      steps.push(...(await ensureSearchAttributes(connection, config.temporal.namespace)));
    }
    return { steps, ok: steps.every((step) => step.outcome !== 'failed') };
  } finally {
    await connection.close();
  }
}

/** One line per step, for a terminal. */
export function describeSetup(report: SetupReport): string {
  return report.steps
    .map(({ what, outcome, detail }) => `  ${outcome.padEnd(7)} ${what}${detail ? ` (${detail})` : ''}`)
    .join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = loadConfig();
  const say = (message: string) => process.stderr.write(`${message}\n`);
  setUpTemporal(config).then(
    (report) => {
      say(`Temporal at ${config.temporal.address}:\n${describeSetup(report)}`);
      if (!report.ok) {
        say('Some of the setup could not be done; card orders need every step above. Fix what failed and run again.');
        process.exitCode = 1;
      }
    },
    (err: Error) => {
      say(err.message);
      process.exitCode = 1;
    },
  );
}
