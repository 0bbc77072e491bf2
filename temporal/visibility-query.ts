/**
 * Temporal visibility queries are strings: every value placed in one goes through {@link visibilityLiteral}, after
 * the caller has checked it against its own format.
 *
 * @module
 */

/** A string literal of Temporal's visibility query language, quotes and backslashes escaped. */
export function visibilityLiteral(value: string): string {
  return `'${value.replace(/['"\\]/g, (char) => `\\${char}`)}'`;
}
