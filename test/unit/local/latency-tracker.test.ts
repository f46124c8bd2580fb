// The bench's latency bookkeeping: a warm-up window is reported apart, the tail is located.
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { LatencyTracker } from '../../../local/latency-tracker.ts';

const item = (n: number) => ({ session_id: `s${n}`, last_update: `2026-01-01T00:00:0${n}Z` });
const batch = (...ns: number[]): DynamoDBStreamEvent =>
  ({
    Records: ns.map((n) => ({ dynamodb: { NewImage: marshall(item(n)) } })),
  }) as unknown as DynamoDBStreamEvent;

describe('LatencyTracker', () => {
  it('splits percentiles by when each version was written, and counts the tail by second', () => {
    const t = new LatencyTracker();
    t.wrote(item(1), 0); // warm-up: seen 2,000 ms later
    t.wrote(item(2), 500);
    t.wrote(item(3), 6_000); // steady: seen 100 ms later
    t.wrote(item(4), 7_000);
    t.observe(batch(1, 2), 2_000);
    t.observe(batch(3), 6_100);
    t.observe(batch(3, 4), 7_100); // a repeated version counts once
    expect(t.percentiles().samples).toBe(4);
    expect(t.percentiles(5_000)).toMatchObject({ samples: 2, max: 100, p99: 100 });
    expect(t.percentiles(0, 5_000)).toMatchObject({ samples: 2, max: 2_000, p50: 1_500 });
    // Above the median: the two warm-up samples, both written in second 0.
    expect([...t.tailBySecond(50, 0)]).toEqual([[0, 2]]);
  });
});
