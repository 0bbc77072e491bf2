/**
 * `npm run bench`: runs every `bench/*.bench.ts` against one Temporal server (a dev server started for the run, or
 * `--temporal-address`) and prints one table: each figure of ours beside its baseline measured in the same run, on
 * the same server, since the machines are shared and noisy; `ratio` = ours / baseline. Speed targets live here,
 * never in tests. `--json FILE` writes the entries; `--quick` runs everything small (a smoke test). Progress goes to
 * stderr, the table to stdout. `--campaign [N]` runs C1, the bulk campaign (only it, unless others are named). See
 * docs/performance.md.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { projectRoot } from '../config/config.js';
import { buildWorkflowBundle } from '../workers/workflow-bundle.js';
import { parseBenchOptions, type BenchOptions } from './lib/options.js';
import { startProductionTemporal } from './lib/production-temporal.js';
import { startBenchTemporal } from './lib/temporal.js';
import { missed, type BenchContext, type BenchEntry, type Benchmark } from './lib/types.js';
import { progress, round } from './lib/util.js';

const run = promisify(execFile);

/** The entries a full run prints, in order; each benchmark adds its own. */
export const entryNames = [
  'P1 orders/s',
  'P1 events/order',
  'P1 p99 s',
  'P2 notifications/s',
  'P3 D1 orders/s',
  'P3 JWE ms/card',
  'P4 worker RSS MB',
  'P4 resume s',
  'P4 delivery window events/order',
  'P5 worker start s',
  'P6 events/order',
  'P6 actions/order',
  'P6 D1 calls/order',
  'P6 D1 calls/order, notifications lost',
  'P6 D1 calls/order, D1 outage',
] as const;

/** The entries `--campaign [N]` adds (C1 runs only when asked: see `bench/c1-campaign.bench.ts`). */
export const campaignEntryNames = [
  'C1 campaign cards/s',
  'C1 D1 calls per 1000 cards',
  'C1 CLI peak RSS MB',
  'C1 worker peak RSS MB',
  'C1 ingestion lines/s',
] as const;

async function loadBenchmarks(options: BenchOptions): Promise<Benchmark[]> {
  const { only } = options;
  const files = (await readdir(import.meta.dirname)).filter((name) => name.endsWith('.bench.ts')).sort();
  const benchmarks: Benchmark[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(import.meta.dirname, file)).href)) as { benchmark: Benchmark };
    const { benchmark } = module;
    if (benchmark.enabled && !benchmark.enabled(options)) continue;
    if (only.length === 0 || only.some((o) => file.includes(o) || benchmark.id.toLowerCase() === o.toLowerCase())) {
      benchmarks.push(benchmark);
    }
  }
  return benchmarks;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** The table: name, unit, ours, baseline, ratio, which way is better, and the target's verdict. */
export function formatTable(entries: readonly BenchEntry[]): string {
  const rows = [
    ['name', 'unit', 'ours', 'baseline', 'ratio', 'better', 'target'],
    ...entries.map((e) => {
      const better = /^(higher|lower) is better/.exec(e.detail)?.[1] ?? '';
      const target = /target ([^;]*)/.exec(e.detail)?.[1] ?? '';
      return [e.name, e.unit, formatNumber(e.ours), formatNumber(e.baseline), formatNumber(e.ratio), better, target];
    }),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column >= 2 && column <= 4 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2));
  const benchmarks = await loadBenchmarks(options);
  if (benchmarks.length === 0) {
    process.stderr.write('No benchmark matches.\n');
    return 1;
  }
  const workDir = await mkdtemp(path.join(tmpdir(), 'd1-card-orders-bench-'));
  const runId = randomBytes(3).toString('hex');
  progress(
    `bench ${runId}${options.quick ? ' (quick)' : ''}: ${benchmarks.map((b) => b.id).join(', ')} on ` +
      `${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GB; work dir ${workDir}` +
      (options.stack ? '; on the production engine (Temporal on PostgreSQL)' : ''),
  );
  const temporal = options.stack
    ? await startProductionTemporal(workDir)
    : await startBenchTemporal(options.temporalAddress, workDir, options.temporalMetrics);
  const entries: BenchEntry[] = [];
  let failed = false;
  try {
    // Our bundle exactly as `npm run build` makes it (with its manifest); the bare one for the baselines.
    const oursBundlePath = path.join(workDir, 'dist', 'workflow-bundle.js');
    const bareBundlePath = path.join(workDir, 'bare-bundle.js');
    await mkdir(path.dirname(oursBundlePath), { recursive: true });
    progress('bundling the workflows (npm run build, and the bare baseline)');
    await Promise.all([
      run(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts/build-workflow-bundle.ts')], {
        cwd: projectRoot,
        env: { ...process.env, WORKFLOW_BUNDLE_PATH: oursBundlePath },
      }),
      buildWorkflowBundle(path.join(import.meta.dirname, 'workflows/bare-order.ts')).then(({ code }) =>
        writeFile(bareBundlePath, code),
      ),
    ]);
    const context: BenchContext = {
      options,
      temporalAddress: temporal.address,
      namespace: options.namespace,
      client: new Client({ connection: temporal.connection, namespace: options.namespace }),
      connection: temporal.connection,
      workDir,
      runId,
      oursBundlePath,
      bareBundlePath,
      serverPid: temporal.server?.pid,
      metricsUrl: temporal.metricsUrl,
    };
    for (const benchmark of benchmarks) {
      progress(`== ${benchmark.id}: ${benchmark.title}`);
      const started = Date.now();
      try {
        const produced = await benchmark.run(context);
        entries.push(...produced);
        for (const e of produced) {
          progress(
            `${e.name}: ours ${formatNumber(e.ours)} ${e.unit}, baseline ${formatNumber(e.baseline)}, ratio ${formatNumber(e.ratio)}`,
          );
        }
      } catch (err) {
        failed = true;
        progress(`${benchmark.id} failed: ${(err as Error).stack ?? String(err)}`);
      }
      progress(`${benchmark.id} took ${Math.round((Date.now() - started) / 1000)} s`);
    }
  } finally {
    await temporal.close();
    await rm(workDir, { recursive: true, force: true });
  }

  const rounded = entries.map((e) => ({
    ...e,
    ours: round(e.ours),
    baseline: round(e.baseline),
    ratio: round(e.ratio),
  }));
  process.stdout.write(`\n${formatTable(rounded)}\n\n`);
  for (const e of rounded) process.stdout.write(`${e.name}: ${e.detail}\n`);
  if (options.json) {
    await writeFile(options.json, `${JSON.stringify(rounded, null, 2)}\n`);
    progress(`wrote ${options.json}`);
  }
  const misses = rounded.filter(missed);
  if (misses.length > 0) progress(`targets missed: ${misses.map((e) => e.name).join(', ')}`);
  if (failed) return 1;
  return options.strict && misses.length > 0 ? 1 : 0;
}

process.exit(await main());
