/**
 * The run's report: one JSON object (written to the run folder and printed) and a readable table, and the verdict.
 * The run fails when any of lost, wrong end, duplicates, unanswered, wrong answers, nondeterminism, replay failures,
 * undecodable histories, card data or unexpected exits is not zero.
 *
 * @module
 */
import type { Unanswered, WrongAnswer } from './drive.js';
import type { FaultKind, InjectedFault } from './faults.js';
import type { CardDataFinding, DuplicateOrder, OrderEnd } from './inspect.js';
import type { UnexpectedExit } from './processes.js';

export interface ChaosReport {
  seed: number;
  options: {
    orders: number;
    durationS: number;
    deadlineS: number;
    workers: number;
    stack: boolean;
    upgradeFrom?: string;
  };
  runDir: string;
  /** Seconds from the first order to the last check. */
  elapsedS: number;
  /** Orders by kind: how many, and where they ended. */
  orders: Record<string, { expected: string; count: number; ended: Record<string, number> }>;
  lost: OrderEnd[];
  wrongEnd: OrderEnd[];
  duplicates: DuplicateOrder[];
  resubmits: number;
  /** Requests (cancel, change, re-ship) asked again, by the reason of the refusal before. */
  askedAgain: Record<string, number>;
  unanswered: Unanswered[];
  wrongAnswers: WrongAnswer[];
  workflowTaskFailures: Record<string, number>;
  nondeterminism: string[];
  /** Tasks a worker still on the older code refused (`--upgrade-from`): expected in a roll, not a failure. */
  olderCodeRefusals: string[];
  replay: { replayed: number; failed: string[]; error?: string };
  undecodable: string[];
  cardData: CardDataFinding[];
  unexpectedExits: UnexpectedExit[];
  d1Calls: { orderRequests: number; batchRequests: number; batchCards: number };
  faults: Record<FaultKind, number>;
  injected: InjectedFault[];
  verdict: 'PASS' | 'FAIL';
  /** The checks that failed, by name. */
  failing: string[];
}

export type ChaosFindings = Omit<ChaosReport, 'verdict' | 'failing'>;

/** The findings with their verdict. */
export function judge(findings: ChaosFindings): ChaosReport {
  const checks: Record<string, number> = {
    lost: findings.lost.length,
    'wrong end': findings.wrongEnd.length,
    duplicates: findings.duplicates.length,
    unanswered: findings.unanswered.length,
    'wrong answers': findings.wrongAnswers.length,
    nondeterminism: findings.nondeterminism.length,
    'replay failures': findings.replay.failed.length + (findings.replay.error ? 1 : 0),
    undecodable: findings.undecodable.length,
    'card data': findings.cardData.length,
    'unexpected exits': findings.unexpectedExits.length,
  };
  const failing = Object.entries(checks)
    .filter(([, count]) => count > 0)
    .map(([name]) => name);
  return { ...findings, verdict: failing.length === 0 ? 'PASS' : 'FAIL', failing };
}

/** The report as a table a person reads. */
export function formatReport(report: ChaosReport): string {
  const lines = [
    `chaos run, seed ${report.seed}: ${report.verdict}${report.failing.length ? ` (${report.failing.join(', ')})` : ''}`,
    `${report.options.orders} orders, faults for ${report.options.durationS} s, ${report.elapsedS} s in all; run folder ${report.runDir}`,
    '',
    `${'order kind'.padEnd(26)} ${'count'.padStart(5)}  ${'must end'.padEnd(12)} ended`,
  ];
  for (const [kind, row] of Object.entries(report.orders)) {
    const ended = Object.entries(row.ended)
      .map(([status, count]) => `${status} ${count}`)
      .join(', ');
    lines.push(`${kind.padEnd(26)} ${String(row.count).padStart(5)}  ${row.expected.padEnd(12)} ${ended}`);
  }
  const taskFailures = Object.entries(report.workflowTaskFailures)
    .map(([cause, count]) => `${cause} ${count}`)
    .join(', ');
  lines.push(
    '',
    `lost ${report.lost.length}, wrong end ${report.wrongEnd.length}, duplicate D1 orders ${report.duplicates.length}, ` +
      `re-submits ${report.resubmits}, requests asked again ${Object.values(report.askedAgain).reduce((a, b) => a + b, 0)}, ` +
      `wrong answers ${report.wrongAnswers.length}, ` +
      `unanswered ${report.unanswered.length}`,
    `workflow task failures: ${taskFailures || 'none'}; nondeterminism ${report.nondeterminism.length}` +
      (report.olderCodeRefusals.length > 0
        ? `; refused by workers on the older code (expected in a roll) ${report.olderCodeRefusals.length}`
        : ''),
    `histories replayed ${report.replay.replayed}, failed ${report.replay.failed.length}${report.replay.error ? ` (${report.replay.error})` : ''}; ` +
      `undecodable ${report.undecodable.length}; card data in clear ${report.cardData.length}; ` +
      `unexpected exits ${report.unexpectedExits.length}`,
    `D1 calls: ${report.d1Calls.orderRequests} single orders, ${report.d1Calls.batchRequests} batches (${report.d1Calls.batchCards} cards)`,
    `faults injected: ${Object.entries(report.faults)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ')}`,
  );
  for (const [name, items] of [
    ['lost', report.lost],
    ['wrong end', report.wrongEnd],
    ['duplicates', report.duplicates],
    ['unanswered', report.unanswered],
    ['wrong answers', report.wrongAnswers],
    ['nondeterminism', report.nondeterminism],
    ['replay failures', report.replay.failed],
    ['undecodable', report.undecodable],
    ['card data', report.cardData],
    ['unexpected exits', report.unexpectedExits],
  ] as const) {
    if (items.length === 0) continue;
    lines.push('', `${name}:`);
    for (const item of items.slice(0, 20)) lines.push(`  ${typeof item === 'string' ? item : JSON.stringify(item)}`);
    if (items.length > 20) lines.push(`  ... ${items.length - 20} more (report.json)`);
  }
  return lines.join('\n');
}
