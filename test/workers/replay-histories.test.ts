/**
 * `npm run replay -- <dir>` and `card-orders replay <dir>`, run as an operator runs them (child processes), on copies
 * of recorded histories: one made non-deterministic, others in both JSON forms, and inputs that are not histories.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { projectRoot } from '../../config/config.js';
import { describeReplayError, redactReason } from '../../workers/replay-histories.js';
import { writeWorkflowBundle } from '../../workers/workflow-bundle.js';
import { historiesDir } from '../helpers/saga-stack.js';

const execFileAsync = promisify(execFile);
const codecKeysFile = path.join(projectRoot, 'test/fixtures/codec-keys.json');
const goodHistory = path.join(historiesDir, 'card-order-v2/shipped-by-notifications.json');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command of the project to its end; a non-zero exit is a result, not an error. */
async function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], { cwd: projectRoot, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof code !== 'number') throw err;
    return { code, stdout: stdout ?? '', stderr: stderr ?? '' };
  }
}

/** The recorded history with its `submitOrder` activity renamed: what a renamed activity in the code looks like. */
async function withRenamedActivity(file: string): Promise<string> {
  const history = JSON.parse(await readFile(file, 'utf8')) as {
    events: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[];
  };
  const scheduled = history.events.filter((e) => e.activityTaskScheduledEventAttributes);
  assert.equal(scheduled.length, 1, 'the history schedules one activity');
  scheduled[0]!.activityTaskScheduledEventAttributes!.activityType.name = 'submitOrderRenamed';
  return JSON.stringify(history, null, 2);
}

/** Every payload's `data` in a history file: none may show in the command's output. */
async function payloadData(file: string): Promise<string[]> {
  return [...(await readFile(file, 'utf8')).matchAll(/"data": "([^"]+)"/g)].map((m) => m[1] ?? '');
}

describe('replay of a folder of histories (npm run replay, card-orders replay)', () => {
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  let mixedDir: string;
  let goodDir: string;

  before(async () => {
    workDir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'replay-'));
    // One production bundle for every run below (each would otherwise bundle the workflows again, for seconds).
    const bundlePath = path.join(workDir, 'bundle/workflow-bundle.js');
    await writeWorkflowBundle(bundlePath);
    const { PAYLOAD_CODEC_KEYS: _inline, ...rest } = process.env;
    env = { ...rest, PAYLOAD_CODEC_KEYS_FILE: codecKeysFile, WORKFLOW_BUNDLE_PATH: bundlePath };

    mixedDir = path.join(workDir, 'mixed');
    await mkdir(mixedDir);
    await cp(goodHistory, path.join(mixedDir, 'good.json'));
    await writeFile(path.join(mixedDir, 'renamed-activity.json'), await withRenamedActivity(goodHistory));
    // A workflow type the code no longer has (as removing `workflows/legacy/` too early would do).
    const removedType = JSON.parse(await readFile(goodHistory, 'utf8')) as {
      events: { workflowExecutionStartedEventAttributes?: { workflowType: { name: string } } }[];
    };
    removedType.events[0]!.workflowExecutionStartedEventAttributes!.workflowType.name = 'cardOrderV0';
    await writeFile(path.join(mixedDir, 'removed-type.json'), JSON.stringify(removedType));

    // The CLI's export at the top, the SDK's `historyToJSON` one folder down.
    goodDir = path.join(workDir, 'good');
    await mkdir(path.join(goodDir, 'sdk'), { recursive: true });
    await cp(goodHistory, path.join(goodDir, 'cli-export.json'));
    const other = path.join(historiesDir, 'card-order-v2/cancelled-before-shipping.json');
    await writeFile(
      path.join(goodDir, 'sdk/historyToJSON.json'),
      historyToJSON(historyFromJSON(JSON.parse(await readFile(other, 'utf8')))),
    );
  });

  after(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('exits 1 with one line per history that fails, naming it and its event; the good one passes', async () => {
    const result = await run('npm', ['run', '--silent', 'replay', '--', mixedDir], env);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      `FAIL ${path.join(mixedDir, 'removed-type.json')}: the workflow task failed: TypeError: Failed to initialize ` +
        "workflow of type 'cardOrderV0': no such function is exported by the workflow bundle",
      `FAIL ${path.join(mixedDir, 'renamed-activity.json')}: event 5 ActivityTaskScheduled: [TMPRL1100] ` +
        "Nondeterminism error: Activity type of scheduled event 'submitOrderRenamed' does not match activity type " +
        "of activity command 'submitOrder'",
      'replayed 3 histories: 1 passed, 2 failed',
    ]);
    assert.equal(result.stderr, '', 'the SDK stays quiet');
    for (const data of await payloadData(goodHistory)) {
      assert.ok(!result.stdout.includes(data) && !result.stderr.includes(data), 'no payload in the output');
    }
  });

  it('exits 0 on a folder of good histories, in both JSON forms, found in sub-folders', async () => {
    const result = await run(process.execPath, [path.join(projectRoot, 'bin/card-orders.js'), 'replay', goodDir], env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'replayed 2 histories: 2 passed, 0 failed\n');
  });

  it('is a usage error, exit 2, without a folder, with a missing one, or with a file that is not a history', async () => {
    const none = await run('npm', ['run', '--silent', 'replay'], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^ERR_USAGE: <dir>: is required: card-orders replay <dir>/);

    const missing = path.join(workDir, 'no-such-folder');
    const absent = await run('npm', ['run', '--silent', 'replay', '--', missing], env);
    assert.equal(absent.code, 2);
    assert.match(absent.stderr, new RegExp(`^ERR_USAGE: <dir>: ${missing} does not exist`));

    // Nothing is replayed when one file is not a history: each such file is named.
    const withOthers = path.join(workDir, 'with-others');
    await cp(goodDir, withOthers, { recursive: true });
    await writeFile(path.join(withOthers, 'keys.json'), JSON.stringify({ activeKeyId: 'k', keys: {} }));
    await writeFile(path.join(withOthers, 'sdk/truncated.json'), '{"events": [');
    await writeFile(path.join(withOthers, 'notes.txt'), 'not a .json file: not looked at');
    const mixed = await run('npm', ['run', '--silent', 'replay', '--', withOthers], env);
    assert.equal(mixed.code, 2);
    assert.equal(mixed.stdout, '');
    assert.deepEqual(mixed.stderr.trim().split('\n'), [
      `ERR_REPLAY_INPUT: ${path.join(withOthers, 'keys.json')}: is not a workflow history ` +
        '(expected {"events": [...]}, as `temporal workflow show -o json`)',
      `ERR_REPLAY_INPUT: ${path.join(withOthers, 'sdk/truncated.json')}: is not JSON`,
    ]);
  });

  it('decodes with the key ring of PAYLOAD_CODEC_KEYS_FILE: histories it cannot decode are named, exit 2', async () => {
    const otherRing = path.join(workDir, 'other-keys.json');
    await writeFile(
      otherRing,
      JSON.stringify({ activeKeyId: 'other-1', keys: { 'other-1': randomBytes(32).toString('base64') } }),
    );
    const result = await run('npm', ['run', '--silent', 'replay', '--', goodDir], {
      ...env,
      PAYLOAD_CODEC_KEYS_FILE: otherRing,
    });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(
      result.stderr,
      /^ERR_REPLAY_INPUT: \S+cli-export\.json: ERR_CODEC_KEY: No codec key test-codec-1 to decode this payload$/m,
    );
  });
});

describe('describeReplayError', () => {
  const history = historyFromJSON({
    events: [
      {
        eventId: '1',
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: { workflowType: { name: 'cardOrderV2' } },
      },
      {
        eventId: '5',
        eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
        activityTaskScheduledEventAttributes: { activityId: '1', activityType: { name: 'submitOrder' } },
      },
      {
        eventId: '9',
        eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
        activityTaskScheduledEventAttributes: { activityId: '2', activityType: { name: 'submitOrder' } },
      },
    ],
  });
  /** An error worded as the SDK words a failed replay around Core's failure. */
  function sdkError(name: string, failure: string): Error {
    const error = new Error(
      'Replay failed with a nondeterminism error. This means that the workflow code as written is not compatible ' +
        `with the history that was fed in. Details: Workflow activation completion failed: Failure { failure: ` +
        `Some(Failure { ${failure} }), force_cause: NonDeterministicError }`,
    );
    error.name = name;
    return error;
  }

  it('takes the event Core names (the chaos run: an update reordered on replay)', () => {
    const failure = describeReplayError(
      sdkError(
        'DeterminismViolationError',
        'message: "[TMPRL1100] Nondeterminism error: Update machine does not handle this event: HistoryEvent(id: 28, ' +
          'UpsertWorkflowSearchAttributes)", source: "", stack_trace: "", encoded_attributes: None',
      ),
      history,
    );
    assert.deepEqual(failure, {
      event: { id: 28, type: 'UpsertWorkflowSearchAttributes' },
      reason:
        '[TMPRL1100] Nondeterminism error: Update machine does not handle this event: ' +
        'HistoryEvent(id: 28, UpsertWorkflowSearchAttributes)',
    });
  });

  it('finds the event a quoted value points at only when one event holds it', () => {
    const byId = describeReplayError(
      sdkError(
        'DeterminismViolationError',
        "message: \"[TMPRL1100] Nondeterminism error: Activity id of scheduled event '2' does not match activity id " +
          "of activity command '3'\"",
      ),
      history,
    );
    assert.deepEqual(byId.event, { id: 9, type: 'ActivityTaskScheduled' });
    const ambiguous = describeReplayError(
      sdkError(
        'DeterminismViolationError',
        "message: \"[TMPRL1100] Nondeterminism error: Activity type of scheduled event 'submitOrder' does not match " +
          "activity type of activity command 'cancelOrder'\"",
      ),
      history,
    );
    assert.equal(ambiguous.event, undefined);
    assert.match(ambiguous.reason, /^\[TMPRL1100\] Nondeterminism error: Activity type of scheduled event/);
  });

  it('tells an encrypted workflow task failure by its error type, without its encoded attributes', () => {
    const failure = describeReplayError(
      sdkError(
        'ReplayError',
        'message: "Encoded failure", source: "TypeScriptSDK", stack_trace: "", encoded_attributes: ' +
          'Some([WoYR+miwNicXUG0hSjnh8ieZ7iJAs8APSHBorpJUez0=..Hmr+/SaxX/ApuANiK48BFDWPAQGoQAROO4C1F+3FB8w=]), ' +
          'cause: None, failure_info: Some(ApplicationFailureInfo(ApplicationFailureInfo { r#type: "TypeError" }))',
      ),
      history,
    );
    assert.deepEqual(failure, {
      reason: 'the workflow task failed with TypeError (its message is encrypted by the failure converter)',
    });
  });

  it('cuts anything that looks like an encoded payload from a reason', () => {
    assert.equal(
      redactReason('bad payload WoYR+miwNicXUG0hSjnh8ieZ7iJAs8APSHBorpJUez0= in submitOrderRenamedForTheSecondTime'),
      'bad payload […] in submitOrderRenamedForTheSecondTime',
    );
  });
});
