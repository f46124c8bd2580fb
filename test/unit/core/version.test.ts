// Versions compare as instants (item 3): ISO timestamps with and without milliseconds, offsets.
import { describe, expect, it } from 'vitest';
import { versionMillis } from '../../../lib/core/version.ts';

describe('versionMillis', () => {
  it('item 3: orders ISO timestamps with and without milliseconds as instants, not strings', () => {
    const whole = '2025-01-01T00:00:00Z';
    const later = '2025-01-01T00:00:00.500Z';
    expect(whole > later).toBe(true); // the string order the old guard used is wrong
    expect(versionMillis(whole)! < versionMillis(later)!).toBe(true);
    expect(versionMillis('2025-01-01T02:00:00+02:00')).toBe(versionMillis(whole));
    expect(versionMillis('2025-01-01T00:00:00')).toBe(versionMillis(whole)); // no zone = UTC
  });

  it('item 5: reads whole epoch seconds below 10^11 and milliseconds from there, as numbers or digit strings', () => {
    const iso = versionMillis('2025-01-01T00:00:00Z');
    expect(versionMillis(1735689600)).toBe(iso);
    expect(versionMillis('1735689600')).toBe(iso);
    expect(versionMillis(1735689600000)).toBe(iso);
    expect(versionMillis(' 1735689600000 ')).toBe(iso);
    expect(versionMillis(99_999_999_999)).toBe(99_999_999_999_000); // seconds: year 5138
    expect(versionMillis(100_000_000_000)).toBe(100_000_000_000); // ms: 1973-03-03
  });

  it('is undefined for what is not a version', () => {
    for (const bad of [
      undefined,
      null,
      true,
      'x',
      '2025-13-45T99:00:00Z',
      1.5,
      -1,
      '-1',
      '1e9',
      '12345678901234567',
      Number.MAX_SAFE_INTEGER + 2,
    ])
      expect(versionMillis(bad), String(bad)).toBeUndefined();
  });
});
