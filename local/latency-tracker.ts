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
  /** When each sample's version was written (performance.now()), parallel to `samples`. */
  private readonly writtenAt: number[] = [];

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
        this.writtenAt.push(at);
        this.written.delete(k);
      }
    }
  }

  /**
   * Where the tail sits in time: of the samples above the `pct` percentile, how many were
   * written in each second since `since` (clustered seconds point at a stall, spread ones at
   * the steady cost).
   */
  tailBySecond(pct: number, since: number): Map<number, number> {
    const sorted = [...this.samples].sort((a, b) => a - b);
    const cut = percentile(sorted, pct);
    const out = new Map<number, number>();
    this.samples.forEach((ms, i) => {
      if (ms <= cut) return;
      const second = Math.floor(((this.writtenAt[i] as number) - since) / 1000);
      out.set(second, (out.get(second) ?? 0) + 1);
    });
    return new Map([...out].sort(([a], [b]) => a - b));
  }

  /**
   * Percentiles of the versions written within [from, to) (performance.now(); default: all):
   * a warm-up can be reported apart from the steady state.
   */
  percentiles(
    from = Number.NEGATIVE_INFINITY,
    to = Number.POSITIVE_INFINITY,
  ): {
    p50: number;
    p95: number;
    p99: number;
    max: number;
    samples: number;
  } {
    const sorted = this.samples
      .filter((_, i) => (this.writtenAt[i] as number) >= from && (this.writtenAt[i] as number) < to)
      .sort((a, b) => a - b);
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
