// The consumer's continuity (what decides whether the backfill may trust its scan filter) and
// the description of a `backfill set` change: pure.
import { describe, expect, it } from 'vitest';
import {
  continuityBreak,
  continuityOnStart,
  describeLimitChange,
  type ConsumerHeartbeat,
  type RunRecord,
} from '../../../lib/core/backfill-run.ts';

const H = 3_600_000;
const NOW = 1_000 * H;
const hb = (over: Partial<ConsumerHeartbeat> = {}): ConsumerHeartbeat => ({
  component: 'stream-consumer:t',
  lastBatchAtMs: NOW,
  lagMs: 0,
  caughtUp: true,
  updatedAtMs: NOW,
  ...over,
});
const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'r1',
  table: 'session',
  tableName: 't',
  totalSegments: 4,
  startedAtMs: NOW - H,
  updatedAtMs: NOW - H,
  status: 'finished',
  pauseRequested: false,
  owner: 'scanner-a',
  options: {},
  ...over,
});

describe('continuityOnStart', () => {
  it('a first start is continuous from now', () => {
    expect(continuityOnStart(undefined, NOW)).toEqual({ firstSeenMs: NOW, continuousSinceMs: NOW });
  });
  it('a restart within the retention keeps the continuity; after a longer silence it starts anew', () => {
    const prev = hb({
      updatedAtMs: NOW - 23 * H,
      firstSeenMs: NOW - 50 * H,
      continuousSinceMs: NOW - 40 * H,
    });
    expect(continuityOnStart(prev, NOW)).toEqual({
      firstSeenMs: NOW - 50 * H,
      continuousSinceMs: NOW - 40 * H,
    });
    const old = hb({
      updatedAtMs: NOW - 25 * H,
      firstSeenMs: NOW - 50 * H,
      continuousSinceMs: NOW - 40 * H,
    });
    expect(continuityOnStart(old, NOW)).toEqual({
      firstSeenMs: NOW - 50 * H,
      continuousSinceMs: NOW,
    });
  });
});

describe('continuityBreak', () => {
  const since = NOW - 90 * H;
  it('holds once a pass without the filter finished after the consumer began reading', () => {
    const steady = hb({ firstSeenMs: since, continuousSinceMs: since });
    expect(continuityBreak(steady, run({ options: { unfiltered: true } }), NOW)).toBeUndefined();
  });
  it('a heartbeat that keeps no continuity is taken at its word', () => {
    expect(continuityBreak(hb(), undefined, NOW)).toBeUndefined();
  });
  it('the first pass under a consumer runs without the filter (writes before it read are lost)', () => {
    const steady = hb({ firstSeenMs: since, continuousSinceMs: since });
    expect(continuityBreak(steady, undefined, NOW)).toMatch(
      /no full pass without the filter has finished since the stream consumer started reading/,
    );
  });
  it('breaks without a heartbeat, with a heartbeat silent past the retention, or after a recorded break', () => {
    expect(continuityBreak(undefined, undefined, NOW)).toMatch(/^no consumer heartbeat/);
    expect(continuityBreak(hb({ updatedAtMs: NOW - 25 * H }), undefined, NOW)).toMatch(
      /last heartbeat is 25 h old/,
    );
    const broken = hb({ firstSeenMs: since, continuousSinceMs: NOW - 2 * H });
    expect(
      continuityBreak(
        broken,
        run({ options: { unfiltered: true }, startedAtMs: NOW - 3 * H }),
        NOW,
      ),
    ).toMatch(/was stopped for longer than/);
  });
  it('a finished pass without the filter started after the break repairs it; a filtered, unfinished or earlier one does not', () => {
    const broken = hb({ firstSeenMs: since, continuousSinceMs: NOW - 2 * H });
    expect(continuityBreak(broken, run({ options: { unfiltered: true } }), NOW)).toBeUndefined();
    expect(continuityBreak(broken, run({ options: { unfiltered: false } }), NOW)).toBeDefined();
    expect(
      continuityBreak(broken, run({ options: { unfiltered: true }, status: 'running' }), NOW),
    ).toBeDefined();
    expect(
      continuityBreak(
        broken,
        run({ options: { unfiltered: true }, startedAtMs: NOW - 3 * H }),
        NOW,
      ),
    ).toBeDefined();
  });
});

describe('describeLimitChange', () => {
  it('names each changed limit and who changed it', () => {
    expect(
      describeLimitChange(
        { rate: 100, maxBacklog: 2000 },
        { rate: null, maxBacklog: 2000, maxLagSeconds: 30, changedBy: 'ana@ops' },
      ),
    ).toBe('limits changed by ana@ops: rate 100 → unlimited, max-lag-seconds default → 30');
  });
});
