import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutcomeCounter, formatDuration, percentile } from '../../../lib/core/stats.ts';
import type { WriteOutcome } from '../../../lib/core/types.ts';

describe('OutcomeCounter', () => {
  it('counts, totals, merges and serialises with the initial names present', () => {
    const a = new OutcomeCounter<WriteOutcome>(['migrated', 'conflict']);
    a.add('migrated').add('migrated', 4).add('failed');
    const b = new OutcomeCounter<WriteOutcome>().add('conflict', 2).add('migrated');
    a.merge(b).merge({ unchanged: 3 });
    expect(a.toJSON()).toEqual({ migrated: 6, conflict: 2, failed: 1, unchanged: 3 });
    expect(a.total).toBe(12);
    expect(a.get('missing')).toBe(0);
    expect(JSON.parse(JSON.stringify(new OutcomeCounter(['migrated'])))).toEqual({ migrated: 0 });
  });

  it('property: merging equals adding everything to one counter', () => {
    const events = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(5)));
    fc.assert(
      fc.property(events, events, (xs, ys) => {
        const one = new OutcomeCounter();
        for (const [k, n] of [...xs, ...ys]) one.add(k, n);
        const left = new OutcomeCounter();
        const right = new OutcomeCounter();
        for (const [k, n] of xs) left.add(k, n);
        for (const [k, n] of ys) right.add(k, n);
        expect(left.merge(right).toJSON()).toEqual(one.toJSON());
      }),
    );
  });
});

describe('percentile', () => {
  it('uses nearest rank on unsorted input without mutating it', () => {
    const values = [50, 10, 40, 20, 30];
    expect(percentile(values, 0)).toBe(10);
    expect(percentile(values, 50)).toBe(30);
    expect(percentile(values, 90)).toBe(50);
    expect(percentile(values, 100)).toBe(50);
    expect(values).toEqual([50, 10, 40, 20, 30]);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('property: a member of the input, monotone in p', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (values, p, q) => {
          expect(values).toContain(percentile(values, p));
          const [lo, hi] = p <= q ? [p, q] : [q, p];
          expect(percentile(values, lo)).toBeLessThanOrEqual(percentile(values, hi));
        },
      ),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [999.9, '999ms'],
    [1000, '1.0s'],
    [12_345, '12.3s'],
    [59_999, '59.9s'],
    [60_000, '1m 00s'],
    [245_000, '4m 05s'],
    [3_600_000, '1h 00m'],
    [7_380_000, '2h 03m'],
    [-1500, '-1.5s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
