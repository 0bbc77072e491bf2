/**
 * What a benchmark is given and what it hands back.
 *
 * @module
 */
import type { Client, Connection } from '@temporalio/client';
import type { BenchOptions } from './options.js';

/** One line of the table and of `--json`: ours against the baseline measured in the same run. */
export interface BenchEntry {
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  /** ours / baseline */
  ratio: number;
  /** Which way is better, the target and its verdict, and how the figures were made. */
  detail: string;
}

/** A target: on the ratio, or on our own figure (P4's absolute limits). */
export interface Target {
  on: 'ratio' | 'ours';
  op: '<=' | '>=' | '<';
  value: number;
}

export interface BenchContext {
  options: BenchOptions;
  /** The Temporal frontend every benchmark of the run uses. */
  temporalAddress: string;
  namespace: string;
  /** A plain client (default data converter) on the run's connection, for visibility and histories. */
  client: Client;
  /** The run's connection, shared by every client of the bench process. */
  connection: Connection;
  /** A folder of the run's own, removed at the end. */
  workDir: string;
  /** Unique per run: task queues and workflow ids start with it. */
  runId: string;
  /** `npm run build`'s output for this run: the prebuilt card-order bundle (with its manifest beside it). */
  oursBundlePath: string;
  /** The bare same-shape workflows, bundled for the benchmarks only. */
  bareBundlePath: string;
  /** The dev server's pid when the run started one (its CPU time is read from /proc). */
  serverPid: number | undefined;
  /** The server's Prometheus endpoint, for its `action` counter (P6); undefined: actions are not counted. */
  metricsUrl: string | undefined;
}

export interface Benchmark {
  /** e.g. `P1`; `--only` filters on it. */
  id: string;
  title: string;
  /** Opt-in benchmarks (C1): whether the run's options ask for it; absent: always. */
  enabled?(options: BenchOptions): boolean;
  run(context: BenchContext): Promise<BenchEntry[]>;
}

/** Builds an entry, with the direction, the target and its verdict at the head of `detail`. */
export function entry(
  name: string,
  unit: string,
  ours: number,
  baseline: number,
  better: 'higher' | 'lower',
  target: Target | undefined,
  notes: string,
): BenchEntry {
  const ratio = baseline !== 0 && Number.isFinite(baseline) ? ours / baseline : Number.NaN;
  const parts = [`${better} is better`];
  if (target) {
    const value = target.on === 'ratio' ? ratio : ours;
    const ok =
      target.op === '<=' ? value <= target.value : target.op === '>=' ? value >= target.value : value < target.value;
    const subject = target.on === 'ratio' ? 'ratio' : 'ours';
    parts.push(
      `target ${subject} ${target.op} ${target.value}${target.on === 'ratio' ? 'x' : ` ${unit}`}: ${ok ? 'PASS' : 'MISS'}`,
    );
  }
  parts.push(notes);
  return { name, unit, ours, baseline, ratio, detail: parts.join('; ') };
}

/** Whether an entry's detail records a missed target. */
export function missed(e: BenchEntry): boolean {
  return /\bMISS\b/.test(e.detail);
}
