/**
 * zod validation issues, said without the values that caused them: what our HTTP servers answer, and what our
 * typed errors name.
 *
 * @module
 */
import type { z } from 'zod';

/** Turns zod issues into `field: reason` pairs, never including the offending values. */
export function describeIssues(error: z.ZodError): { field: string; reason: string }[] {
  return error.issues.flatMap((issue) => {
    const parent = issue.path.map(String);
    // An unknown key is named itself, not its parent object.
    const fields = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...parent, key]) : [parent];
    return fields.map((path) => ({
      field: path.join('.') || '(body)',
      reason: issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message,
    }));
  });
}
