/**
 * `npm run bench`: runs every `bench/*.bench.ts` in turn. Each benchmark prints ratios measured in one run (ours
 * against a baseline), since the machines are shared and noisy; speed targets live here, never in tests.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

const benchDir = import.meta.dirname;
const only = process.argv.slice(2);
const benches = (await readdir(benchDir))
  .filter((name) => name.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => name.includes(o))))
  .sort();
if (benches.length === 0) process.stderr.write('No benchmarks yet.\n');
for (const name of benches) {
  process.stderr.write(`\n== ${name}\n`);
  const { status } = spawnSync(process.execPath, ['--import', 'tsx', path.join(benchDir, name)], { stdio: 'inherit' });
  if (status !== 0) process.exitCode = 1;
}
