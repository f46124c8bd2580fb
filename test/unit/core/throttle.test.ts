import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classifyThrottlingReason,
  formatWait,
  pauseReason,
  resourceName,
  ThrottleBackoff,
  Throttler,
  TokenBucket,
} from '../../../lib/core/throttle.ts';

const ARN = 'arn:aws:dynamodb:eu-west-1:111122223333:table/chat-session-prod';

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  it('starts with a burst, then refills at the rate', () => {
    const c = fakeClock();
    const b = new TokenBucket(100, { burst: 50, now: c.now });
    expect(b.reserve(50)).toBe(0);
    expect(b.reserve(10)).toBe(100); // 10 tokens at 100/s
    c.advance(100);
    expect(b.available()).toBeCloseTo(0);
    c.advance(10_000);
    expect(b.available()).toBe(50); // saved-up tokens never exceed the burst
  });

  it('lets a page larger than the burst through after its wait', () => {
    const c = fakeClock();
    const b = new TokenBucket(100, { burst: 10, now: c.now });
    expect(b.reserve(500)).toBe(4_900);
  });

  it('property: over any schedule, items acted on by time T ≤ burst + rate·T', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 800 })), {
          maxLength: 40,
        }),
        (rate, burst, steps) => {
          const c = fakeClock(0);
          const b = new TokenBucket(rate, { burst, now: c.now });
          let taken = 0;
          for (const [gap, n] of steps) {
            c.advance(gap);
            const wait = b.reserve(n);
            c.advance(wait); // the caller obeys
            taken += n;
            expect(taken).toBeLessThanOrEqual(burst + (rate * c.now()) / 1_000 + 1);
          }
        },
      ),
    );
  });

  it('rejects a bad rate, naming it', () => {
    expect(() => new TokenBucket(0)).toThrow('rate must be a positive number of items/s, got 0');
    expect(() => new TokenBucket(Number.NaN)).toThrow(/got NaN/);
  });
});

describe('ThrottlingReasons', () => {
  it('only a key-range reason is local to a segment', () => {
    const c = (reason: string) => classifyThrottlingReason({ reason, resource: ARN });
    expect(c('TableReadKeyRangeThroughputExceeded')).toMatchObject({
      scope: 'segment',
      resourceType: 'Table',
      operation: 'Read',
      limit: 'KeyRangeThroughputExceeded',
      text: 'TableReadKeyRangeThroughputExceeded on chat-session-prod',
    });
    expect(c('IndexWriteKeyRangeThroughputExceeded').scope).toBe('segment');
    for (const r of [
      'TableReadProvisionedThroughputExceeded',
      'IndexWriteAccountLimitExceeded',
      'TableWriteMaxOnDemandThroughputExceeded',
      'IndexReadMaxOnDemandThroughputExceeded',
      'SomethingNew',
    ]) {
      expect(c(r).scope).toBe('all');
    }
    expect(classifyThrottlingReason({})).toEqual({
      scope: 'all',
      text: 'throttled (no reason given)',
    });
  });

  it('names tables and indexes from their ARNs', () => {
    expect(resourceName(`${ARN}/index/by-app`)).toBe('chat-session-prod/index/by-app');
    expect(resourceName('not-an-arn')).toBe('not-an-arn');
    expect(resourceName(undefined)).toBeUndefined();
  });
});

describe('ThrottleBackoff', () => {
  it('a hot key range slows only its segment; recovery is step by step', () => {
    const c = fakeClock();
    const b = new ThrottleBackoff({ baseMs: 100, capMs: 10_000, random: () => 1, now: c.now });
    const w = b.onThrottle(3, [
      { reason: 'IndexWriteKeyRangeThroughputExceeded', resource: `${ARN}/index/by-app` },
    ]);
    expect(w).toEqual({
      waitMs: 100,
      reason:
        'segment 3 backing off 100 ms: IndexWriteKeyRangeThroughputExceeded on chat-session-prod/index/by-app',
    });
    expect(b.waitFor(3)?.waitMs).toBe(100);
    expect(b.waitFor(4)).toBeUndefined();
    expect(b.onThrottle(3, [{ reason: 'TableReadKeyRangeThroughputExceeded' }]).waitMs).toBe(200);
    expect(b.onThrottle(3, [{ reason: 'TableReadKeyRangeThroughputExceeded' }]).waitMs).toBe(400);
    expect(b.levels()).toEqual({ all: 0, segments: { 3: 3 } });
    b.onSuccess(3);
    expect(b.levels()).toEqual({ all: 0, segments: { 3: 2 } });
    c.advance(1_000);
    expect(b.waitFor(3)).toBeUndefined();
    expect(b.onThrottle(3, [{ reason: 'TableReadKeyRangeThroughputExceeded' }]).waitMs).toBe(400);
  });

  it('a table, index, account or on-demand-max limit slows every segment', () => {
    const c = fakeClock();
    const b = new ThrottleBackoff({ baseMs: 800, random: () => 1, now: c.now });
    const w = b.onThrottle(1, [
      { reason: 'TableReadKeyRangeThroughputExceeded', resource: ARN },
      { reason: 'TableWriteAccountLimitExceeded', resource: ARN },
    ]);
    expect(w.reason).toBe(
      'all segments backing off 800 ms: TableWriteAccountLimitExceeded on chat-session-prod',
    );
    for (const s of [0, 1, 7]) expect(b.waitFor(s)?.reason).toBe(w.reason);
    c.advance(300);
    expect(b.waitFor(9)?.waitMs).toBe(500);
    // No reasons at all (older endpoints, RequestLimitExceeded): treated as shared.
    expect(b.onThrottle(2, []).reason).toMatch(/^all segments backing off 1\.6 s: throttled/);
  });

  it('property: jittered delays stay within [d/2, d], d = min(cap, base·2^(level-1))', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 30 }),
        (r, n) => {
          const b = new ThrottleBackoff({
            baseMs: 50,
            capMs: 5_000,
            random: () => r,
            now: () => 0,
          });
          let w = 0;
          for (let i = 0; i < n; i++)
            w = b.onThrottle(0, [{ reason: 'TableReadKeyRangeThroughputExceeded' }]).waitMs;
          const d = Math.min(5_000, 50 * 2 ** (n - 1));
          expect(w).toBeGreaterThanOrEqual(Math.floor(d / 2));
          expect(w).toBeLessThanOrEqual(d);
        },
      ),
    );
  });
});

describe('pause conditions', () => {
  const now = 10_000_000;
  const live = { caughtUp: true, heartbeatAtMs: now - 2_000 };

  it('says what it waits on', () => {
    const bounds = { maxQueueBacklog: 10_000, maxStreamLagMs: 30_000, requireConsumer: true };
    expect(pauseReason({ consumer: live, queueBacklog: 12_400 }, bounds, now)).toBe(
      'waiting: work queue backlog 12,400 > 10,000',
    );
    expect(pauseReason({ consumer: live, streamLagMs: 45_000 }, bounds, now)).toBe(
      'waiting: stream lag 45 s > 30 s',
    );
    expect(pauseReason({}, bounds, now)).toBe(
      'waiting: no stream consumer heartbeat yet (is `streamfill run` running?)',
    );
    expect(
      pauseReason({ consumer: { caughtUp: true, heartbeatAtMs: now - 95_000 } }, bounds, now),
    ).toBe('waiting: stream consumer heartbeat stale (last 1 min 35 s ago > 1 min)');
    expect(
      pauseReason({ consumer: { ...live, caughtUp: false, lagMs: 12_000 } }, bounds, now),
    ).toBe('waiting: stream consumer not caught up (lag 12 s)');
    expect(pauseReason({ operatorPaused: true, consumer: live }, bounds, now)).toMatch(
      /^paused by operator/,
    );
    expect(
      pauseReason({ consumer: live, queueBacklog: 10_000, streamLagMs: 30_000 }, bounds, now),
    ).toBeUndefined();
    // --no-wait-for-consumer: no heartbeat needed.
    expect(pauseReason({}, { ...bounds, requireConsumer: false }, now)).toBeUndefined();
  });

  it('formats waits', () => {
    expect(formatWait(800)).toBe('800 ms');
    expect(formatWait(1_600)).toBe('1.6 s');
    expect(formatWait(45_000)).toBe('45 s');
    expect(formatWait(125_000)).toBe('2 min 5 s');
    expect(formatWait(120_000)).toBe('2 min');
  });
});

describe('Throttler', () => {
  it('pause first, then back-off, then go; the rate applies to items read', () => {
    const c = fakeClock();
    const t = new Throttler({
      rate: 100,
      burst: 100,
      maxQueueBacklog: 10,
      requireConsumer: true,
      pollMs: 500,
      now: c.now,
      random: () => 1,
    });
    expect(t.beforePage(0)).toMatchObject({ go: false, kind: 'paused', waitMs: 500 });
    t.observe({ consumer: { caughtUp: true, heartbeatAtMs: c.now() }, queueBacklog: 11 });
    expect(t.beforePage(0)).toMatchObject({
      go: false,
      kind: 'paused',
      reason: 'waiting: work queue backlog 11 > 10',
    });
    t.observe({ queueBacklog: 3 });
    expect(t.beforePage(0)).toEqual({ go: true });
    expect(
      t.onThrottle(0, [{ reason: 'TableReadKeyRangeThroughputExceeded', resource: ARN }]),
    ).toMatchObject({ go: false, kind: 'backoff', waitMs: 100 });
    expect(t.beforePage(0)).toMatchObject({
      kind: 'backoff',
      reason: expect.stringMatching(/^segment 0 backing off/),
    });
    expect(t.beforePage(1)).toEqual({ go: true });
    c.advance(100);
    expect(t.beforePage(0)).toEqual({ go: true });
    expect(t.reserve(100)).toEqual({ go: true });
    expect(t.reserve(50)).toEqual({
      go: false,
      kind: 'rate',
      waitMs: 500,
      reason: 'rate limit 100 items/s: waiting 500 ms',
    });
    expect(new Throttler().reserve(1e9)).toEqual({ go: true });
  });
});

describe('Throttler.setLimits (backfill set)', () => {
  it('replaces the rate (null: unlimited) and the pause bounds of a running throttler', () => {
    const th = new Throttler({ rate: 10, maxQueueBacklog: 100, now: () => 0 });
    expect(th.reserve(10).go).toBe(true);
    expect(th.reserve(10)).toMatchObject({ go: false, waitMs: 1000 });
    th.setLimits({ rate: 1000 });
    expect(th.reserve(500).go).toBe(true);
    th.setLimits({ rate: null, maxQueueBacklog: 5 });
    expect(th.reserve(1_000_000).go).toBe(true);
    expect(th.limits()).toEqual({ rate: null, maxQueueBacklog: 5 });
    th.observe({ queueBacklog: 6 });
    expect(th.beforePage(0)).toMatchObject({ go: false, kind: 'paused' });
  });
});
