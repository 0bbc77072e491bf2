/**
 * The `replay` command: every workflow history under a folder replayed offline against this code's workflows.
 *
 * @module
 */
import { CliUsageError } from '../../common/errors.js';
import type { Command } from './context.js';

const replay: Command = async ({ args, config, io, print }) => {
  const [dir] = args;
  if (!dir) throw new CliUsageError('<dir>', 'is required: card-orders replay <dir>');
  // Loaded here only: the replay worker (native runtime, bundle) is no cost of the other commands.
  const replayer = await import('../../workers/replay-histories.js');
  const { loadWorkflowBundle } = await import('../../workers/workflow-bundle.js');
  replayer.installReplayRuntime((line) => io.err(line));
  const summary = await replayer.replayDirectory(dir, {
    codecKeys: config.payloadCodec,
    // The production bundle, as the worker loads it: the prebuilt one when it matches the sources.
    workflowBundle: () => loadWorkflowBundle(config.worker.workflowBundlePath, (note) => io.err(note)),
    onResult: ({ file, failure }) => {
      if (failure) print(replayer.formatFailure(file, failure), { file: file.name, ...failure });
    },
  });
  print(replayer.formatSummary(summary), summary);
  return summary.failed > 0 ? 1 : 0;
};

export const replayCommands: Readonly<Record<string, Command>> = { replay };
