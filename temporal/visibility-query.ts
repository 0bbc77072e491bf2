/**
 * Temporal visibility queries are strings; this module is the one place that writes them. Every value goes through
 * {@link visibilityLiteral} (after the caller has checked it against its own format), every field is a built-in
 * column or one of our search attributes, and clauses are joined with `AND` only: what a caller cannot write here,
 * it cannot inject either.
 *
 * @module
 */

/** A column of Temporal's visibility store (built-in), or a search attribute key (its `name` is the column). */
export type VisibilityField =
  'WorkflowType' | 'WorkflowId' | 'TaskQueue' | 'ExecutionStatus' | 'CloseTime' | { readonly name: string };

/** A clause built here; a bare string cannot pass for one. */
export type VisibilityClause = string & { readonly __visibilityClause: true };

/** A string literal of Temporal's visibility query language, quotes and backslashes escaped. */
export function visibilityLiteral(value: string): string {
  return `'${value.replace(/['"\\]/g, (char) => `\\${char}`)}'`;
}

const column = (field: VisibilityField) => (typeof field === 'string' ? field : field.name);
const clause = (text: string) => text as VisibilityClause;

/** `field = 'value'`. */
export function fieldEquals(field: VisibilityField, value: string): VisibilityClause {
  return clause(`${column(field)} = ${visibilityLiteral(value)}`);
}

/** `field != 'value'`. */
export function fieldDiffers(field: VisibilityField, value: string): VisibilityClause {
  return clause(`${column(field)} != ${visibilityLiteral(value)}`);
}

/** `field IN ('a', 'b')`. */
export function fieldIn(field: VisibilityField, values: readonly string[]): VisibilityClause {
  return clause(`${column(field)} IN (${values.map(visibilityLiteral).join(', ')})`);
}

/** `field NOT IN ('a', 'b')`. */
export function fieldNotIn(field: VisibilityField, values: readonly string[]): VisibilityClause {
  return clause(`${column(field)} NOT IN (${values.map(visibilityLiteral).join(', ')})`);
}

/** `field IS NULL` (`CloseTime IS NULL`: still open). */
export function fieldIsNull(field: VisibilityField): VisibilityClause {
  return clause(`${column(field)} IS NULL`);
}

/** Workflows still running. */
export const running = fieldEquals('ExecutionStatus', 'Running');

/** The clauses joined with `AND`; absent ones (`undefined`, `false`) are left out. */
export function allOf(...clauses: readonly (VisibilityClause | undefined | false)[]): VisibilityClause {
  return clause(clauses.filter((c): c is VisibilityClause => typeof c === 'string').join(' AND '));
}
