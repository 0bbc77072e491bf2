/**
 * What a command of the command line is handed, and what it returns: the process exit code.
 *
 * @module
 */
import type { Config } from '../../config/config.js';
import type { CardOrdersClient } from '../card-orders-client.js';
import type { CliValues } from './args.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  /** How often `watch` re-reads the order (and `campaign watch` the campaign), in ms. */
  watchIntervalMs?: number;
  /** Whether `out` is a terminal, where `campaign watch` redraws its line in place (default: stdout's). */
  isTTY?: boolean;
}

export interface CommandContext {
  io: CliIo;
  /** The command's name, as typed (`accelerate`, `campaign`...). */
  command: string;
  /** The positional arguments after the command's name: an id, or an action and its id. */
  args: readonly string[];
  values: CliValues;
  config: Config;
  /** `--issuer`, checked, else the configured D1_ISSUER_ID. */
  issuerId: string;
  /** The client, connected on first use only: a command refused for its arguments never connects. */
  connect: () => Promise<CardOrdersClient>;
  /** Prints a result: the human line, or with `--json` the machine form. */
  print: (human: string, machine: unknown) => void;
}

/** A command: runs with its context, returns the process exit code; it throws what the CLI reports. */
export type Command = (ctx: CommandContext) => Promise<number>;
