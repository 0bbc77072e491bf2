#!/usr/bin/env node
// The card-orders CLI; the TypeScript sources run through tsx, as every entry point of this project does.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../client/cli.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
});
