/**
 * Settles the run's behaviour version with `patched()`, once, in the run's first activation (workflow code only).
 *
 * @module
 */
import { patched } from '@temporalio/workflow';
import { settleBehaviour } from '../../rules/card-order/behaviour.js';

/**
 * The version whose markers this run has (see `settleBehaviour`). A first execution records the newest marker alone
 * and gets the latest; a replay of a run from an older deploy finds only the markers that deploy wrote, and decides
 * as it did. A run that continues as new settles again: the run boundary is where an open order moves to newer rules.
 */
export function settleOrderBehaviour(): number {
  return settleBehaviour(patched);
}
