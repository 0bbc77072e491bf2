/**
 * One physical card order, from submit to the cardholder's door: the thin Temporal shell around the order's state
 * machine (`rules/card-order/`). It feeds the machine D1's notifications (signal), cancel and Pull & change requests
 * (updates, workflow cancel: `order-messages.ts`) and the outcomes of its activities (`perform-step.ts`), and carries
 * out the one step the machine decides, on one timer (`../wake-timer.ts`). What the shell itself decides (the timer,
 * continue-as-new, what to write, a step's effects, the run's result) is pure, in `rules/card-order/shell-rules.ts`,
 * shared with the test driver.
 *
 * Why it is shaped this way:
 * - Handlers only change the machine's state and wake the loop; every command (activity, timer, upsert) comes from
 *   the main loop, after all of an activation's jobs were applied. So the order of commands never depends on the
 *   order in which one activation's jobs run, on first execution or on replay.
 * - One timer, re-armed only when the wake-up time changes, and not for a burst of notifications (see
 *   `shouldRearm`).
 * - Search attributes are upserted only when they change; issuer events go out in one local activity per task.
 * - Continue-as-new carries the machine's whole state, and happens only while no handler runs and no cancel is under
 *   way, so no handler waits on a loop that waits on it.
 *
 * @module
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  metricMeter,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { decide } from '../../rules/card-order/decide.js';
import {
  mayContinueAsNew,
  runOutcome,
  runState,
  takeSearchAttributeChanges,
  timerToArm,
} from '../../rules/card-order/shell-rules.js';
import type { OrderMachineState } from '../../rules/card-order/order-machine.js';
import { describeOrder } from '../../rules/card-order/views.js';
import { cardOrderFailureTypes, type CardOrderInput, type CardOrderResult } from '../../rules/contracts/card-order.js';
import { cardOrderStatusKey, productionStageKey } from '../../rules/contracts/search-attributes.js';
import { workflowClock } from '../workflow-clock.js';
import { campaignReport } from './campaign-report.js';
import { issuerEventDelivery } from './issuer-event-delivery.js';
import { mustSucceedActivities } from './order-activities.js';
import { handleOrderMessages } from './order-messages.js';
import { performStep } from './perform-step.js';
import { settleOrderBehaviour } from './settle-behaviour.js';
import { wakeTimer } from '../wake-timer.js';

/** The patch behind listening after shipment (delivery window, returns, re-ships). */
const DELIVERY_WINDOW = 'delivery-window';

/** Orders that found D1 unreachable, by the call they could not get through (once per outage of each order). */
function countD1Outage(step: string): void {
  metricMeter
    .createCounter(
      'card_order_d1_unreachable',
      'outages',
      'Card orders that found D1 unanswered past its retry timeout',
    )
    .add(1, { step });
}

export async function cardOrderV2(input: CardOrderInput<OrderMachineState>): Promise<CardOrderResult> {
  const { order } = input;
  if (!order?.issuerId || !order.cardId || !order.issuerRequestId || !input.timings) {
    throw ApplicationFailure.nonRetryable('The order input is incomplete', cardOrderFailureTypes.invalid);
  }
  // Every decision reads this clock: never earlier than a timer the order saw fire (see workflow-clock.ts).
  const clock = workflowClock();
  const s = runState(input, workflowInfo().workflowId, clock.now(), {
    behaviour: settleOrderBehaviour,
    listensAfterShipment: () => patched(DELIVERY_WINDOW),
  });
  const calls = mustSucceedActivities(s.timings.d1RetryTimeoutMs);

  /** Set by handlers, the timer and ended deliveries; the loop sleeps until it is. */
  let wake = false;
  const wakeUp = () => {
    wake = true;
  };
  const messages = handleOrderMessages(s, clock, wakeUp);
  const issuerEvents = issuerEventDelivery(s, clock, wakeUp);
  const timer = wakeTimer(clock, wakeUp);
  const campaign = campaignReport(s, wakeUp);

  /** Writes what changed since the last task: search attributes, current details, issuer events. */
  function reflect(): void {
    const changes = takeSearchAttributeChanges(s);
    if (changes.length > 0) {
      upsertSearchAttributes(
        changes.map(({ attribute, value }) => ({
          key: attribute === 'status' ? cardOrderStatusKey : productionStageKey,
          value,
        })),
      );
      setCurrentDetails(describeOrder(s));
    }
    issuerEvents.send();
  }

  async function finish(): Promise<CardOrderResult> {
    await campaign.underWay();
    await issuerEvents.close();
    await condition(allHandlersFinished);
    const outcome = runOutcome(s);
    if (outcome.result) {
      const workflowCancel = messages.workflowCancel();
      if (outcome.result.status === 'CANCELLED' && s.cancel.byWorkflow && workflowCancel) throw workflowCancel;
      return outcome.result;
    }
    throw ApplicationFailure.create({ ...outcome.failure, nonRetryable: true, details: [outcome.failure.details] });
  }

  return CancellationScope.nonCancellable(async () => {
    for (;;) {
      wake = false;
      const step = decide(s, clock.now());
      reflect();
      campaign.send();
      if (step.kind === 'finish') return finish();
      if (step.kind !== 'wait') {
        const outageBefore = s.d1Outage;
        await performStep(s, order, clock, calls, step);
        if (s.d1Outage && !outageBefore) {
          log.warn('D1 does not answer; the order waits and tries again', { ...s.d1Outage, step: step.kind });
          countD1Outage(step.kind);
        }
        continue;
      }
      const quiet = mayContinueAsNew(s, {
        handlersFinished: allHandlersFinished(),
        eventsInFlight: issuerEvents.inFlight(),
        reportingToCampaign: campaign.underWay() !== undefined,
      });
      if (workflowInfo().continueAsNewSuggested && quiet) {
        return continueAsNew<typeof cardOrderV2>({ ...input, carried: s });
      }
      const at = timerToArm(s, step.until, timer.current(), clock.now());
      if (at !== undefined) timer.arm(at);
      await condition(() => wake);
    }
  });
}
