import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  estimateFraction,
  MovingRate,
  ScanProgress,
  type SegmentCounts,
} from '../../../lib/core/scan-progress.ts';

const seg = (scanned: number, done = false): SegmentCounts => ({
  scanned,
  enqueued: 0,
  skipped: 0,
  done,
});

function fakeClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('estimateFraction', () => {
  it('is unknown before any segment finished, unless the caller gives a (labelled) estimate', () => {
    expect(estimateFraction([seg(500), seg(700)], 4)).toEqual({
      fraction: undefined,
      segmentSize: undefined,
      basis: 'unknown',
    });
    expect(estimateFraction([seg(500)], 4, { items: 4_000, label: 'ItemCount' })).toEqual({
      fraction: 0.125,
      segmentSize: 1_000,
      basis: 'caller-estimate',
    });
  });

  it('uses the mean finished segment as the expected size, not the table ItemCount', () => {
    const f = estimateFraction(
      new Map([
        [0, seg(1_000, true)],
        [1, seg(1_200, true)],
        [2, seg(550)],
      ]),
      4,
      { items: 1_000_000, label: 'ItemCount' },
    );
    expect(f.basis).toBe('finished-segments');
    expect(f.segmentSize).toBe(1_100);
    expect(f.fraction).toBeCloseTo((2 + 0.5) / 4);
  });

  it('never counts an unfinished segment as whole', () => {
    const f = estimateFraction([seg(100, true), seg(5_000)], 2);
    expect(f.fraction).toBeCloseTo((1 + 0.99) / 2);
    expect(estimateFraction([seg(10, true), seg(0, true)], 2).fraction).toBe(1);
  });

  it('property: the fraction is in [0, 1] and grows as segments scan and finish', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(10_000), fc.boolean()), { minLength: 1, maxLength: 16 }),
        fc.nat(5_000),
        (spec, more) => {
          const total = spec.length;
          const before = spec.map(([n, d]) => seg(n, d));
          const f1 = estimateFraction(before, total);
          if (f1.fraction === undefined) return;
          expect(f1.fraction).toBeGreaterThanOrEqual(0);
          expect(f1.fraction).toBeLessThanOrEqual(1);
          // more scanned in an unfinished segment: fraction does not drop
          const i = before.findIndex((s) => !s.done);
          if (i === -1) {
            expect(f1.fraction).toBe(1);
            return;
          }
          const after = before.map((s, j) => (j === i ? seg(s.scanned + more) : s));
          const f2 = estimateFraction(after, total);
          expect(f2.fraction!).toBeGreaterThanOrEqual(f1.fraction - 1e-12);
        },
      ),
    );
  });

  it('rejects a bad segment total', () => {
    expect(() => estimateFraction([], 0)).toThrow('totalSegments must be an integer >= 1, got 0');
  });
});

describe('MovingRate', () => {
  it('averages over the window, not since the start', () => {
    const c = fakeClock(1_000);
    const r = new MovingRate(10_000, c.now);
    expect(r.perSecond()).toBe(0);
    r.add(1_000); // burst at the start
    c.advance(5_000);
    expect(r.perSecond()).toBe(200);
    for (let i = 0; i < 20; i++) {
      c.advance(1_000);
      r.add(10);
    }
    // the first 1,000 left the window: 10 per second remain
    expect(r.perSecond()).toBe(10);
    c.advance(60_000);
    expect(r.perSecond()).toBe(0);
  });
});

describe('ScanProgress', () => {
  it('reports counts, rate and an honest ETA', () => {
    const c = fakeClock();
    const p = new ScanProgress(4, { windowMs: 10_000, now: c.now });
    p.restore(3, { scanned: 400, enqueued: 300, skipped: 100, done: false });
    c.advance(1_000);
    p.record(0, { scanned: 500, enqueued: 450, skipped: 50 });
    c.advance(1_000);
    p.record(1, { scanned: 500, enqueued: 500 });
    let r = p.report();
    expect(r).toMatchObject({
      scanned: 1_400,
      enqueued: 1_250,
      skipped: 150,
      segmentsDone: 0,
      fraction: undefined,
      etaMs: undefined,
      etaText: 'ETA unknown (no segment finished yet)',
    });
    expect(r.ratePerSecond).toBe(500); // restored counts are not part of the rate
    p.finish(0);
    r = p.report();
    // size 500: segments 0 done, 1 at 0.99 (capped), 3 at 0.8, 2 not started
    expect(r.fraction).toBeCloseTo((1 + 0.99 + 0.8) / 4);
    expect(r.etaMs).toBeCloseTo(((2_000 * (1 - r.fraction!)) / 500) * 1_000);
    expect(r.etaText).toMatch(/^ETA \d.* \(from 1 of 4 finished segments\)$/);
    for (const s of [1, 2, 3]) p.finish(s);
    expect(p.report().etaText).toBe('done');
  });

  it('labels a caller estimate as such', () => {
    const c = fakeClock();
    const p = new ScanProgress(2, {
      now: c.now,
      estimate: { items: 2_000_000, label: 'ItemCount' },
    });
    c.advance(1_000);
    p.record(0, { scanned: 1_000 });
    expect(p.report().etaText).toMatch(
      /^ETA ~.* \(caller estimate: 2,000,000 items from ItemCount\)$/,
    );
  });

  it('rejects a segment outside the scan', () => {
    expect(() => new ScanProgress(4).record(4, { scanned: 1 })).toThrow(
      'segment 4 is outside 0..3',
    );
  });
});
