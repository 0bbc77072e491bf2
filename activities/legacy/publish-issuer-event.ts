import {
  postIssuerEvent,
  type IssuerEvent,
  type IssuerEventEnvelope,
  type IssuerEventsTarget,
} from '../publish-issuer-event.js';

/**
 * First-generation (`cardOrder`) runs' one-event publisher, until they drain; `cardOrderV2` posts its events in
 * order through `publishIssuerEvents`.
 */
export function createPublishIssuerEvent(target: IssuerEventsTarget | undefined) {
  return function publishIssuerEvent(event: IssuerEvent | IssuerEventEnvelope): Promise<void> {
    return postIssuerEvent(target, event);
  };
}
