/**
 * `npm run simulator`: the D1 simulator on the D1_SIM_* settings (defaults: http://127.0.0.1:8090, the demo keys
 * from `npm run keys`, notifications to http://127.0.0.1:8091). Ctrl-C or SIGTERM stops it cleanly.
 *
 * @module
 */
import { isCardOrderError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { loadSimulatorConfig } from './config.js';
import { createSimulator } from './server.js';

const say = (message: string) => process.stderr.write(`${message}\n`);

try {
  const config = loadSimulatorConfig();
  const logger = createLogger({ logLevel: config.logLevel }, 'd1-simulator');
  const simulator = await createSimulator(config, { logger });
  logger.info(
    { url: simulator.url, webhooks: config.webhook.urls, stepDelayMs: config.stepDelayMs },
    'D1 simulator listening',
  );
  const notified = config.webhook.urls.join(' and ') || 'nowhere';
  say(`D1 simulator at ${simulator.url} (notifications to ${notified}). Ctrl-C stops it.`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      say(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    simulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        say(`Stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  // Our own errors (configuration, keys, port) explain themselves; anything else shows its stack.
  say(isCardOrderError(err) ? err.message : String((err as Error).stack ?? err));
  process.exit(1);
}
