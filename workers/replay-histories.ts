/**
 * Replays recorded workflow histories against the current workflow code, offline (no Temporal server): a history
 * that no longer replays is a running workflow that this code would wedge on its next task. Used by
 * `card-orders replay <dir>` (`npm run replay -- <dir>`) before a deploy, and by the replay test of
 * `test/histories/`.
 *
 * Histories are the JSON of `temporal workflow show -o json` or of the SDK's `historyToJSON` (both
 * `{"events": [...]}`), payloads still encrypted: they are decoded with the configured codec key ring. Nothing here
 * prints a payload; failures are told by file, event and the SDK's reason.
 *
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { IllegalStateError, type PayloadCodec } from '@temporalio/common';
import { historyFromJSON, JSONToPayload, type History } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { failureConverterPath, loadCodecKeyRing } from '../codec/data-converter.js';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../codec/payload-codec.js';
import type { Config } from '../config/config.js';
import { CliUsageError, isCardOrderError, ReplayInputError } from '../common/errors.js';

const { EventType } = proto.temporal.api.enums.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** A history file: where it is, and the name it is reported under (the folder as given, then its path inside). */
export interface HistoryFile {
  path: string;
  name: string;
}

/** Why a history did not replay. */
export interface ReplayFailure {
  /** The history event at which the replay diverged, when the error names it (or points at exactly one). */
  event?: { id: number; type: string };
  /** The SDK's reason, with anything that looks like an encoded payload cut out. */
  reason: string;
}

export interface ReplayOutcome {
  file: HistoryFile;
  /** Absent when the history replayed. */
  failure?: ReplayFailure;
}

export interface ReplaySummary {
  replayed: number;
  passed: number;
  failed: number;
}

/**
 * Every `*.json` file under `dir`, recursively, in path order.
 *
 * @throws {CliUsageError} when `dir` is not a folder.
 * @throws {ReplayInputError} when it holds no `*.json` file: a replay of nothing must not pass for a green check.
 */
export async function findHistoryFiles(dir: string): Promise<HistoryFile[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new CliUsageError('<dir>', `${dir} is not a folder`);
  } catch (err) {
    if (isCardOrderError(err)) throw err;
    throw new CliUsageError('<dir>', `${dir} does not exist or cannot be read`);
  }
  const files: HistoryFile[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.name.endsWith('.json')) continue;
    const file = path.join(entry.parentPath, entry.name);
    // A link to a history counts like the history itself.
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(file).catch(() => undefined))?.isFile())) {
      files.push({ path: file, name: path.join(dir, path.relative(dir, file)) });
    }
  }
  if (files.length === 0) throw new ReplayInputError([{ file: dir, reason: 'holds no history (*.json) file' }]);
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The encrypted payloads of a history's JSON, wherever they sit (inputs, results, failures, markers, headers). */
function* encryptedPayloads(value: unknown): Generator<unknown> {
  if (Array.isArray(value)) {
    for (const item of value) yield* encryptedPayloads(item);
  } else if (typeof value === 'object' && value !== null) {
    const { metadata } = value as { metadata?: unknown };
    const encoding =
      typeof metadata === 'object' && metadata !== null ? (metadata as { encoding?: unknown }).encoding : undefined;
    if (typeof encoding === 'string' && Buffer.from(encoding, 'base64').toString() === ENCRYPTED_ENCODING) {
      yield value;
      return;
    }
    for (const child of Object.values(value)) yield* encryptedPayloads(child);
  }
}

/**
 * Reads one history file. With `codec`, also decodes each of its encrypted payloads (and drops the result), so a
 * key ring that cannot read them is reported before the replay, instead of as an opaque workflow task failure.
 *
 * @returns the history, or why the file cannot be replayed (never a fragment of its contents).
 */
export async function readHistoryFile(
  file: string,
  codec?: PayloadCodec,
): Promise<{ history: History } | { reason: string }> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    // JSON.parse quotes the text around the fault: say only that it is not JSON.
    return { reason: err instanceof SyntaxError ? 'is not JSON' : `cannot be read: ${(err as Error).message}` };
  }
  let history: History;
  try {
    history = historyFromJSON(json);
  } catch {
    return { reason: 'is not a workflow history (expected {"events": [...]}, as `temporal workflow show -o json`)' };
  }
  const first = history.events?.[0];
  if (first?.eventType !== EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) {
    return { reason: 'is not a workflow history (its first event is not WorkflowExecutionStarted)' };
  }
  if (codec) {
    for (const payload of encryptedPayloads(json)) {
      try {
        await codec.decode([JSONToPayload(payload as Parameters<typeof JSONToPayload>[0])]);
      } catch (err) {
        // The codec's messages name the key id, never the data.
        return { reason: isCardOrderError(err) ? `${err.code}: ${err.message}` : 'holds a payload that is malformed' };
      }
    }
  }
  return { history };
}

/** `EVENT_TYPE_ACTIVITY_TASK_SCHEDULED` → `ActivityTaskScheduled`, as the SDK's messages write event types. */
function eventTypeName(type: number | null | undefined): string {
  const name = EventType[type ?? 0] ?? 'EVENT_TYPE_UNSPECIFIED';
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(?:^|_)([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Core's messages that name a scheduled event by a value instead of its id, and where that value sits. */
const valueNamedEvents: Record<string, (event: HistoryEvent) => string | null | undefined> = {
  'Activity type': (e) => e.activityTaskScheduledEventAttributes?.activityType?.name,
  'Activity id': (e) => e.activityTaskScheduledEventAttributes?.activityId,
  'Child workflow type': (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name,
  'Child workflow id': (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId,
};

/** The event a Core message points at: `HistoryEvent(id: 28, Type)`, or the one event holding the value it quotes. */
function divergedEvent(message: string, history: History): ReplayFailure['event'] {
  const named = /HistoryEvent\(id: (\d+), ([A-Za-z]+)/.exec(message);
  if (named) return { id: Number(named[1]), type: named[2] ?? '' };
  // e.g. "Activity type of scheduled event 'a' does not match activity type of activity command 'b'"; a local
  // activity's "scheduled event" is a marker whose details are payloads, so it is not looked for.
  const quoted = /(Activity type|Activity id|Child workflow type|Child workflow id) of scheduled event '([^']*)'/.exec(
    message,
  );
  if (!quoted || / of local activity command /.test(message)) return undefined;
  const valueOf = valueNamedEvents[quoted[1] ?? ''];
  const matches = (history.events ?? []).filter((event) => valueOf?.(event) === quoted[2]);
  const [event] = matches;
  if (matches.length !== 1 || !event) return undefined;
  return { id: Number(event.eventId), type: eventTypeName(event.eventType) };
}

/** Cuts runs that look like base64 (encrypted payloads, encoded attributes) and bounds the length. */
export function redactReason(text: string): string {
  const cut = text
    .replace(/[A-Za-z0-9+/]{32,}={0,2}/g, (run) => (/[0-9+/]/.test(run) ? '[…]' : run))
    .replace(/\s+/g, ' ')
    .trim();
  return cut.length > 500 ? `${cut.slice(0, 499)}…` : cut;
}

/**
 * Tells a replay error (`DeterminismViolationError`, `ReplayError`) as the event where the replay diverged and why.
 * The SDK wraps Core's failure in a Rust debug dump (`Failure { message: "…", encoded_attributes: … }`): only its
 * message is kept. A workflow task that failed carries `Encoded failure` (the failure converter encrypts messages):
 * it is told by `activationError` when the SDK logged one for the run, else by its error type.
 */
export function describeReplayError(error: Error, history: History, activationError?: string): ReplayFailure {
  const details = error.message.includes('Details: ')
    ? error.message.slice(error.message.indexOf('Details: ') + 'Details: '.length)
    : error.message;
  const quoted = /message: "((?:[^"\\]|\\.)*)"/.exec(details);
  const core = quoted ? (quoted[1] ?? '').replace(/\\(.)/g, '$1') : undefined;
  let reason: string;
  if (core === 'Encoded failure' && activationError) {
    reason = `the workflow task failed: ${activationError}`;
  } else if (core === 'Encoded failure') {
    const type = /r#type: "([^"]+)"/.exec(details)?.[1];
    reason = `the workflow task failed${type ? ` with ${type}` : ''} (its message is encrypted by the failure converter)`;
  } else if (core !== undefined) {
    reason = error.name === 'DeterminismViolationError' ? core : `the workflow task failed: ${core}`;
  } else {
    reason = error.name === 'DeterminismViolationError' ? details : error.message;
  }
  const event = divergedEvent(core ?? details, history);
  return { ...(event && { event }), reason: redactReason(reason) };
}

/**
 * The errors the SDK logged while it processed a run's activation (a workflow type the bundle lacks, a payload that
 * does not decode), by run id: the failure Core reports for them is encrypted. Filled by `installReplayRuntime`.
 */
const activationErrors = new Map<string, string>();

/** The SDK's replay worker's options for `workflowBundle` and the key ring's codec. */
function replayOptions(workflowBundle: WorkflowBundleOption, codec: PayloadCodec) {
  return { workflowBundle, dataConverter: { payloadCodecs: [codec], failureConverterPath } };
}

/** Replays `files` one after another in one replay worker; yields each outcome as it comes. */
export async function* replayHistoryFiles(
  files: readonly HistoryFile[],
  { workflowBundle, codec }: { workflowBundle: WorkflowBundleOption; codec: PayloadCodec },
): AsyncGenerator<ReplayOutcome> {
  // The SDK replays one history at a time and reports it by the workflow id given: the file's name here.
  const pending = new Map<string, { file: HistoryFile; history: History }>();
  async function* load() {
    for (const file of files) {
      const read = await readHistoryFile(file.path);
      if ('reason' in read) throw new ReplayInputError([{ file: file.name, reason: read.reason }]);
      pending.set(file.name, { file, history: read.history });
      yield { workflowId: file.name, history: read.history };
    }
  }
  for await (const result of Worker.runReplayHistories(replayOptions(workflowBundle, codec), load())) {
    const replayed = pending.get(result.workflowId);
    if (!replayed) continue;
    pending.delete(result.workflowId);
    yield {
      file: replayed.file,
      ...(result.error && {
        failure: describeReplayError(result.error, replayed.history, activationErrors.get(result.runId)),
      }),
    };
    activationErrors.delete(result.runId);
  }
}

/**
 * Replays every history under `dir`. Every file is checked first (a history, decodable by the key ring): any that
 * is not stops the run before anything is replayed, with `ReplayInputError` naming each.
 *
 * @throws {CliUsageError} `dir` is not a folder.
 * @throws {ReplayInputError} no history under `dir`, or files that cannot be replayed.
 */
export async function replayDirectory(
  dir: string,
  options: {
    /** Where the codec key ring comes from: the configuration's `payloadCodec` (`PAYLOAD_CODEC_KEYS[_FILE]`). */
    codecKeys: Pick<Config['payloadCodec'], 'inline' | 'file'>;
    /** The workflow code to replay against; loaded once the files are checked (building it takes seconds). */
    workflowBundle: () => Promise<WorkflowBundleOption>;
    /** Called with each history's outcome, in file order. */
    onResult?: (outcome: ReplayOutcome) => void;
  },
): Promise<ReplaySummary> {
  const files = await findHistoryFiles(dir);
  const codec = new AesGcmPayloadCodec(await loadCodecKeyRing(options.codecKeys));
  const problems: { file: string; reason: string }[] = [];
  for (const file of files) {
    const read = await readHistoryFile(file.path, codec);
    if ('reason' in read) problems.push({ file: file.name, reason: read.reason });
  }
  if (problems.length > 0) throw new ReplayInputError(problems);
  const summary: ReplaySummary = { replayed: 0, passed: 0, failed: 0 };
  for await (const outcome of replayHistoryFiles(files, { workflowBundle: await options.workflowBundle(), codec })) {
    summary.replayed += 1;
    if (outcome.failure) summary.failed += 1;
    else summary.passed += 1;
    options.onResult?.(outcome);
  }
  return summary;
}

/** A failed history's line: `FAIL <file>: event <id> <Type>: <reason>` (no event when the error tells none). */
export function formatFailure(file: HistoryFile, failure: ReplayFailure): string {
  const event = failure.event ? ` event ${failure.event.id} ${failure.event.type}:` : '';
  return `FAIL ${file.name}:${event} ${failure.reason}`;
}

/** The closing line: `replayed N histories: N passed, N failed`. */
export function formatSummary({ replayed, passed, failed }: ReplaySummary): string {
  return `replayed ${replayed} histories: ${passed} passed, ${failed} failed`;
}

/**
 * Quiets the SDK for a replay command: its worker logs its state changes, and Core logs each failed workflow task
 * with a dump of the failure (encoded payloads included). The outcome lines say what matters; the SDK's own errors
 * are kept, as their message only. Core's logs are off rather than forwarded: forwarding holds the process open
 * when no replay worker ever ran (a bad input). A process that already installed its runtime (a test) keeps it.
 */
export function installReplayRuntime(err: (line: string) => void): void {
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR', ({ message, meta }) => {
        const { runId, error } = (meta ?? {}) as { runId?: unknown; error?: { name?: unknown; message?: unknown } };
        // Not `instanceof Error`: errors from the workflow sandbox come from another realm.
        const reason = typeof error?.message === 'string' ? error.message : undefined;
        if (message === 'Failed to process Workflow Activation' && typeof runId === 'string' && reason) {
          // Told on the history's FAIL line instead.
          activationErrors.set(runId, `${typeof error?.name === 'string' ? error.name : 'Error'}: ${reason}`);
        } else {
          err(`replay: ${redactReason(message)}`);
        }
      }),
      telemetryOptions: { logging: { filter: 'off', console: {} } },
      // Ctrl-C ends an offline replay at once: there is no work to drain, and the SDK's handler would delay it.
      shutdownSignals: [],
    });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
  }
}
