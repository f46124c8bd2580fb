import { describe, expect, it } from 'vitest';
import { searchDocSatisfied } from '../../../lib/core/config/plan-search.ts';
import type { SearchChange } from '../../../lib/core/types.ts';

const change: SearchChange = {
  id: 'o#1',
  doc: { status_kw: 'paid', region_kw: 'eu' },
  remove: ['channel_kw'],
  version: '2026-01-01T00:00:00Z',
};

describe('searchDocSatisfied', () => {
  it('holds when every set field is equal and every removed field is absent', () => {
    expect(searchDocSatisfied({ status_kw: 'paid', region_kw: 'eu', other: 1 }, change)).toBe(true);
  });

  it('is stale when a set field differs or is missing', () => {
    expect(searchDocSatisfied({ status_kw: 'open', region_kw: 'eu' }, change)).toBe(false);
    expect(searchDocSatisfied({ status_kw: 'paid' }, change)).toBe(false);
  });

  it('is stale when a field the item no longer implies is still there', () => {
    expect(
      searchDocSatisfied({ status_kw: 'paid', region_kw: 'eu', channel_kw: 'web' }, change),
    ).toBe(false);
  });

  it('compares exactly: no coercion between a number and its text', () => {
    expect(
      searchDocSatisfied(
        { status_kw: 'paid', region_kw: 'eu' },
        { ...change, doc: { ...change.doc, n: '1' } },
      ),
    ).toBe(false);
    expect(
      searchDocSatisfied(
        { status_kw: 'paid', region_kw: 'eu', n: 1 },
        { ...change, doc: { ...change.doc, n: '1' } },
      ),
    ).toBe(false);
  });

  it('ignores the version field: that is the guard’s concern', () => {
    expect(
      searchDocSatisfied(
        { status_kw: 'paid', region_kw: 'eu', streamfill_keywords_version: 1 },
        change,
      ),
    ).toBe(true);
  });
});
