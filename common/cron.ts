/**
 * Five-field cron expressions (`minute hour day-of-month month day-of-week`), checked before they reach a Temporal
 * Schedule: what this accepts, Temporal's schedule spec accepts too, so a bad value stops the process at start with
 * the setting's name instead of failing later at the server.
 *
 * @module
 */

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Three-letter names (case-insensitive), numbered from `min`. */
  names?: readonly string[];
}

const fields: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 0 and 7 are both Sunday.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function valueOf(field: CronField, text: string): number | undefined {
  if (/^\d{1,2}$/.test(text)) {
    const value = Number(text);
    return value >= field.min && value <= field.max ? value : undefined;
  }
  const index = field.names?.indexOf(text.toUpperCase()) ?? -1;
  return index < 0 ? undefined : field.min + index;
}

/** Why one element of a field's list (`*`, `5`, `1-5`, `*\/15`, `10-40/10`, `MON-FRI`) is invalid, or undefined. */
function elementIssue(field: CronField, element: string): string | undefined {
  const [range = '', step, extra] = element.split('/');
  if (extra !== undefined || (step !== undefined && !/^\d{1,2}$/.test(step)) || step === '0' || step === '00') {
    return `${field.name}: "${element}" has an invalid step`;
  }
  if (range === '*') return undefined;
  const [from = '', to, beyond] = range.split('-');
  const start = valueOf(field, from);
  const end = to === undefined ? start : valueOf(field, to);
  if (beyond !== undefined || start === undefined || end === undefined) {
    return `${field.name}: "${element}" is not in ${field.min}-${field.max}${field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : ''}`;
  }
  if (end < start) return `${field.name}: "${element}" ends before it starts`;
  return undefined;
}

/**
 * Why `expression` is not a five-field cron expression, or undefined when it is one: each field a comma list of `*`,
 * values, ranges and steps; months and weekdays also by three-letter name. No `@daily`, `?`, `L` or `CRON_TZ=`.
 */
export function cronExpressionIssue(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== fields.length) {
    return `must have 5 fields (minute hour day-of-month month day-of-week), e.g. "0 2 * * *"; got ${parts.length}`;
  }
  for (const [index, part] of parts.entries()) {
    const field = fields[index] as CronField;
    for (const element of part.split(',')) {
      const issue = element === '' ? `${field.name}: empty list element` : elementIssue(field, element);
      if (issue) return issue;
    }
  }
  return undefined;
}
