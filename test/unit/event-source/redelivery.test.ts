// The at-least-once dice of the local mappings: seeded, bounded, off at 0.
import { describe, expect, it } from 'vitest';
import { redeliveryDice } from '../../../local/event-source/redelivery.ts';
import { prng } from '../../../lib/core/prng.ts';
import { redeliveryRate } from '../../../scripts/commands/run.ts';

describe('redelivery dice', () => {
  it('repeats with its seed and follows its rate', () => {
    const roll = (seed: number) => {
      const dice = redeliveryDice({ rate: 0.1, seed })!;
      return Array.from({ length: 10_000 }, () => dice());
    };
    expect(roll(3)).toEqual(roll(3));
    expect(roll(3)).not.toEqual(roll(4));
    const hits = roll(3).filter(Boolean).length;
    expect(hits).toBeGreaterThan(800);
    expect(hits).toBeLessThan(1_200);
    expect(prng(1)()).toBeLessThan(1);
  });

  it('is off at rate 0 and always on at 1', () => {
    expect(redeliveryDice({ rate: 0 })).toBeUndefined();
    expect(redeliveryDice(undefined)).toBeUndefined();
    const always = redeliveryDice({ rate: 1 })!;
    expect([always(), always(), always()]).toEqual([true, true, true]);
  });

  it('refuses a rate outside 0..1 or a fractional seed, naming the value', () => {
    expect(() => redeliveryDice({ rate: 1.5 })).toThrow('between 0 and 1, got 1.5');
    expect(() => redeliveryDice({ rate: 0.1, seed: 1.5 })).toThrow('integer, got 1.5');
    expect(() => redeliveryRate('abc')).toThrow(
      '--redelivery must be a number between 0 and 1, got "abc"',
    );
    expect(redeliveryRate('0.05')).toBe(0.05);
  });
});
