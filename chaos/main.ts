/**
 * `npm run chaos`: the project's promises checked under kills, outages and storms. Starts the system as `npm start`
 * does (on private ports and a private run folder), places a mix of orders whose ends are known in advance, injects
 * seeded faults while they run, waits for every order to reach its end, then checks what happened and reports it:
 * one JSON object on stdout (also `report.json` in the run folder) and a table on stderr. Exit code 1 when any
 * promise broke. See `chaosUsage` for the options.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CardOrdersClient } from '../client/card-orders-client.js';
import { projectRoot } from '../config/config.js';
import { isCardOrderError } from '../common/errors.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import { Driver } from './drive.js';
import { countFaults, injectFaults } from './faults.js';
import {
  checkCodecDecodes,
  exportHistories,
  filesUnder,
  findCardData,
  findDuplicates,
  readOrderEnds,
  replayHistories,
} from './inspect.js';
import { planMix, scenarios } from './mix.js';
import { chaosUsage, parseChaosOptions, type ChaosOptions } from './options.js';
import { SeededRandom } from './random.js';
import { formatReport, judge, type ChaosReport } from './report.js';
import { SimulatorControl } from './simulator-control.js';
import { startChaosSystem, type ChaosSystem } from './system.js';

const run = promisify(execFile);
const say = (message: string) => process.stderr.write(`${message}\n`);

/** A git worktree of `ref` in `dir`, its dependencies installed: the code the workers start from. */
async function checkOutOlderCode(ref: string, dir: string): Promise<void> {
  say(`Checking out ${ref} into ${dir} and installing it (npm ci)`);
  await run('git', ['-C', projectRoot, 'worktree', 'add', '--detach', dir, ref]);
  await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
}

/** Rolls each worker to the current code, one at a time, spread over the middle of the fault phase. */
async function rollWorkers(system: ChaosSystem, options: ChaosOptions, signal: AbortSignal): Promise<string[]> {
  await system.prepareWorkerCode(projectRoot);
  const rolled: string[] = [];
  const step = (options.durationMs * 0.5) / system.workers.length;
  for (const name of system.workers) {
    await delay(step, undefined, { signal }).catch(() => {});
    await system.rollWorker(name, projectRoot);
    say(`  rolled ${name} to the current code`);
    rolled.push(name);
  }
  return rolled;
}

/** Waits until every order's workflow closed, or `deadline` passed. */
async function untilAllClosed(
  client: CardOrdersClient,
  issuerId: string,
  ids: readonly string[],
  deadline: number,
): Promise<void> {
  let open = [...ids];
  while (open.length > 0 && Date.now() < deadline) {
    const still: string[] = [];
    for (const id of open) {
      // A describe, not a query: whether its workflow closed is all this needs.
      const handle = client.temporal.workflow.getHandle(cardOrderWorkflowId(issuerId, id));
      const description = await handle.describe().catch(() => undefined);
      if (!description || description.status.name === 'RUNNING') still.push(id);
    }
    open = still;
    if (open.length > 0) {
      say(`  ${open.length} orders still open`);
      await delay(5_000);
    }
  }
}

async function main(options: ChaosOptions): Promise<number> {
  const runDir = await mkdtemp(path.join(tmpdir(), `d1-chaos-${options.seed}-`));
  say(`Run folder: ${runDir}`);
  say(`Seed: ${options.seed} (npm run chaos -- --seed ${options.seed} repeats this run's choices)`);
  const random = new SeededRandom(options.seed);
  const workerCodeRoot = options.upgradeFrom ? path.join(runDir, 'upgrade-from') : projectRoot;
  if (options.upgradeFrom) await checkOutOlderCode(options.upgradeFrom, workerCodeRoot);
  let system: ChaosSystem | undefined;
  let client: CardOrdersClient | undefined;
  let report: ChaosReport | undefined;
  try {
    say(
      `Starting the system (${options.stack ? 'PostgreSQL, the Temporal server' : 'the Temporal dev server'}, ` +
        `the codec server, the D1 simulator, 2 webhooks, ${options.workers} workers)`,
    );
    system = await startChaosSystem({
      runDir,
      workers: options.workers,
      startedAt: Date.now(),
      seed: options.seed,
      stack: options.stack,
      workerCodeRoot,
    });
    client = await CardOrdersClient.connect({ config: system.config });
    const simulator = new SimulatorControl(system.simulatorUrl);
    const runId = options.seed.toString(36);
    const mix = planMix(random.fork('mix'), {
      total: options.orders,
      runId,
      issuerId: system.config.d1.issuerId,
      placeWindowS: Math.round((options.durationMs * 0.6) / 1000),
    });
    await simulator.setUp(mix.simulatorFaults);

    const startedAt = Date.now();
    say(`Placing ${options.orders} orders while faults run for ${options.durationMs / 1000} s`);
    const faultsEnd = new AbortController();
    const driveEnd = new AbortController();
    // Every order and fault loop waits on these: hundreds of listeners, on purpose.
    setMaxListeners(0, faultsEnd.signal, driveEnd.signal);
    const faultTimer = setTimeout(() => faultsEnd.abort(), options.durationMs);
    const deadline = startedAt + options.durationMs + options.deadlineMs;
    const driveTimer = setTimeout(() => driveEnd.abort(), deadline - Date.now());
    const driver = new Driver(client, simulator, runDir, startedAt, driveEnd.signal);
    const [driven, injected, rolled] = await Promise.all([
      driver.run(mix, system.config.d1.issuerId),
      injectFaults({
        system,
        simulator,
        random: random.fork('faults'),
        startedAt,
        signal: faultsEnd.signal,
        outageMs: 30_000,
        outageAtMs: random.fork('outage').between(options.durationMs * 0.2, options.durationMs * 0.5),
      }),
      options.upgradeFrom ? rollWorkers(system, options, faultsEnd.signal) : Promise.resolve([]),
    ]);
    clearTimeout(faultTimer);
    say(`Faults stopped (${injected.length} injected); waiting for every order to reach its end`);
    await untilAllClosed(
      client,
      system.config.d1.issuerId,
      mix.orders.map((order) => order.issuerRequestId),
      deadline,
    );
    clearTimeout(driveTimer);
    if (options.upgradeFrom && rolled.length < system.workers.length) {
      driver.wrongAnswers.push({ what: 'roll the workers', answer: `only ${rolled.join(', ')} rolled` });
    }

    say('Checking: ends, D1 orders, histories (replay, codec), card data, process exits');
    const ends = await readOrderEnds(client, mix.orders);
    const historiesDir = path.join(runDir, 'histories');
    // A worker's identity is the SDK's default, pid@host: those that ran the older code (`--upgrade-from`).
    const olderCode = new Set(
      system.processes.started
        .filter((started) => options.upgradeFrom && started.cwd === workerCodeRoot && started.pid !== undefined)
        .map((started) => `${String(started.pid)}@${hostname()}`),
    );
    const histories = await exportHistories(client.temporal, historiesDir, olderCode);
    const replay = await replayHistories(historiesDir, system.env);
    const undecodable = await checkCodecDecodes(historiesDir, system.codecUrl, system.config.temporal.namespace);
    // What an operator reads (logs) and what Temporal stores (histories, and the campaign's pages).
    const scanned = [
      ...(await filesUnder(path.join(runDir, 'logs'))),
      ...(await filesUnder(historiesDir)),
      ...(await filesUnder(path.join(runDir, 'campaigns'))),
    ];
    const orders: ChaosReport['orders'] = {};
    for (const scenario of scenarios) {
      const of = ends.filter((end) => end.scenario === scenario);
      const ended: Record<string, number> = {};
      for (const end of of) ended[end.actual] = (ended[end.actual] ?? 0) + 1;
      orders[scenario] = { expected: of[0]?.expected ?? '', count: of.length, ended };
    }
    report = judge({
      seed: options.seed,
      options: {
        orders: options.orders,
        durationS: options.durationMs / 1000,
        deadlineS: options.deadlineMs / 1000,
        workers: options.workers,
        stack: options.stack,
        ...(options.upgradeFrom && { upgradeFrom: options.upgradeFrom }),
      },
      runDir,
      elapsedS: Math.round((Date.now() - startedAt) / 1000),
      orders,
      lost: ends.filter((end) => end.actual === 'OPEN' || end.actual === 'NEVER_PLACED' || end.actual === 'UNREADABLE'),
      wrongEnd: ends.filter((end) => !['OPEN', 'NEVER_PLACED', 'UNREADABLE', end.expected].includes(end.actual)),
      duplicates: findDuplicates(mix.orders, await simulator.orders()),
      resubmits: driven.resubmits,
      askedAgain: driven.askedAgain,
      unanswered: driven.unanswered,
      wrongAnswers: driven.wrongAnswers,
      workflowTaskFailures: histories.workflowTaskFailures,
      nondeterminism: histories.nondeterminism,
      olderCodeRefusals: histories.olderCodeRefusals,
      replay,
      undecodable,
      cardData: await findCardData(scanned, mix.orders),
      unexpectedExits: system.processes.unexpectedExits,
      d1Calls: await simulator.stats(),
      faults: countFaults(injected),
      injected,
    });
    await writeFile(path.join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await client?.close();
    await system?.stop();
    if (options.upgradeFrom) {
      await run('git', ['-C', projectRoot, 'worktree', 'remove', '--force', workerCodeRoot]).catch(() => {});
    }
  }
  // The report: one JSON object on stdout (for tools), the table on the terminal.
  process.stdout.write(`${JSON.stringify(report)}\n`);
  say(`\n${formatReport(report)}`);
  if (report.verdict === 'PASS' && !options.keep) {
    await rm(runDir, { recursive: true, force: true });
  } else {
    say(`Kept the run folder for a post-mortem: ${runDir} (report.json, logs/, histories/)`);
  }
  return report.verdict === 'PASS' ? 0 : 1;
}

let options: ChaosOptions;
try {
  options = parseChaosOptions(process.argv.slice(2));
} catch (err) {
  say(isCardOrderError(err) ? `${err.message}\n\n${chaosUsage}` : String(err));
  process.exit(2);
}
main(options).then(
  (code) => process.exit(code),
  (err: Error) => {
    say(`chaos run failed to run: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
