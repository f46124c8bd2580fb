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

  it('is undefined for what is not an ISO timestamp', () => {
    expect(versionMillis(undefined)).toBeUndefined();
    expect(versionMillis('x')).toBeUndefined();
    expect(versionMillis('1735689600')).toBeUndefined();
    expect(versionMillis('2025-13-45T99:00:00Z')).toBeUndefined();
  });
});
