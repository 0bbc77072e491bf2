import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from '../../client/cli.js';
import { projectRoot } from '../../config/config.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';

const run = promisify(execFile);

describe('card-orders CLI', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack({ simulatorEnv: { D1_SIM_STEP_DELAY: '200ms' } });
  });
  after(async () => {
    await stack?.close();
  });

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: stack.envVars,
      watchIntervalMs: 100,
    });
    return { code, out, err };
  }

  /** The example order, with ids no other test uses (and `extra` fields, e.g. its timings). */
  async function exampleOrderFile(
    extra: Record<string, unknown> = {},
  ): Promise<{ file: string; issuerRequestId: string }> {
    const order = JSON.parse(
      await readFile(path.join(projectRoot, 'examples/order-individual.json'), 'utf8'),
    ) as Record<string, unknown>;
    const issuerRequestId = uniqueName('cli');
    const file = path.join(process.env.TEST_TMPDIR ?? tmpdir(), `${issuerRequestId}.json`);
    await writeFile(
      file,
      JSON.stringify({ ...order, issuerRequestId, cardId: issuerRequestId.slice(0, 40), ...extra }),
    );
    return { file, issuerRequestId };
  }

  it('places the example order, watches it to SHIPPED, and shows and lists it', () =>
    stack.withWorker(async () => {
      const { file, issuerRequestId } = await exampleOrderFile();
      const placed = await cli('order', '--file', file, '--json');
      assert.equal(placed.code, 0, placed.err.join('\n'));
      assert.deepEqual(JSON.parse(placed.out[0] ?? '{}'), {
        workflowId: `card-order:ISSUER0001:${issuerRequestId}`,
        placement: 'STARTED',
      });
      const watched = await cli('watch', issuerRequestId);
      assert.equal(watched.code, 0);
      assert.match(watched.out.at(-1) ?? '', /status=SHIPPED stage=CARD_SHIPPED tracking=fedex:/);
      const status = await cli('status', issuerRequestId, '--json');
      assert.equal((JSON.parse(status.out[0] ?? '{}') as { status: string }).status, 'SHIPPED');
      const again = await cli('order', '--file', file);
      assert.match(again.out[0] ?? '', /EXISTING$/);
    }));

  it('ends the watch of a shipped order by saying until when it listens, and waits for it with --until-closed', () =>
    stack.withWorker(async () => {
      // Long enough for the first watch to see the order shipped and still open, short enough to wait out.
      const { file, issuerRequestId } = await exampleOrderFile({ timings: { deliveryWindow: '6s' } });
      assert.equal((await cli('order', '--file', file)).code, 0);
      const watched = await cli('watch', issuerRequestId);
      assert.equal(watched.code, 0);
      assert.match(watched.out.at(-2) ?? '', /status=SHIPPED stage=CARD_SHIPPED tracking=fedex:/);
      const windowEndsAt = /^delivery window open until (\S+)$/.exec(watched.out.at(-1) ?? '')?.[1];
      assert.ok(windowEndsAt, `last line: ${watched.out.at(-1)}`);
      assert.equal((await stack.client.getOrder(issuerRequestId)).execution, 'RUNNING');

      const closed = await cli('watch', issuerRequestId, '--until-closed');
      assert.equal(closed.code, 0);
      assert.equal(closed.out.at(-2), `delivery window open until ${windowEndsAt}`);
      assert.match(
        closed.out.at(-1) ?? '',
        /status=SHIPPED stage=CARD_SHIPPED tracking=fedex:\S+ execution=COMPLETED$/,
      );
      assert.ok(Date.now() >= Date.parse(windowEndsAt), 'it waited for the window to close');
    }));

  it('cancels an order in production, and refuses to cancel one that has ended', () =>
    stack.withWorker(async () => {
      const { file, issuerRequestId } = await exampleOrderFile();
      await cli('order', '--file', file);
      const requestId = uniqueName('cli-cancel');
      const cancelled = await cli('cancel', issuerRequestId, '--request-id', requestId);
      assert.deepEqual([cancelled.code, cancelled.out], [0, ['CANCELLED']]);
      const history = await stack.client.temporal.workflow
        .getHandle(cardOrderWorkflowId('ISSUER0001', issuerRequestId))
        .fetchHistory();
      assert.deepEqual(
        (history.events ?? [])
          .filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes)
          .map((event) => event.workflowExecutionUpdateAcceptedEventAttributes?.protocolInstanceId),
        [requestId],
        'the request id is the update id',
      );
      const refused = await cli('cancel', issuerRequestId, '--json');
      assert.equal(refused.code, 1);
      assert.deepEqual(JSON.parse(refused.out[0] ?? '{}'), { outcome: 'REJECTED', reason: 'ORDER_ALREADY_CANCELLED' });
      const listed = await cli('list', '--status', 'CANCELLED', '--json');
      assert.equal(listed.code, 0);
    }));

  it(
    'ends the watch of an order whose run closed in a status that is not final (terminated)',
    { timeout: 60_000 },
    async () => {
      const { file, issuerRequestId } = await exampleOrderFile();
      await stack.withWorker(async () => {
        await cli('order', '--file', file);
        await eventually(
          async () => ((await stack.client.getOrder(issuerRequestId)).status === 'IN_PRODUCTION' ? true : undefined),
          { timeoutMs: 20_000, what: 'IN_PRODUCTION' },
        );
        await stack.client.temporal.workflow
          .getHandle(cardOrderWorkflowId('ISSUER0001', issuerRequestId))
          .terminate('test: an operator ends the order');
      });
      // No worker runs now: the watch reads the closed order all the same.
      const watched = await cli('watch', issuerRequestId);
      assert.equal(watched.code, 1);
      assert.match(watched.out.at(-1) ?? '', /status=IN_PRODUCTION .*execution=TERMINATED$/);
    },
  );

  it('exits 3 with ORDER_CONFLICT for another order under a used issuerRequestId, and 1 with ORDER_NOT_FOUND', () =>
    stack.withWorker(async () => {
      const { file, issuerRequestId } = await exampleOrderFile();
      assert.equal((await cli('order', '--file', file)).code, 0);
      const order = JSON.parse(await readFile(file, 'utf8')) as { shipment: { deliveryAddress: object } };
      const changed = path.join(path.dirname(file), `${issuerRequestId}-changed.json`);
      const moved = { ...order.shipment.deliveryAddress, line1: '9 Other Street' };
      await writeFile(changed, JSON.stringify({ ...order, shipment: { ...order.shipment, deliveryAddress: moved } }));
      const conflict = await cli('order', '--file', changed, '--json');
      assert.equal(conflict.code, 3, conflict.err.join('\n'));
      assert.deepEqual(conflict.out, []);
      const body = JSON.parse(conflict.err[0] ?? '{}') as { code: string; fields: string[] };
      assert.deepEqual([body.code, body.fields], ['ORDER_CONFLICT', ['shipment']]);
      assert.doesNotMatch(conflict.err.join(''), /Other Street/);
      const human = await cli('order', '--file', changed);
      assert.match(human.err[0] ?? '', /^ORDER_CONFLICT: .*differing: shipment/);

      const missing = await cli('status', `${issuerRequestId}-none`);
      assert.equal(missing.code, 1);
      assert.deepEqual(missing.err, [`ORDER_NOT_FOUND: No order ${issuerRequestId}-none for issuer ISSUER0001`]);
    }));

  it('reports usage errors as ERR_USAGE with exit code 2, naming the argument', async () => {
    const cases: [string[], string][] = [
      [['nonsense'], '<command>'],
      [[], '<command>'],
      [['status'], '<issuerRequestId>'],
      [['cancel'], '<issuerRequestId>'],
      [['order'], '--file'],
      [['list', '--limit', '0'], '--limit'],
      [['list', '--limit', '1.5'], '--limit'],
      [['list', '--status', 'LOST'], '--status'],
      [['list', '--status', "SHIPPED' OR IssuerId != '"], '--status'],
      [['list', '--issuer', "X' OR IssuerId != '"], '--issuer'],
      [['list', '--no-such-option'], '(arguments)'],
      [['replay'], '<dir>'],
      [['replay', path.join(projectRoot, 'no-such-folder')], '<dir>'],
    ];
    for (const [argv, argument] of cases) {
      const { code, out, err } = await cli(...argv, '--json');
      assert.equal(code, 2, argv.join(' '));
      assert.deepEqual(out, []);
      const body = JSON.parse(err[0] ?? '{}') as { code: string; argument: string };
      assert.deepEqual([body.code, body.argument], ['ERR_USAGE', argument], argv.join(' '));
    }
    const human = await cli('list', '--status', 'LOST');
    assert.match(
      human.err[0] ?? '',
      /^ERR_USAGE: --status: must be one of VALIDATING, SUBMITTING, .*COMPENSATION_FAILED/,
    );
    assert.match(human.err[0] ?? '', /Usage: card-orders/);
  });

  it('exits 2 with every field error for an invalid order, and never echoes card data', async () => {
    const file = path.join(process.env.TEST_TMPDIR ?? tmpdir(), `${uniqueName('bad')}.json`);
    const order = JSON.parse(
      await readFile(path.join(projectRoot, 'examples/order-individual.json'), 'utf8'),
    ) as Record<string, unknown>;
    await writeFile(
      file,
      JSON.stringify({
        ...order,
        issuerId: 'SHORT',
        cardProductId: 'UNKNOWN_PRODUCT',
        sensitiveData: { pan: '4111111111111112', exp: '2906', name: 'JANE DOE' },
      }),
    );
    const { code, err } = await cli('order', '--file', file, '--json');
    assert.equal(code, 2);
    const body = JSON.parse(err[0] ?? '{}') as { code: string; issues: { field: string }[] };
    assert.equal(body.code, 'ERR_ORDER_INVALID');
    assert.deepEqual(body.issues.map((issue) => issue.field).sort(), ['issuerId', 'sensitiveData.pan']);
    assert.ok(!err.join('').includes('4111111111111112'));
    const missing = await cli(
      'order',
      '--file',
      path.join(projectRoot, 'examples/order-individual.json').replace('individual', 'missing'),
    );
    assert.equal(missing.code, 2);
  });

  it('runs as the card-orders executable', async () => {
    const { stdout } = await run(process.execPath, [path.join(projectRoot, 'bin/card-orders.js'), '--help']);
    assert.match(stdout, /Usage: card-orders <command>/);
    await assert.rejects(run(process.execPath, [path.join(projectRoot, 'bin/card-orders.js'), 'nonsense']), {
      code: 2,
    });
  });
});
