// The backfill cost estimate: read units from consumed capacity or item size, write units on
// the table and on exactly the GSIs a written attribute touches, priced per million.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PRICES,
  describeCost,
  estimateCost,
  indexesTouched,
  type IndexShape,
} from '../../../lib/core/cost-estimate.ts';

const INDEXES: IndexShape[] = [
  { name: 'by-app', keys: ['chat_app_id', 'chat_app_sk'], projection: 'KEYS_ONLY' },
  { name: 'by-title', keys: ['title'], projection: 'INCLUDE', include: ['user_type'] },
  { name: 'by-date', keys: ['user_id', 'last_update'], projection: 'KEYS_ONLY' },
  { name: 'everything', keys: ['exp'], projection: 'ALL' },
];

describe('cost estimate', () => {
  it('touches a GSI through its key, an INCLUDE projection or ALL, never a KEYS_ONLY index of other keys', () => {
    expect(indexesTouched(INDEXES, ['chat_app_sk']).map((i) => i.name)).toEqual([
      'by-app',
      'everything',
    ]);
    expect(indexesTouched(INDEXES, ['user_type']).map((i) => i.name)).toEqual([
      'by-title',
      'everything',
    ]);
    expect(indexesTouched(INDEXES, ['source']).map((i) => i.name)).toEqual(['everything']);
    expect(indexesTouched(INDEXES.slice(0, 3), ['source'])).toEqual([]);
  });

  it('uses consumed capacity for reads when reported, and prices per million', () => {
    const c = estimateCost({
      scanned: 1_000_000,
      consumedReadUnits: 40_000,
      writes: 2_000_000,
      averageItemBytes: 700,
      written: ['chat_app_sk'],
      indexes: INDEXES.slice(0, 3),
    });
    expect(c.readBasis).toBe('consumed-capacity');
    expect(c.readUnits).toBe(40_000);
    expect(c.tableWriteUnits).toBe(2_000_000);
    expect(c.indexWriteUnits).toBe(2_000_000); // by-app
    expect(c.indexesTouched).toEqual(['by-app']);
    expect(c.usd.read).toBeCloseTo(0.04 * DEFAULT_PRICES.readPerMillion, 6);
    expect(c.usd.write).toBeCloseTo(4 * DEFAULT_PRICES.writePerMillion, 6);
    expect(describeCost(c)).toContain('incl. by-app');
  });

  it('estimates reads from item sizes when no capacity was reported, and rounds writes up per KB', () => {
    const c = estimateCost({
      scanned: 8_192,
      writes: 10,
      averageItemBytes: 2_500,
      written: ['x'],
      indexes: [],
      prices: { readPerMillion: 1, writePerMillion: 2, source: 'test' },
    });
    expect(c.readBasis).toBe('item-size');
    expect(c.readUnits).toBe(Math.ceil((8_192 * 2_500) / 4_096) * 0.5);
    expect(c.writeUnits).toBe(30); // 2,500 bytes = 3 started KB
    expect(c.usd.write).toBeCloseTo(60 / 1e6, 9);
    expect(c.assumptions.join(' ')).toContain('estimated from the item size');
  });

  it('says when it had to assume the item size', () => {
    const c = estimateCost({ scanned: 0, writes: 1, written: [], indexes: [] });
    expect(c.writeUnits).toBe(1);
    expect(c.assumptions[0]).toContain('1 KB assumed');
    expect(() => estimateCost({ scanned: -1, writes: 0, written: [], indexes: [] })).toThrow(
      'scanned must be >= 0, got -1',
    );
  });
});
