/**
 * The failure converter of every process, workflow sandbox included: failure messages and stack traces go into
 * an encoded attribute, so the payload codec encrypts them like any payload.
 *
 * @module
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
