import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentile } from '../../../lib/core/stats.ts';

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
