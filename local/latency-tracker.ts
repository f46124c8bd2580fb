// Write → migrated latency for in-process measurements: the application side notes when it
// wrote each version, the consumer side when the batch carrying that version was done.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { percentile } from '../lib/core/stats.ts';
import type { Item } from '../lib/core/types.ts';

const versionOf = (item: Item): string => `${String(item.session_id)}@${String(item.last_update)}`;

export class LatencyTracker {
  private readonly written = new Map<string, number>();
  readonly samples: number[] = [];

  /** The application wrote `item` at `at` (performance.now()). */
  wrote(item: Item, at: number): void {
    this.written.set(versionOf(item), at);
  }

  /** A batch finished: every application version it carried is now migrated. */
  observe(event: DynamoDBStreamEvent, now = performance.now()): void {
    for (const rec of event.Records) {
      const img = rec.dynamodb?.NewImage;
      if (!img) continue;
      const k = versionOf(unmarshall(img as Record<string, AttributeValue>) as Item);
      const at = this.written.get(k);
      // Only the first record of a version counts: the one of our own write repeats it.
      if (at !== undefined) {
        this.samples.push(now - at);
        this.written.delete(k);
      }
    }
  }

  percentiles(): { p50: number; p95: number; p99: number; max: number; samples: number } {
    const sorted = [...this.samples].sort((a, b) => a - b);
    const r = (x: number): number => Math.round(x * 10) / 10;
    return {
      p50: r(percentile(sorted, 50)),
      p95: r(percentile(sorted, 95)),
      p99: r(percentile(sorted, 99)),
      max: r(sorted.at(-1) ?? Number.NaN),
      samples: sorted.length,
    };
  }
}
