/**
 * History events per workflow, counted from the real histories of a task queue.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;

export interface HistoryCounts {
  workflows: number;
  /** Mean events per workflow. */
  eventsPerWorkflow: number;
  /** Mean events per workflow by short type name (e.g. SIGNALED, TIMER_STARTED). */
  byType: Record<string, number>;
}

const typeName = (type: proto.temporal.api.enums.v1.EventType | null | undefined) =>
  (temporal.api.enums.v1.EventType[type ?? 0] ?? 'UNKNOWN')
    .replace(/^EVENT_TYPE_/, '')
    .replace(/^WORKFLOW_EXECUTION_/, '');

/** Counts the events of every workflow whose run was on `taskQueue` (closed or not). */
export async function countHistories(client: Client, taskQueue: string): Promise<HistoryCounts> {
  let workflows = 0;
  let events = 0;
  const byType: Record<string, number> = {};
  const histories = client.workflow.list({ query: `TaskQueue = '${taskQueue}'` }).intoHistories({ concurrency: 8 });
  for await (const item of histories) {
    const history = item.history as proto.temporal.api.history.v1.IHistory;
    workflows += 1;
    for (const event of history.events ?? []) {
      events += 1;
      const name = typeName(event.eventType);
      byType[name] = (byType[name] ?? 0) + 1;
    }
  }
  for (const key of Object.keys(byType)) byType[key] = (byType[key] ?? 0) / Math.max(workflows, 1);
  return { workflows, eventsPerWorkflow: events / Math.max(workflows, 1), byType };
}

/** `TYPE 3.0, TYPE 1.2, ...`, the largest first. */
export function describeByType(byType: Record<string, number>): string {
  return Object.entries(byType)
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => `${name} ${count.toFixed(1)}`)
    .join(', ');
}
