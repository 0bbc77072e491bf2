/**
 * The `card-orders` command line: place, follow, list and cancel card orders, and run bulk campaigns of them, through
 * the client library. This is the entry: it parses the arguments, hands the command to its group's module
 * (`cli/orders.ts`, `cli/campaigns.ts`, `cli/operator.ts`, `cli/replay.ts`) and reports what it threw
 * (`cli/errors.ts`).
 *
 * @module
 */
import { CliUsageError } from '../common/errors.js';
import { loadConfig } from '../config/config.js';
import { idFormatReason } from './id-issues.js';
import { CardOrdersClient } from './card-orders-client.js';
import { parseCliArgs, type CliValues } from './cli/args.js';
import { campaignCommands } from './cli/campaigns.js';
import type { CliIo, Command } from './cli/context.js';
import { reportFailure, usageFailure } from './cli/errors.js';
import { operatorCommands } from './cli/operator.js';
import { orderCommands } from './cli/orders.js';
import { replayCommands } from './cli/replay.js';
import { usage } from './cli/usage.js';

export type { CliIo } from './cli/context.js';
export { usage } from './cli/usage.js';

/** Every command by name. */
const commands: ReadonlyMap<string, Command> = new Map(
  Object.entries({ ...orderCommands, ...operatorCommands, ...campaignCommands, ...replayCommands }),
);

/** Runs one command; returns the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCliArgs(argv);
  } catch (err) {
    return usageFailure(io, err as CliUsageError, argv.includes('--json'));
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help) {
    io.out(usage);
    return 0;
  }
  if (!command) return usageFailure(io, new CliUsageError('<command>', 'is required'), values.json);

  let client: CardOrdersClient | undefined;
  try {
    const run = commands.get(command);
    if (!run) throw new CliUsageError('<command>', `unknown command ${JSON.stringify(command)}`);
    const issuer = issuerIdOf(values);
    const config = loadConfig(io.env);
    return await run({
      io,
      command,
      args,
      values,
      config,
      issuerId: issuer ?? config.d1.issuerId,
      connect: async () => (client = await CardOrdersClient.connect({ config })),
      print: (human, machine) => io.out(values.json ? JSON.stringify(machine) : human),
    });
  } catch (err) {
    return reportFailure(io, err, { command, json: values.json });
  } finally {
    await client?.close();
  }
}

/** `--issuer`, checked before the configuration is read: absent, or in D1's format. */
function issuerIdOf(values: CliValues): string | undefined {
  const bad = values.issuer === undefined ? undefined : idFormatReason('issuer', values.issuer);
  if (bad) throw new CliUsageError('--issuer', bad);
  return values.issuer;
}
