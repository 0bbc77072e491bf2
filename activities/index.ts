/**
 * The activities of the card-order worker, built over injected dependencies so tests can pass their own.
 * Workflows reach them only through `proxyActivities<CardOrderActivities>` (a type import).
 *
 * @module
 */
import type { Config } from '../common/config.js';
import type { Logger } from '../common/logger.js';

export interface ActivityDependencies {
  config: Config;
  logger: Logger;
}

export function createActivities(_deps: ActivityDependencies) {
  return {};
}

export type CardOrderActivities = ReturnType<typeof createActivities>;
