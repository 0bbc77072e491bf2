#!/usr/bin/env node
// The card-orders CLI. Where only the production build ships (the image, an installed package), it runs the
// compiled dist/client/cli.js; in a checkout, the TypeScript sources through tsx, so an edit runs at once and a
// build older than the sources never does.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/client/cli.js', import.meta.url);
const source = new URL('../client/cli.ts', import.meta.url);
let cli;
if (existsSync(compiled) && !existsSync(source)) {
  cli = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
}
process.exitCode = await cli.runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
});
