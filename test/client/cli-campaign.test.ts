import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { campaignWorkflowId } from '../../client/campaigns.js';
import { runCli } from '../../client/cli.js';
import { testPan, writeSampleCampaignFile } from '../../campaigns/sample-file.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';
import type { RecordedManifest } from '../../campaigns/campaign-run.js';
import { updateManifest } from '../../campaigns/page-store.js';

/** The `card-orders campaign` commands, end to end: dev server, simulator (D1's batch API), webhook, worker. */
describe('card-orders campaign CLI', () => {
  let stack: SagaStack;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'cli-campaign-'));
    stack = await startSagaStack({
      serviceEnv: {
        CAMPAIGN_STORE_DIR: path.join(dir, 'store'),
        D1_BATCH_SIZE: '10',
        CAMPAIGN_CHECK_INTERVAL: '200ms',
        CAMPAIGN_CHECK_MAX_INTERVAL: '1s',
      },
      simulatorEnv: { D1_SIM_STEP_DELAY: '300ms' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  async function cli(argv: string[], options: { env?: Record<string, string>; isTTY?: boolean } = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: { ...stack.envVars, ...options.env },
      watchIntervalMs: 100,
      isTTY: options.isTTY ?? false,
    });
    return { code, out, err };
  }

  /** A sample CSV of `cards` cards (line 1 is the header: card i is on line i + 2). */
  async function sampleFile(cards: number, invalidLines: number[] = []) {
    const prefix = uniqueName('k').slice(0, 20);
    const file = path.join(dir, `${prefix}.csv`);
    await writeSampleCampaignFile(file, {
      cards,
      format: 'csv',
      issuerId: stack.config.d1.issuerId,
      prefix,
      invalidLines,
    });
    return { file, id: (i: number) => `${prefix}-${String(i).padStart(6, '0')}` };
  }

  const newCampaignId = () => uniqueName('cmp').slice(0, 40);
  const bar = /\[[#.]{30}\] \d+\/\d+ validated=\d+ at D1=\d+ in production=\d+ shipped=\d+ failed=\d+$/;

  it(
    'refuses a file with a bad line (exit 2, line and field), starts it with --skip-invalid, again changes nothing, ' +
      'and exits 3 with CAMPAIGN_CONFLICT for another file under the same id',
    { timeout: 90_000 },
    () =>
      stack.withWorker(async () => {
        const { file } = await sampleFile(12, [4]);
        const campaignId = newCampaignId();

        const refused = await cli(['campaign', 'start', '--file', file, '--id', campaignId]);
        assert.equal(refused.code, 2, refused.err.join('\n'));
        assert.deepEqual(refused.out, []);
        assert.deepEqual(refused.err, ['ERR_CAMPAIGN_FILE_INVALID: line 4: sensitiveData.pan fails the Luhn check']);
        const refusedJson = await cli(['campaign', 'start', '--file', file, '--id', campaignId, '--json']);
        assert.equal(refusedJson.code, 2);
        const body = JSON.parse(refusedJson.err[0] ?? '{}') as {
          code: string;
          invalid: number;
          lines: { line: number; issues: { field: string }[] }[];
        };
        assert.deepEqual(
          [body.code, body.invalid, body.lines.map((l) => [l.line, l.issues.map((i) => i.field)])],
          ['ERR_CAMPAIGN_FILE_INVALID', 1, [[4, ['sensitiveData.pan']]]],
        );
        assert.ok(!`${refused.err.join('')}${refusedJson.err.join('')}`.includes(testPan(2, false)), 'no card value');
        const none = await cli(['campaign', 'status', campaignId]);
        assert.equal(none.code, 1, 'a refused file leaves no campaign');
        assert.match(none.err[0] ?? '', /^CAMPAIGN_NOT_FOUND: /);

        // D1 answers slowly until the second start is done: the campaign is still running then (a completed one is
        // not started again: CAMPAIGN_ALREADY_RAN, below).
        await stack.d1.faults({ latencyMs: 5_000 });
        const started = await cli(['campaign', 'start', '--file', file, '--id', campaignId, '--skip-invalid']);
        assert.equal(started.code, 0, started.err.join('\n'));
        assert.deepEqual(started.err, ['stored page 1/2', 'stored page 2/2']);
        assert.equal(started.out.length, 1);
        assert.match(started.out[0] ?? '', new RegExp(`^${campaignId} RUNNING total=12 valid=11 invalid=1`));
        const handle = stack.client.temporal.workflow.getHandle(
          campaignWorkflowId(stack.config.d1.issuerId, campaignId),
        );
        const { runId } = await handle.describe();

        const again = await cli(['campaign', 'start', '--file', file, '--id', campaignId, '--skip-invalid', '--json']);
        assert.equal(again.code, 0, again.err.join('\n'));
        assert.deepEqual(again.err, [], 'nothing stored again');
        const status = JSON.parse(again.out[0] ?? '{}') as { state: string; valid: number };
        assert.equal(status.state, 'RUNNING');
        assert.equal(status.valid, 11);
        assert.equal((await handle.describe()).runId, runId, 'the same campaign run');
        await stack.d1.faults({ latencyMs: 0 });

        const other = await sampleFile(3);
        const conflict = await cli(['campaign', 'start', '--file', other.file, '--id', campaignId]);
        assert.equal(conflict.code, 3, conflict.err.join('\n'));
        assert.deepEqual(conflict.out, []);
        assert.match(conflict.err[0] ?? '', /^CAMPAIGN_CONFLICT: .*different file/);
        const conflictJson = await cli(['campaign', 'start', '--file', other.file, '--id', campaignId, '--json']);
        assert.equal(conflictJson.code, 3);
        assert.deepEqual(JSON.parse(conflictJson.err[0] ?? '{}'), {
          code: 'CAMPAIGN_CONFLICT',
          message: `Campaign ${campaignId} was started with a different file; a new file needs a new campaign id`,
          campaignId,
        });

        // Once it completed: status --json shows it whole, and a cancel is refused.
        await eventually(
          async () => ((await stack.client.getCampaign(campaignId)).state === 'COMPLETED' ? true : undefined),
          { timeoutMs: 60_000, intervalMs: 250, what: 'the campaign to complete' },
        );
        const shown = await cli(['campaign', 'status', campaignId, '--json']);
        assert.equal(shown.code, 0);
        const json = JSON.parse(shown.out[0] ?? '{}') as Record<string, unknown>;
        assert.deepEqual(
          [json.campaignId, json.state, json.total, json.valid, json.invalid, typeof json.counts],
          [campaignId, 'COMPLETED', 12, 11, 1, 'object'],
        );
        const line = await cli(['campaign', 'status', campaignId]);
        assert.match(
          line.out[0] ?? '',
          new RegExp(`^${campaignId} COMPLETED total=12 valid=11 invalid=1 SHIPPED=\\d+`),
        );

        const cancel = await cli(['campaign', 'cancel', campaignId]);
        assert.deepEqual([cancel.code, cancel.out], [1, ['REFUSED (CAMPAIGN_ALREADY_COMPLETED)']]);

        // A completed campaign runs once: started again it is refused (exit 3), and its run stays the one it was.
        const rerun = await cli(['campaign', 'start', '--file', file, '--id', campaignId, '--skip-invalid', '--json']);
        assert.equal(rerun.code, 3, rerun.err.join('\n'));
        assert.deepEqual(rerun.out, []);
        const rerunBody = JSON.parse(rerun.err[0] ?? '{}') as Record<string, unknown>;
        assert.deepEqual(
          [rerunBody.code, rerunBody.campaignId, rerunBody.ended],
          ['CAMPAIGN_ALREADY_RAN', campaignId, 'COMPLETED'],
        );
        assert.equal((await handle.describe()).runId, runId, 'no new run');
        const manifest = (await stack.client
          .campaignStore()
          .readManifest(stack.config.d1.issuerId, campaignId)) as RecordedManifest;
        assert.equal(manifest.run?.ended, 'COMPLETED', 'the manifest records how it ended');
        const pause = await cli(['campaign', 'pause', campaignId, '--json']);
        assert.equal(pause.code, 1);
        assert.deepEqual(
          (({ outcome, reason }) => ({ outcome, reason }))(JSON.parse(pause.out[0] ?? '{}') as Record<string, unknown>),
          { outcome: 'REFUSED', reason: 'CAMPAIGN_ALREADY_COMPLETED' },
        );
      }),
  );

  it(
    'watches a campaign to COMPLETED with a progress bar redrawn in place, and lists the card D1 failed',
    { timeout: 90_000 },
    () =>
      stack.withWorker(async () => {
        const { file, id } = await sampleFile(12);
        await stack.d1.faults({
          outcomes: [{ match: { cardId: id(3) }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' }],
        });
        const campaignId = newCampaignId();
        const started = await cli(['campaign', 'start', '--file', file, '--id', campaignId]);
        assert.equal(started.code, 0, started.err.join('\n'));
        assert.match(started.out[0] ?? '', /^\S+ RUNNING total=12 valid=12 invalid=0/);

        const watched = await cli(['campaign', 'watch', campaignId], { isTTY: true });
        assert.equal(watched.code, 0, watched.err.join('\n'));
        assert.ok(watched.out.length >= 2, `a line per change: ${watched.out.join('\n')}`);
        const redraw = '\x1b[1A\x1b[2K';
        assert.ok(!(watched.out[0] ?? '').includes('\x1b'), 'the first line is drawn as it is');
        for (const line of watched.out.slice(1)) assert.ok(line.startsWith(redraw), 'then redrawn in place');
        for (const line of watched.out) assert.match(line, bar);
        assert.ok(
          (watched.out.at(-1) ?? '').startsWith(`${redraw}${campaignId} COMPLETED [${'#'.repeat(30)}] 12/12 `),
          watched.out.at(-1),
        );

        // Visibility catches up: the watch of the ended campaign prints one plain line with the final counts.
        const final = await eventually(
          async () => {
            const again = await cli(['campaign', 'watch', campaignId, '--every', '1s']);
            return again.out.at(-1)?.endsWith('shipped=11 failed=1') ? again : undefined;
          },
          { timeoutMs: 10_000, intervalMs: 250, what: 'the final counts' },
        );
        assert.deepEqual(final.code, 0);
        assert.deepEqual(final.out, [
          `${campaignId} COMPLETED [${'#'.repeat(30)}] 12/12 validated=12 at D1=0 in production=0 shipped=11 failed=1`,
        ]);

        const failures = await cli(['campaign', 'failures', campaignId, '--json']);
        assert.equal(failures.code, 0, failures.err.join('\n'));
        const listed = JSON.parse(failures.out[0] ?? '[]') as {
          issuerRequestId: string;
          cardId: string;
          errorCode: string;
        }[];
        assert.deepEqual(
          listed.map((f) => [f.issuerRequestId, f.cardId, f.errorCode]),
          [[id(3), id(3), 'PERSONALIZATION_FAILED']],
        );
        const text = await cli(['campaign', 'failures', campaignId]);
        assert.equal(text.out.length, 1);
        assert.match(text.out[0] ?? '', new RegExp(`^${id(3)} ${id(3)} PERSONALIZATION_FAILED \\S`));
        assert.doesNotMatch(text.out.join('') + failures.out.join(''), /400000|Main St/, 'no card data or address');
      }),
  );

  it('pauses and resumes a running campaign, cancels it, and its watch then exits 1', { timeout: 90_000 }, () =>
    stack.withWorker(async () => {
      const { file } = await sampleFile(30);
      const campaignId = newCampaignId();
      // A page goes only once the previous one's cards are out of flight: three pages take a while.
      const slow = { env: { CAMPAIGN_MAX_IN_FLIGHT: '10' } };
      const started = await cli(['campaign', 'start', '--file', file, '--id', campaignId], slow);
      assert.equal(started.code, 0, started.err.join('\n'));
      assert.deepEqual(started.err, ['stored page 1/3', 'stored page 2/3', 'stored page 3/3']);

      const paused = await cli(['campaign', 'pause', campaignId]);
      assert.deepEqual([paused.code, paused.out], [0, ['PAUSED']], paused.err.join('\n'));
      const status = await cli(['campaign', 'status', campaignId, '--json']);
      assert.equal((JSON.parse(status.out[0] ?? '{}') as { state: string }).state, 'PAUSED');
      assert.deepEqual((await cli(['campaign', 'pause', campaignId])).out, ['PAUSED'], 'a pause again changes nothing');

      const resumed = await cli(['campaign', 'resume', campaignId]);
      assert.deepEqual([resumed.code, resumed.out], [0, ['RUNNING']], resumed.err.join('\n'));

      // Taken, not yet done: the page under way finishes first.
      const cancelled = await cli(['campaign', 'cancel', campaignId]);
      assert.deepEqual([cancelled.code, cancelled.out], [0, ['CANCELLING']], cancelled.err.join('\n'));
      // --wait waits for the cancel under way, and prints the state the campaign ended in.
      const waited = await cli(['campaign', 'cancel', campaignId, '--wait']);
      assert.deepEqual([waited.code, waited.out], [0, ['CANCELLED']], waited.err.join('\n'));
      assert.deepEqual((await cli(['campaign', 'pause', campaignId])).out, ['REFUSED (CAMPAIGN_ALREADY_CANCELLED)']);
      const watched = await cli(['campaign', 'watch', campaignId]);
      assert.equal(watched.code, 1);
      assert.match(watched.out.at(-1) ?? '', new RegExp(`^${campaignId} CANCELLED `));
      assert.match(watched.out.at(-1) ?? '', bar);

      // Once its run closed, a cancelled campaign is not started again.
      const handle = stack.client.temporal.workflow.getHandle(campaignWorkflowId(stack.config.d1.issuerId, campaignId));
      await handle.result();
      const rerun = await cli(['campaign', 'start', '--file', file, '--id', campaignId], slow);
      assert.equal(rerun.code, 3, rerun.err.join('\n'));
      assert.match(
        rerun.err[0] ?? '',
        new RegExp(`^CAMPAIGN_ALREADY_RAN: Campaign ${campaignId} already ran .*ended CANCELLED`),
      );
    }),
  );

  it(
    'starts a FAILED campaign again; once Temporal no longer knows a campaign that ran, refuses it (exit 3)',
    { timeout: 90_000 },
    () =>
      stack.withWorker(async () => {
        const issuerId = stack.config.d1.issuerId;
        const store = stack.client.campaignStore();
        const slow = { env: { CAMPAIGN_MAX_IN_FLIGHT: '10' } };
        const { file } = await sampleFile(30);
        const campaignId = newCampaignId();
        const handle = stack.client.temporal.workflow.getHandle(campaignWorkflowId(issuerId, campaignId));
        const manifestOf = async (id: string) => (await store.readManifest(issuerId, id)) as RecordedManifest;

        assert.equal((await cli(['campaign', 'start', '--file', file, '--id', campaignId], slow)).code, 0);
        const startedAt = (await manifestOf(campaignId)).run?.startedAt;
        assert.ok(startedAt, 'the manifest records the start');
        assert.deepEqual((await cli(['campaign', 'pause', campaignId])).out, ['PAUSED']);
        const { runId: firstRun } = await handle.describe();
        await handle.terminate('an operator stops it');
        const failed = await cli(['campaign', 'status', campaignId, '--json']);
        assert.equal((JSON.parse(failed.out[0] ?? '{}') as { state: string }).state, 'FAILED');
        assert.equal((await manifestOf(campaignId)).run?.ended, 'FAILED');

        const again = await cli(['campaign', 'start', '--file', file, '--id', campaignId, '--json'], slow);
        assert.equal(again.code, 0, again.err.join('\n'));
        const { runId: secondRun, status } = await handle.describe();
        assert.notEqual(secondRun, firstRun, 'a new run');
        assert.equal(status.name, 'RUNNING');
        assert.deepEqual((await manifestOf(campaignId)).run, { startedAt }, 'running again, its first start kept');
        await handle.terminate('test done');

        // Campaigns Temporal has forgotten (retention): only the manifest says they ran.
        const gone = async (run: RecordedManifest['run']) => {
          const id = newCampaignId();
          const sample = await sampleFile(3);
          const manifest = await stack.client.ingestCampaign({ file: sample.file, campaignId: id });
          await updateManifest(
            store,
            manifest.issuerId,
            id,
            (current) => ({ ...(current ?? manifest), run }) as RecordedManifest,
          );
          return { id, file: sample.file };
        };
        const longAgo = new Date(Date.now() - 400 * 86_400_000).toISOString();
        const unknownEnd = await gone({ startedAt: longAgo });
        const refused = await cli(['campaign', 'start', '--file', unknownEnd.file, '--id', unknownEnd.id, '--json']);
        assert.equal(refused.code, 3, refused.err.join('\n'));
        const body = JSON.parse(refused.err[0] ?? '{}') as Record<string, unknown>;
        assert.deepEqual([body.code, body.ended, body.startedAt], ['CAMPAIGN_ALREADY_RAN', 'UNKNOWN', longAgo]);
        const completed = await gone({ startedAt: new Date().toISOString(), ended: 'COMPLETED' });
        const refusedToo = await cli(['campaign', 'start', '--file', completed.file, '--id', completed.id]);
        assert.equal(refusedToo.code, 3, refusedToo.err.join('\n'));
        assert.match(refusedToo.err[0] ?? '', /^CAMPAIGN_ALREADY_RAN: .*ended COMPLETED/);
        const shownGone = await cli(['campaign', 'status', completed.id, '--json']);
        const goneStatus = JSON.parse(shownGone.out[0] ?? '{}') as { state: string; campaign?: unknown };
        assert.deepEqual([goneStatus.state, goneStatus.campaign], ['COMPLETED', undefined], 'its recorded end');
        const none = await stack.client.temporal.workflow.count(
          `WorkflowId IN ('${campaignWorkflowId(issuerId, unknownEnd.id)}', '${campaignWorkflowId(issuerId, completed.id)}')`,
        );
        assert.equal(none.count, 0, 'no run started');

        // Started within the retention and unknown to Temporal: the start was cut off before the workflow began.
        const cutOff = await gone({ startedAt: new Date().toISOString() });
        const resumed = await cli(['campaign', 'start', '--file', cutOff.file, '--id', cutOff.id]);
        assert.equal(resumed.code, 0, resumed.err.join('\n'));
        await stack.client.temporal.workflow.getHandle(campaignWorkflowId(issuerId, cutOff.id)).terminate('test done');
      }),
  );

  it('exits 1 with CAMPAIGN_NOT_FOUND for an unknown campaign, and 2 with ERR_USAGE naming the argument', async () => {
    const unknown = newCampaignId();
    const missing = await cli(['campaign', 'status', unknown]);
    assert.equal(missing.code, 1);
    assert.deepEqual(missing.out, []);
    assert.deepEqual(missing.err, [`CAMPAIGN_NOT_FOUND: No campaign ${unknown} for issuer ISSUER0001`]);
    const missingJson = await cli(['campaign', 'failures', unknown, '--json']);
    assert.equal(missingJson.code, 1);
    assert.equal((JSON.parse(missingJson.err[0] ?? '{}') as { code: string }).code, 'CAMPAIGN_NOT_FOUND');
    const missingPause = await cli(['campaign', 'pause', unknown]);
    assert.deepEqual(missingPause.code, 1);
    assert.match(missingPause.err[0] ?? '', /^CAMPAIGN_NOT_FOUND: /);

    // A cardId twice in the file (another issuerRequestId): both lines named, nothing stored.
    const { file } = await sampleFile(3);
    const [, firstRow] = (await readFile(file, 'utf8')).split('\n');
    await appendFile(file, `${(firstRow ?? '').replace(/^[^,]+/, 'another-request')}\n`);
    const twice = await cli(['campaign', 'start', '--file', file, '--id', newCampaignId()]);
    assert.deepEqual(
      [twice.code, twice.out, twice.err],
      [2, [], ['ERR_CAMPAIGN_FILE_INVALID: line 5: cardId is used again (first on line 2)']],
    );

    const cases: [string[], string][] = [
      [['campaign'], '<action>'],
      [['campaign', 'launch'], '<action>'],
      [['campaign', 'status'], '<campaignId>'],
      [['campaign', 'watch', "x' OR 1=1"], '<campaignId>'],
      [['campaign', 'pause', 'a'.repeat(49)], '<campaignId>'],
      [['campaign', 'start', '--file', 'cards.csv'], '--id'],
      [['campaign', 'start', '--file', 'cards.csv', '--id', 'no/slash'], '--id'],
      [['campaign', 'start', '--id', 'renewals'], '--file'],
      [['campaign', 'status', 'renewals', '--file', 'cards.csv'], '--file'],
      [['campaign', 'resume', 'renewals', '--pull'], '--pull'],
      [['campaign', 'status', 'renewals', '--every', '5s'], '--every'],
      [['campaign', 'watch', 'renewals', '--every', '500ms'], '--every'],
      [['campaign', 'watch', 'renewals', '--every', 'often'], '--every'],
    ];
    for (const [argv, argument] of cases) {
      const { code, out, err } = await cli([...argv, '--json']);
      assert.equal(code, 2, argv.join(' '));
      assert.deepEqual(out, []);
      const body = JSON.parse(err[0] ?? '{}') as { code: string; argument: string };
      assert.deepEqual([body.code, body.argument], ['ERR_USAGE', argument], argv.join(' '));
    }
    const help = await cli(['--help']);
    assert.match(help.out[0] ?? '', /campaign start --file .* --id <campaignId> \[--skip-invalid\]/);
    assert.match(help.out[0] ?? '', /CAMPAIGN_CONFLICT/);
    assert.match(help.out[0] ?? '', /CAMPAIGN_ALREADY_RAN/);
  });
});
