/**
 * `npm run replay -- <dir>`: `card-orders replay <dir>`, the same command (see `workers/replay-histories.ts`).
 *
 * @module
 */
import { runCli } from '../client/cli.js';

// npm runs scripts in the project's root; a relative <dir> means the folder npm was called from (INIT_CWD).
if (process.env.INIT_CWD && process.env.INIT_CWD !== process.cwd()) process.chdir(process.env.INIT_CWD);
process.exitCode = await runCli(['replay', ...process.argv.slice(2)], {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
});
