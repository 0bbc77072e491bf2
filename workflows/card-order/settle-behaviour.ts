/**
 * Settles the run's behaviour version with `patched()`, once, in the run's first activation (workflow code only).
 *
 * @module
 */
import { patched } from '@temporalio/workflow';
import { FIRST_ORDER_BEHAVIOUR, orderBehaviourMarkers } from '../../rules/card-order/behaviour.js';

/**
 * The newest version whose marker this run has. A first execution records every marker and gets the latest; a
 * replay of a run from an older deploy finds only the markers that deploy wrote, and decides as it did. A run that
 * continues as new settles again: the run boundary is where an open order moves to newer rules.
 */
export function settleOrderBehaviour(): number {
  let version = FIRST_ORDER_BEHAVIOUR;
  orderBehaviourMarkers.forEach((marker, index) => {
    if (patched(marker)) version = FIRST_ORDER_BEHAVIOUR + index + 1;
  });
  return version;
}
